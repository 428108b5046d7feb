"""Real and synthetic hinges side by side at end-diastole, end-systole and late diastole (issue 36).

Rows: each reference view of the real studies under ``data/`` (reference points green circles), then
the same views of synthetic test subjects (seed 9001; truth points green); columns: ED (frame 0),
the reference's end-systole and the last late-diastolic frame (``evaluate.reference.phase_frames``),
each a 50 mm window around that frame's reference MV centre, with the model's points (crosses, first
point red) and the signed long-axis error of the frame (toward the apex +) in the title.

    .venv/bin/python benchmarks/hinge_phases.py [--model DIR] [--synthetic 2] [--figure docs/results/hinge-phases.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
TEST_SEED = 9001
WINDOW_MM = 50.0


def real_rows(models):
    """(label, cine, reference view, tracked points (T, 2, 2) on the reference's frames) per real view."""
    from real_scans import run_reference_study

    from mvtrack.evaluate.points import align_point_order, match_frames
    from mvtrack.evaluate.reference import reference_studies

    for folder in reference_studies(REPO / "data"):
        reference, study, _ = run_reference_study(folder, models, 3, True)
        for view in sorted(study.result["views"]):
            ref_view, out = reference["views"][view], study.result["views"][view]
            points = match_frames(np.asarray(out["points_px"], dtype=float), np.asarray(out["times_s"]),
                                  ref_view["times_s"], float(ref_view["rr_s"]))
            if ref_view.get("point_order") == "unordered":
                points, _ = align_point_order(points, np.asarray(ref_view["points_px"], dtype=float))
            yield f"{folder.name} {view}", study.cines[view], ref_view, points


def synthetic_rows(models, n_subjects: int):
    from mvtrack.evaluate.reference import truth_as_reference
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.synth.generator import generate_subject

    for index in range(n_subjects):
        subject = generate_subject(TEST_SEED, index)
        result = analyze_cines([v.cine for v in subject.views.values()], subject.subject_id, models).result
        for view, truth in sorted(subject.views.items()):
            yield (f"synthetic {subject.subject_id} {view}", truth.cine, truth_as_reference(truth.cine, truth.points_px),
                   np.asarray(result["views"][view]["points_px"], dtype=float))


def draw(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from real_sample import show_points

    from mvtrack.evaluate.points import axial_errors_mm
    from mvtrack.evaluate.reference import phase_frames

    fig, axes = plt.subplots(len(rows), 3, figsize=(8.4, 2.9 * len(rows)), squeeze=False)
    for row, (label, cine, ref_view, points) in enumerate(rows):
        truth = np.asarray(ref_view["points_px"], dtype=float)
        phases = phase_frames(ref_view)
        axial = axial_errors_mm(points, truth, tuple(ref_view["pixel_spacing_mm"])).mean(axis=1)
        picks = [("ED", 0), ("ES", int(phases["es"][0]) if len(phases["es"]) else None),
                 ("late diastole", int(phases["late_diastole"][-1]) if len(phases["late_diastole"]) else None)]
        half = WINDOW_MM / 2 / cine.pixel_spacing_mm[0]
        for col, (name, t) in enumerate(picks):
            if t is None:
                axes[row, col].axis("off")
                continue
            show_points(axes[row, col], cine.frames[t], points[t], truth[t].mean(0), half,
                        f"{label} {name} f{t}: {axial[t]:+.1f} mm", truth[t])
    fig.suptitle("hinges at ED / ES / late diastole: reference or truth green circles, model crosses "
                 "(first point red); title: signed long-axis error, toward the apex +", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--synthetic", type=int, default=1, help="synthetic test subjects (2 views each)")
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "results" / "hinge-phases.png")
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet

    models = ModelSet(args.model)
    rows = [*real_rows(models), *synthetic_rows(models, args.synthetic)]
    draw(rows, args.figure)


if __name__ == "__main__":
    main()
