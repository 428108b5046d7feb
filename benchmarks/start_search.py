"""How far from the valve can the first guess be and the tracker still end on it?

On real scans stage 1 is what fails (the real sample: 20-50 mm off), so this measures the part
that has to make up for it: stage 2 with and without the start search, started from the truth
moved by a fixed distance in a random direction (the same in every frame), on synthetic test
subjects (seed 9001, never used in training). A view counts as recovered when its final points are
within 5 mm of the truth on average. Prints one row per start distance.

    .venv/bin/python benchmarks/start_search.py [--subjects 20] [--distances 0 10 20 30 40] [--model DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

TEST_SEED = 9001
RECOVERED_MM = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--distances", type=float, nargs="+", default=[0.0, 10.0, 20.0, 30.0, 40.0])
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    from mvtrack.evaluate.points import point_errors_mm
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import track_cine
    from mvtrack.synth.generator import generate_subject

    models = ModelSet(args.model)
    views = [v for i in range(args.subjects) for v in generate_subject(TEST_SEED, i).views.values()]
    rng = np.random.default_rng(0)
    print(f"model {models.model_id}; {len(views)} synthetic views ({args.subjects} subjects, seed {TEST_SEED}); "
          f"recovered = final mean error < {RECOVERED_MM:.0f} mm")
    print(f"{'start off by (mm)':>18s} {'recovered, no search':>21s} {'recovered, search':>18s} "
          f"{'median error (mm) no / with':>28s} {'searched':>9s} {'kept':>5s} {'s / view':>9s}")
    for distance in args.distances:
        recovered = {False: 0, True: 0}
        errors = {False: [], True: []}
        searched = kept = 0
        start_time = time.perf_counter()
        for view in views:
            angle = rng.uniform(0, 2 * np.pi)
            offset_mm = distance * np.array([np.cos(angle), np.sin(angle)])
            spacing = view.cine.pixel_spacing_mm
            first_guess = view.points_px + offset_mm / np.array([spacing[1], spacing[0]])
            for search in (False, True):
                track = track_cine(view.cine, models, search=search, first_guess_px=first_guess)
                error = float(point_errors_mm(track.points_px, view.points_px, spacing).mean())
                errors[search].append(error)
                recovered[search] += error < RECOVERED_MM
                if search and track.start_search is not None:
                    searched += 1
                    kept += track.start_search["kept"]
        seconds = (time.perf_counter() - start_time) / len(views)
        print(f"{distance:18.0f} {recovered[False]:>14d} / {len(views):<4d} {recovered[True]:>11d} / {len(views):<4d} "
              f"{np.median(errors[False]):>19.2f} / {np.median(errors[True]):<6.2f} {searched:>9d} {kept:>5d} {seconds:9.2f}",
              flush=True)


if __name__ == "__main__":
    main()
