"""Issue 13, lever 5: stage 2 adapted to each study's own frames (``mvtrack analyze --adapt``), on
synthetic test subjects: does the adaptation cost synthetic accuracy? (The real exam:
``benchmarks/real_scans.py --adapt``.)

Each subject of seed 9001 (the test seed) is analysed as a study (2CH + 4CH) with the shipped model,
once plainly and once with the adaptation (``mvtrack.pipeline.adapt``: shift consistency on the
study's own frames, a synthetic anchor of other subjects). Per view: point error (median / mean /
worst, mm), MAPSE and e' against the truth, the shift disagreement before and after (mm) and the
adaptation's seconds; then the median of the per-view medians, plain and adapted, and their ratio.

    .venv/bin/python experiments/consistency_adaptation/consistency_adaptation.py [--subjects 6] [--steps 150] [--lr 3e-5]
        [--shift-mm 5] [--anchor-subjects 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--shift-mm", type=float, default=5.0,
                        help="SD of the crops' placement around the track (whole MV; each point 0.6 x as much "
                             "again); default: the perturbation stage 2 was trained with")
    parser.add_argument("--anchor-subjects", type=int, default=6, help="0: shift consistency alone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tries", type=int, default=1, help="adaptation tries per study (mvtrack's default: 3); "
                                                             "1 measures one seed's cost")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from mvtrack.evaluate.reference import reference_metrics, score_view, truth_as_reference
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.adapt import AdaptConfig
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.synth.generator import generate_subject
    from mvtrack.train.consistency import ConsistencyConfig
    from mvtrack.train.data import PerturbationConfig

    perturbation = PerturbationConfig(shift_mm=args.shift_mm, per_point_mm=0.6 * args.shift_mm, copies=1)
    config = AdaptConfig(ConsistencyConfig(steps=args.steps, learning_rate=args.lr, perturbation=perturbation),
                         anchor_subjects=args.anchor_subjects, seed=args.seed, tries=args.tries)
    models = ModelSet()
    print(f"{config}\n")
    print("| subject | view | median / mean / worst (mm), plain | adapted | MAPSE truth / plain / adapted | "
          "e' truth / plain / adapted | disagreement before / after (mm) | adaptation s |")
    print("|---|---|---|---|---|---|---|---:|")
    medians = {"plain": [], "adapted": []}
    for index in range(args.subjects):
        subject = generate_subject(9001, index)
        cines = [v.cine for v in subject.views.values()]
        studies = {"plain": analyze_cines(cines, subject.subject_id, models),
                   "adapted": analyze_cines(cines, subject.subject_id, models, adapt=config)}
        for view, synthetic in subject.views.items():
            truth = truth_as_reference(synthetic.cine, synthetic.points_px)
            cells = [subject.subject_id, view]
            for name, study in studies.items():
                out = study.result["views"][view]
                score = score_view(np.asarray(out["points_px"]), np.asarray(out["times_s"]), truth)
                medians[name].append(score["median_mm"])
                cells.append(f"{score['median_mm']:.2f} / {score['mean_mm']:.2f} / {score['worst_mm']:.1f}")
            reference = reference_metrics(truth)
            for key in ("mapse_mm", "e_prime_cm_s"):
                values = [reference[key]] + [s.result["views"][view]["metrics"][key] for s in studies.values()]
                cells.append(" / ".join("n/a" if v is None else f"{v:.1f}" for v in values))
            note = studies["adapted"].result["adaptation"]["views"][view]
            cells += [f"{note['disagreement_before_mm']:.2f} / {note['disagreement_after_mm']:.2f}", f"{note['seconds']:.0f}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    plain, adapted = (float(np.median(medians[k])) for k in ("plain", "adapted"))
    print(f"\nmedian of the per-view medians: plain {plain:.2f} mm, adapted {adapted:.2f} mm "
          f"(x{adapted / plain:.2f}; {len(medians['plain'])} views)")


if __name__ == "__main__":
    main()
