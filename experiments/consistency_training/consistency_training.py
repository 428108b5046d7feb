"""The experiments (2026-12-05, 4d7f97c to 989540b) of shift consistency learnt once on unlabelled real cines (issue 13, lever 5).

A thin wrapper of :func:`mvtrack.pipeline.adapt_model.learn_shift_consistency` (what `mvtrack adapt-model`
runs) with the experiment's extra knobs: the anchor's weight and learning from every view's cines.
By default it learns from the built-in MVnet sample (1.5 T, unlabelled; the issue allows it for
training), never the measurement exam; `benchmarks/real_scans.py --model OUT/model --no-sample`
then measures whether it carries over. It starts from the shipped model: v4's 2CH stage 2 was made
with the defaults from v3 (this script at commit 4d7f97c), so rerunning it now gives a second round.

    python experiments/consistency_training/consistency_training.py OUT [--view 4CH] [--steps 300] [--anchor-subjects 6]
        [--anchor-weight 1] [--every-view] [--seed 0] [--study DIR ...]
        [--train-only PREFIX ...] [--appearance]
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--study", type=Path, action="append", default=None,
                        help="unlabelled real study folders (default: the built-in MVnet sample)")
    parser.add_argument("--view", action="append", default=None, help="adapt only these views' stage 2")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--anchor-subjects", type=int, default=6)
    parser.add_argument("--anchor-weight", type=float, default=1.0)
    parser.add_argument("--every-view", action="store_true", help="each network also learns from the other views' cines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--appearance", action="store_true",
                        help="each crop also gets its own random look (GIN 50 %%, BigAug-like stack 70 %%)")
    parser.add_argument("--train-only", action="append", default=[], metavar="PREFIX",
                        help="only parameters whose names start with this learn (repeatable), e.g. backbone.layer1")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from mvtrack.train.augment import AugmentConfig
    from mvtrack.train.consistency import ConsistencyConfig
    from mvtrack.pipeline.adapt_model import learn_shift_consistency

    torch.set_num_threads(args.threads)
    studies = args.study or [Path(str(files("mvtrack") / "data" / "mvnet-sample"))]
    config = ConsistencyConfig(steps=args.steps, learning_rate=args.learning_rate, anchor_weight=args.anchor_weight,
                               trainable_prefixes=tuple(args.train_only),
                               appearance=AugmentConfig(gin_probability=0.5, bigaug_probability=0.7) if args.appearance else None)
    manifest = learn_shift_consistency(studies, args.out / "model", views=tuple(args.view) if args.view else None,
                                       consistency=config, anchor_subjects=args.anchor_subjects, seed=args.seed,
                                       every_view=args.every_view, force=True)
    print(f"wrote {manifest}")


if __name__ == "__main__":
    main()
