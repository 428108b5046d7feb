"""Stage 1 of several models side by side: the shipped one and fine-tuned candidates (issue 13).

Stage 1 sees the whole frame and is what carries over worst to real scans. For each model folder
(the shipped model first, then every ``--model``; a folder without a view's stage-1 network uses the
shipped one) this prints stage 1's median point error, order-free, on the 3T exam (reference points),
on the MVnet sample (distance to the by-eye points at one frame) and on synthetic test subjects of
the default generator (seed 9001), and with ``--busy-subjects`` also on test subjects whose chest is
busy (``busy_probability`` 1). All in one process, so the rows compare.

    .venv/bin/python experiments/stage1_models/stage1_models.py --model runs/X/model [--model ...] [--subjects 12]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # real_scans, real_sample
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stage1_roi"))  # its stage-1 yardsticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, action="append", default=[])
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--busy-subjects", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from stage1_roi import STAGE1_HEADER, load_yardsticks, stage1_cells

    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import stage1_points

    real, reference, sample, subjects = load_yardsticks(args.subjects)
    busy = load_yardsticks(args.busy_subjects, busy=1.0)[3] if args.busy_subjects else []
    header = "| model " + STAGE1_HEADER + (" busy synthetic 2CH | busy synthetic 4CH |" if busy else "")
    print(header)
    print("|---" * header.count(" | ") + "|---|")
    for folder in [None, *args.model]:
        models = ModelSet(folder)
        predict = partial(stage1_points, models=models)
        cells = stage1_cells(predict, real, reference, sample, subjects)
        if busy:
            cells += stage1_cells(predict, {}, reference, {}, busy)
        name = "shipped " + models.model_id if folder is None else str(folder)
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
