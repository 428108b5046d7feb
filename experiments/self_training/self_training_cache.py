"""A stage-2 training cache that mixes synthetic samples with pseudo-labelled real frames.

Self-training on an unlabelled real study: the shipped pipeline tracks it (the MVnet sample's points
sit on the annulus in every frame by eye, docs/MODEL_CARD.md), its final points become the labels,
and stage-2 samples are cut around them with the usual perturbations, many copies per frame, then
added to a synthetic cache of the same view. Never run this on a study used for measurement
(data/bivme-patient1 is the real-scan benchmark).

    .venv/bin/python experiments/self_training/self_training_cache.py --view 4CH --synthetic-cache runs_v4/cache \
        --out runs_v5/cache [--study src/mvtrack/data/mvnet-sample] [--copies 60]
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--view", required=True, choices=["2CH", "4CH"])
    parser.add_argument("--synthetic-cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--study", type=Path, default=Path(str(files("mvtrack") / "data" / "mvnet-sample")))
    parser.add_argument("--copies", type=int, default=60, help="Perturbed stage-2 crops per real frame.")
    args = parser.parse_args()

    from mvtrack.pipeline.study import analyze_study
    from mvtrack.train.data import PerturbationConfig, cine_samples
    from mvtrack.train.trainer import split_by_group

    study = analyze_study(args.study)
    cine, track = study.cines[args.view], study.tracks[args.view]
    real = cine_samples(cine, track.points_px, np.random.default_rng(7), PerturbationConfig(copies=args.copies))
    with np.load(args.synthetic_cache / f"{args.view}.npz") as data:
        synthetic = {key: data[key] for key in data.files if key.startswith("s2_")}
    # The real study joins a group that the trainer's split (seed 0, 10 %) keeps on the training side.
    train_idx, _ = split_by_group(synthetic["s2_group"], 0.1, 0)
    group = synthetic["s2_group"][train_idx[0]]
    merged = {
        "s2_images": np.concatenate([synthetic["s2_images"], real["s2_images"]]),
        "s2_points": np.concatenate([synthetic["s2_points"], real["s2_points"]]),
        "s2_group": np.concatenate([synthetic["s2_group"], np.full(len(real["s2_points"]), group)]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / f"{args.view}.npz", **merged)
    print(f"{args.out / (args.view + '.npz')}: {len(synthetic['s2_points'])} synthetic + {len(real['s2_points'])} "
          f"pseudo-labelled real stage-2 samples ({len(real['s2_points']) / len(merged['s2_points']):.0%})")


if __name__ == "__main__":
    main()
