"""The critic QC check: how far stage 2 and a second stage-2 network disagree, against the error.

The shipped model folder names a critic per view (manifest ``critics``; `ModelSet.critic`): a stage 2
that learnt differently. `mvtrack.pipeline.track.critic_disagreement_mm` runs it exactly as stage 2's
last pass ran, and a view whose median disagreement over frames exceeds
`mvtrack.pipeline.qc.MAX_CRITIC_DISAGREEMENT_MM` gives no metrics. This script

1. calibrates the threshold on synthetic subjects of a seed no network trained or was tested on
   (9700): 1.5 x the 95th percentile over views tracked within 3 mm, rounded up to 0.5 mm (the rule
   was fixed before any real scan was looked at with a critic);
2. counts, on the synthetic test subjects (seed 9001), good views flagged and bad views caught;
3. reports the real exam (`data/bivme-patient1`, with its reference error) and the MVnet sample.

    .venv/bin/python benchmarks/critic_calibration.py [--calibration 20] [--test 20] [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]
CALIBRATION_SEED, TEST_SEED = 9700, 9001


def view_rows(models, name: str, study, truth: dict | None = None, errors: dict | None = None) -> list[tuple]:
    """(name, view, median / mean / max critic disagreement (mm), mean point error (mm) or nan)."""
    from mvtrack.evaluate.points import point_errors_mm
    from mvtrack.pipeline.track import view_disagreement_mm

    rows = []
    for view, track in study.tracks.items():
        cine = study.cines[view]
        disagreement = view_disagreement_mm(cine, models, track)
        if disagreement is None:
            continue
        if truth is not None:
            error = float(point_errors_mm(track.points_px, truth[view], cine.pixel_spacing_mm).mean())
        else:
            error = (errors or {}).get(view, float("nan"))
        rows.append((name, view, float(np.median(disagreement)), float(disagreement.mean()),
                     float(disagreement.max()), error))
    return rows


def synthetic_rows(models, seed: int, n_subjects: int) -> list[tuple]:
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.synth.generator import generate_subject

    rows = []
    for index in range(n_subjects):
        subject = generate_subject(seed, index, views=("2CH", "4CH"))
        study = analyze_cines([v.cine for v in subject.views.values()], f"{seed}/{index}", models)
        rows += view_rows(models, f"{seed}/{index}", study, truth={v: s.points_px for v, s in subject.views.items()})
    return rows


def real_rows(models) -> list[tuple]:
    from real_scans import run_reference_study

    from mvtrack.evaluate.reference import score_view
    from mvtrack.pipeline.study import analyze_study

    reference, study, _ = run_reference_study(REPO / "data" / "bivme-patient1", models, 3, True)
    errors = {view: score_view(track.points_px, study.cines[view].times_s, reference["views"][view])["mean_mm"]
              for view, track in study.tracks.items()}
    rows = view_rows(models, "bivme-patient1 (3T)", study, errors=errors)
    sample = analyze_study(Path(str(files("mvtrack") / "data" / "mvnet-sample")), models=models)
    return rows + view_rows(models, "mvnet-sample (1.5T, no reference)", sample)


def table(rows: list[tuple], threshold: float) -> str:
    lines = ["| study | view | critic disagreement median / mean / max (mm) | mean point error (mm) | flagged |",
             "|---|---|---|---:|---|"]
    for name, view, median, mean, worst, error in rows:
        lines.append(f"| {name} | {view} | {median:.2f} / {mean:.2f} / {worst:.2f} | {error:.1f} | "
                     f"{'yes' if median > threshold else 'no'} |")
    return "\n".join(lines)


def counts(rows: list[tuple], threshold: float, bad_mm: float) -> str:
    good = [r for r in rows if r[5] <= bad_mm]
    bad = [r for r in rows if r[5] > bad_mm]
    return (f"views within {bad_mm:g} mm: {len(good)}, flagged {sum(r[2] > threshold for r in good)}; "
            f"worse: {len(bad)}, flagged {sum(r[2] > threshold for r in bad)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibration", type=int, default=20, help="synthetic subjects (seed 9700) to set the threshold")
    parser.add_argument("--test", type=int, default=20, help="synthetic test subjects (seed 9001)")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.qc import MAX_CRITIC_DISAGREEMENT_MM

    models = ModelSet(args.model)
    print(f"model {models.model_id}; threshold in use {MAX_CRITIC_DISAGREEMENT_MM} mm\n")
    calibration = synthetic_rows(models, CALIBRATION_SEED, args.calibration)
    good = [r[2] for r in calibration if r[5] <= 3.0]
    rule = float(np.ceil(1.5 * np.percentile(good, 95) / 0.5) * 0.5)
    print(f"## Calibration (seed {CALIBRATION_SEED}, {args.calibration} subjects)\n")
    print(f"95th percentile over the {len(good)} views within 3 mm: {np.percentile(good, 95):.2f} mm -> "
          f"rule's threshold {rule} mm")
    print(counts(calibration, MAX_CRITIC_DISAGREEMENT_MM, 3.0) + "\n")
    test = synthetic_rows(models, TEST_SEED, args.test)
    print(f"## Synthetic test (seed {TEST_SEED}, {args.test} subjects; an upper bound)\n")
    print(counts(test, MAX_CRITIC_DISAGREEMENT_MM, 3.0))
    print(counts(test, MAX_CRITIC_DISAGREEMENT_MM, 5.0) + "\n")
    print("## Real scans\n")
    print(table(real_rows(models), MAX_CRITIC_DISAGREEMENT_MM))


if __name__ == "__main__":
    main()
