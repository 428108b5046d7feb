"""3CH networks of a training run (experiments/three_chamber/train_3ch_from_2ch.py) on synthetic 3CH test subjects and on
the real 3T exam's 3CH (data/bivme-patient1, Se7, reference points from its annotations).

Per view: stage 1, then three stage-2 passes with test-time shifts, as `analyze` does for 2CH/4CH
(no start search). Synthetic: median over subjects of the per-subject median point error, and how
often the two points came out in the other order. Real: from stage 1, and from the reference points
(stage 2's own fixed point), median / mean / worst point error; the reference's point order is not
anatomical, so the predicted order that fits it better is used.

    .venv/bin/python experiments/three_chamber/three_chamber.py RUN [--subjects 10]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a run folder with stage1/best.pt and stage2/best.pt")
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--seed", type=int, default=6000, help="synthetic test subjects (training used 5000)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from mvtrack.evaluate.points import align_point_order, point_errors_mm
    from mvtrack.evaluate.reference import load_reference
    from mvtrack.geometry.affine import spline_coefficients
    from mvtrack.io import read_cines
    from mvtrack.models.export import export_model_dir
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import stage1_points, stage2_passes_from
    from mvtrack.synth.generator import generate_subject

    model_dir = Path(tempfile.mkdtemp()) / "model"
    export_model_dir({f"3ch_stage{s}": args.run / f"stage{s}" / "best.pt" for s in (1, 2)}, model_dir, "experiment-3ch")
    models = ModelSet(model_dir, threads=2)

    def track(cine, start=None):
        first = stage1_points(cine, models) if start is None else np.asarray(start, dtype=float)
        passes, _, _ = stage2_passes_from(cine, models, first, 3, True, spline_coefficients(cine.frames))
        return first, passes[-1]

    medians, stage1_medians, swapped = [], [], 0
    for index in range(args.subjects):
        view = generate_subject(args.seed, index, views=("3CH",)).views["3CH"]
        first, final = track(view.cine)
        spacing = view.cine.pixel_spacing_mm
        stage1_medians.append(np.median(point_errors_mm(first, view.points_px, spacing)))
        medians.append(np.median(point_errors_mm(final, view.points_px, spacing)))
        swapped += point_errors_mm(final[:, ::-1], view.points_px, spacing).mean() < point_errors_mm(final, view.points_px, spacing).mean()
    print(f"synthetic 3CH, {args.subjects} subjects (seed {args.seed}): stage 1 {np.median(stage1_medians):.2f} mm, "
          f"final {np.median(medians):.2f} mm (median of per-subject medians; worst subject {max(medians):.2f} mm); "
          f"points in the other order in {swapped}")
    exam = ROOT / "data" / "bivme-patient1"
    reference = load_reference(exam)["views"]["3CH"]
    cine = read_cines([exam / reference["series_folder"]])[0]
    truth = np.asarray(reference["points_px"], dtype=float)
    for label, start in (("from stage 1", None), ("from the reference points", truth)):
        _, final = track(cine, start)
        final, _ = align_point_order(final, truth)
        errors = point_errors_mm(final, truth, cine.pixel_spacing_mm)
        print(f"real 3T 3CH ({reference['series_folder']}), {label}: median {np.median(errors):.1f} mm, "
              f"mean {errors.mean():.1f} mm, worst {errors.max():.1f} mm")


if __name__ == "__main__":
    main()
