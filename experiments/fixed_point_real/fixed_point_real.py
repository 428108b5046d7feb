"""Where does stage 2 go when it starts on the reference? (issue 13: start or image?)

On the real 3T 4CH the tracked lateral point sits 13-16 mm from the reference in diastole. If that
were where an iteration or a poor start led stage 2, a better start (a search, the long axis, the
motion from systole) could fix it; if stage 2 goes there from the reference itself, the point is
what the network reads in those frames and only another network can move it. So, per reference
view: stage 2 run ``--passes`` times from the reference points (each frame its own), and once from
the first frame's reference repeated over the cycle (no motion given); point error per pass (median /
mean / worst over frames, order-free per frame, mm) and the worst single point in the second half of
the cycle (diastole).

    .venv/bin/python experiments/fixed_point_real/fixed_point_real.py [--model DIR] [--passes 6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--passes", type=int, default=6)
    args = parser.parse_args()

    from mvtrack.evaluate.reference import reference_views, score_view
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import stage2_passes_from

    models = ModelSet(args.model)
    print(f"model {models.model_id}; stage 2 started on the reference points; point error (mm)")
    print("| study | view | start | pass | median | mean | worst (frame) | diastole: worst single point |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    for study, view, cine, ref_view in reference_views(REPO / "data"):
        truth = np.asarray(ref_view["points_px"], dtype=float)
        if len(truth) != cine.n_frames:
            continue  # the reference is not one point pair per stored frame
        starts = {"reference, each frame": truth, "first frame's reference, repeated": np.repeat(truth[:1], len(truth), 0)}
        for start_name, start in starts.items():
            passes, _, _ = stage2_passes_from(cine, models, start, args.passes, confidence=False)
            for index, points in enumerate(passes, 1):
                if start_name != "reference, each frame" and index != len(passes):
                    continue
                score = score_view(points, cine.times_s, ref_view)
                errors = score["point_errors_mm"]  # (T, 2)
                worst = int(np.argmax(errors.mean(1)))
                diastole = errors[len(errors) // 2:].max()
                print(f"| {study} | {view} | {start_name} | {index} | {score['median_mm']:.1f} | "
                      f"{score['mean_mm']:.1f} | {errors.mean(1).max():.1f} (f{worst}) | {diastole:.1f} |", flush=True)


if __name__ == "__main__":
    main()
