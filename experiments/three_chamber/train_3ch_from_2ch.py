"""Train first 3CH networks on a CPU: stage 1 and stage 2 fine-tuned from the shipped 2CH networks
(same architecture; the LV and LA look alike) on synthetic subjects with a 3CH alone.

An experiment for issue 17, not a shipped model: `mvtrack analyze` does not track 3CH yet. Commit 838ed68 (2026-12-02)
ran it as `python experiments/three_chamber/train_3ch_from_2ch.py RUN --subjects 160 --minutes 25` (both stages side by
side, one thread each); `experiments/three_chamber/three_chamber.py RUN` measures the result.

    python experiments/three_chamber/train_3ch_from_2ch.py RUN [--subjects 160] [--minutes 25] [--stage 1|2|both]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def train_stage(run: Path, stage: int, minutes: float) -> dict:
    from mvtrack.models.export import load_checkpoint
    from mvtrack.models.network import NetworkConfig
    from mvtrack.models.store import shipped_model_dir
    from mvtrack.train.augment import AugmentConfig
    from mvtrack.train.trainer import TrainConfig, train_network

    start = load_checkpoint(shipped_model_dir() / f"2ch_stage{stage}.pt")
    network = NetworkConfig(**{**start["network"], "view": "3CH"})
    # 3CH point order is anatomical (the aortic root marks the anterior point), as in the 4CH
    augment = AugmentConfig(scale=0.25 if stage == 1 else 0.10, right_angle_probability=0.5 if stage == 1 else 0.0,
                            image_order=False)
    config = TrainConfig(epochs=50, batch_size=8, learning_rate=1e-4, max_minutes=minutes, seed=0, threads=1,
                         augment_config=augment)
    summary = train_network(network, config, run / "cache" / "3CH.npz", run / f"stage{stage}",
                            init_state=start["state_dict"], progress=False)
    return {k: summary[k] for k in ("best_val_mm", "iterations", "minutes")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--subjects", type=int, default=160)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--stage", default="both", choices=["1", "2", "both"])
    args = parser.parse_args()

    from mvtrack.train.data import _synthetic_job, build_cache, synthetic_jobs

    if not (args.run / "cache" / "3CH.npz").exists():
        build_cache(args.run / "cache", synthetic_jobs(args.subjects, args.seed, views=("3CH",)), _synthetic_job, workers=2)
    if args.stage == "both":  # the two stages side by side, one thread each
        children = [subprocess.Popen([sys.executable, __file__, str(args.run), "--minutes", str(args.minutes), "--stage", s])
                    for s in ("1", "2")]
        sys.exit(max(child.wait() for child in children))
    print(json.dumps({f"3ch_stage{args.stage}": train_stage(args.run, int(args.stage), args.minutes)}))


if __name__ == "__main__":
    main()
