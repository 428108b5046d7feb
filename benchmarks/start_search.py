"""How far from the valve can the first guess be and the tracker still end on it?

On real scans stage 1 is what fails (unseen real cines: 28-58 mm off), so this measures the part
that has to make up for it: stage 2 without the start search, with the grid search around the
first guess, and with the grid plus starts along the LV long axis (the line where the other view's
DICOM plane cuts this one), started from the truth moved by a fixed distance in a random direction
(the same in every frame). Views: synthetic test subjects (seed 9001, never used in training; the
generator gives both views of a subject one 3D heart and consistent DICOM geometry) and, with
``--real``, the real exam's 2CH and 4CH (data/bivme-patient1, reference points as the truth). A
view counts as recovered when its final points are within 5 mm of the truth on average. Prints one
row per start distance and view set.

    .venv/bin/python benchmarks/start_search.py [--subjects 20] [--distances 0 20 40 60] [--real] [--model DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TEST_SEED = 9001
RECOVERED_MM = 5.0
MODES = {"no search": dict(search=False), "grid": dict(search=True), "grid + axis": dict(search=True, axis=True)}


def synthetic_cases(n_subjects: int) -> list[tuple]:
    from mvtrack.pipeline.study import long_axis_lines
    from mvtrack.synth.generator import generate_subject

    cases = []
    for index in range(n_subjects):
        subject = generate_subject(TEST_SEED, index)
        lines = long_axis_lines({view: v.cine for view, v in subject.views.items()})
        cases += [(v.cine, v.points_px, lines.get(view), None) for view, v in subject.views.items()]
    return cases


def real_cases() -> list[tuple]:
    from mvtrack.evaluate.reference import load_reference, reference_cines, reference_studies
    from mvtrack.pipeline.study import long_axis_lines

    cases = []
    for folder in reference_studies(REPO / "data"):
        reference = load_reference(folder)
        cines = reference_cines(folder, reference)
        lines = long_axis_lines(cines)
        cases += [(cine, np.asarray(reference["views"][view]["points_px"]), lines.get(view), reference["views"][view])
                  for view, cine in cines.items()]
    return cases


def run(cases, distances, models, label: str) -> None:
    from mvtrack.evaluate.reference import score_view, truth_as_reference
    from mvtrack.pipeline.track import track_cine

    rng = np.random.default_rng(0)
    for distance in distances:
        recovered = {mode: 0 for mode in MODES}
        errors = {mode: [] for mode in MODES}
        seconds = {mode: 0.0 for mode in MODES}
        for cine, truth, line, ref_view in cases:
            angle = rng.uniform(0, 2 * np.pi)
            offset_mm = distance * np.array([np.cos(angle), np.sin(angle)])
            spacing = cine.pixel_spacing_mm
            first_guess = truth + offset_mm / np.array([spacing[1], spacing[0]])
            ref = ref_view or truth_as_reference(cine, truth)
            for mode, options in MODES.items():
                start = time.perf_counter()
                track = track_cine(cine, models, search=options["search"], first_guess_px=first_guess,
                                   axis_line_px=line if options.get("axis") else None)
                seconds[mode] += time.perf_counter() - start
                error = score_view(track.points_px, cine.times_s, ref)["mean_mm"]
                errors[mode].append(error)
                recovered[mode] += error < RECOVERED_MM
        n = len(cases)
        cells = [f"{recovered[m]} / {n}" for m in MODES] + [" / ".join(f"{np.median(errors[m]):.1f}" for m in MODES)]
        cells += [" / ".join(f"{seconds[m] / n:.1f}" for m in MODES)]
        print(f"| {label} | {distance:.0f} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--distances", type=float, nargs="+", default=[0.0, 20.0, 40.0, 60.0])
    parser.add_argument("--real", action="store_true", help="Also the real exam(s) in data/ with reference points.")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--finalists", type=int, nargs="+", default=None,
                        help="Run the table for each of these mvtrack.pipeline.start_search.SEARCH_FINALISTS (0: all "
                             "candidates get the last pass), in one process so that the seconds compare.")
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet

    models = ModelSet(args.model)
    print(f"model {models.model_id}; recovered = final mean error < {RECOVERED_MM:.0f} mm; modes: " + ", ".join(MODES))
    print("| views | start off by (mm) | " + " | ".join(f"recovered, {m}" for m in MODES)
          + " | median error (mm) | s / view |")
    print("|---|---|" + "---|" * (len(MODES) + 2))
    from mvtrack.pipeline import start_search

    for finalists in args.finalists or [start_search.SEARCH_FINALISTS]:
        start_search.SEARCH_FINALISTS = finalists or None
        suffix = f", {finalists or 'all'} finalists" if args.finalists else ""
        if args.real:
            run(real_cases(), args.distances, models, f"real exam (2CH, 4CH){suffix}")
        if args.subjects:
            run(synthetic_cases(args.subjects), args.distances, models, f"synthetic ({2 * args.subjects} views){suffix}")


if __name__ == "__main__":
    main()
