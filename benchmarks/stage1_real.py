"""Where stage 1 lands on every real view we have, model by model (issue 36, part 4: the lost views).

Stage 1 alone (the whole frame at 160 x 160), on the real views with points to compare against:
``data/bivme-patient1`` 2CH and 4CH (reference points in every frame) and the built-in MVnet sample's
2CH and 4CH (points placed by eye at frame 8, ``benchmarks/real_sample.py``; only that frame). Per view
and model: the median point error (order-free for the reference's unordered views), how far the MV
centre lands and in which direction, in the reference's own axes (toward the apex +, along its MV line
from the first to the second point +: for a 4CH, lateral to septal), the angle between the MV lines,
and the share of frames within 15 mm (where the stage-2 passes usually settle from: the start search
is needed beyond). With ``--figure`` the first frame (or frame 8) of each view, 140 mm around the MV, with every
model's stage-1 points.

    .venv/bin/python benchmarks/stage1_real.py [--model NAME=DIR ...] [--figure docs/results/stage1-real.png]

Without ``--model`` only the shipped model; each ``--model`` adds one (``NAME=DIR``, a model folder;
missing networks come from the shipped model, so a folder with only stage-1 networks is enough).
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
NEAR_MM = 15.0
WINDOW_MM = 140.0  # the figure's window around the reference MV centre


def real_views():
    """(label, Cine, reference points (T, 2, 2) or None per frame, the frames that have them, apex normal)."""
    from real_sample import BY_EYE_FRAME, BY_EYE_PX

    from mvtrack.evaluate.reference import reference_views
    from mvtrack.geometry.standardise import apex_normal_mm
    from mvtrack.io import read_cines

    for study, view, cine, ref_view in reference_views(REPO / "data"):
        points = np.asarray(ref_view["points_px"], dtype=float)
        yield (f"{study} {view}", cine, points, np.arange(len(points)),
               apex_normal_mm(points, tuple(ref_view["pixel_spacing_mm"])), ref_view.get("point_order"))
    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    for view in ("2CH", "4CH"):
        cine = read_cines([sample / view.lower()], view=view)[0]
        eye = np.asarray(BY_EYE_PX[view], dtype=float)[None]
        # one marked frame has no motion to orient the long axis: the shipped model's track gives it
        yield f"mvnet-sample {view} (frame {BY_EYE_FRAME})", cine, eye, np.array([BY_EYE_FRAME]), None, "ordered"


def sample_apex_normal(cine, models) -> np.ndarray:
    """The apex normal of the shipped pipeline's track of a view (for a view marked on one frame only)."""
    from mvtrack.geometry.standardise import apex_normal_mm
    from mvtrack.pipeline.track import track_cine

    return apex_normal_mm(track_cine(cine, models).points_px, cine.pixel_spacing_mm)


def landing(cine, reference, frames, normal, point_order, models) -> dict:
    """Stage 1 of ``models`` on ``cine`` against the reference on ``frames``."""
    from mvtrack.evaluate.points import (
        align_point_order,
        angular_errors_deg,
        centre_offsets_mm,
        point_errors_mm,
    )
    from mvtrack.pipeline.track import stage1_points

    predicted = stage1_points(cine, models)[frames]
    if point_order == "unordered":
        predicted, _ = align_point_order(predicted, reference)
    errors = point_errors_mm(predicted, reference, cine.pixel_spacing_mm)
    offsets = centre_offsets_mm(predicted, reference, cine.pixel_spacing_mm, normal)
    centre = np.linalg.norm(offsets, axis=-1)
    return {"median_mm": float(np.median(errors)), "centre_mm": float(np.median(centre)),
            "toward_apex_mm": float(np.median(offsets[:, 0])), "along_line_mm": float(np.median(offsets[:, 1])),
            "angle_deg": float(np.median(angular_errors_deg(predicted, reference, cine.pixel_spacing_mm))),
            "near_share": float(np.mean(errors.reshape(len(frames), 2).max(-1) <= NEAR_MM)),
            "points_px": predicted}


def draw(panels, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#ff3030", "#30d0ff", "#ffd400", "#ff60ff", "#60ff60"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    for ax, (label, frame, reference, by_model, half_px) in zip(axes[0], panels):
        ax.imshow(frame, cmap="gray", vmin=np.percentile(frame, 1), vmax=np.percentile(frame, 99.5))
        centre = reference.mean(axis=0)
        ax.set_xlim(centre[0] - half_px, centre[0] + half_px)
        ax.set_ylim(centre[1] + half_px, centre[1] - half_px)
        ax.plot(reference[:, 0], reference[:, 1], "o", mfc="none", mec="#40ff40", ms=9, mew=1.5)
        for k, (name, points) in enumerate(by_model.items()):
            ax.plot(points[:, 0], points[:, 1], "+-", color=colours[k % len(colours)], ms=10, mew=1.8, lw=1, label=name)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle("stage 1 on real frames: reference (bivme) or by-eye (sample) points green circles; "
                 "each model's stage-1 points crosses", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=DIR, a model folder to compare")
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet

    shipped = ModelSet(None)
    models = {shipped.model_id: shipped}
    for item in args.model:
        name, _, folder = item.partition("=")
        models[name] = ModelSet(Path(folder))
    print("| real view | model | stage-1 median point error (mm) | MV centre off (mm) | toward the apex / "
          "along the MV line (mm) | MV line angle (deg) | frames within 15 mm |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: |")
    panels = []
    for label, cine, reference, frames, normal, order in real_views():
        if normal is None:
            normal = sample_apex_normal(cine, shipped)
        by_model = {}
        for name, model in models.items():
            row = landing(cine, reference, frames, normal, order, model)
            by_model[name] = row["points_px"][0]
            print(f"| {label} | {name} | {row['median_mm']:.1f} | {row['centre_mm']:.1f} | "
                  f"{row['toward_apex_mm']:+.1f} / {row['along_line_mm']:+.1f} | {row['angle_deg']:.0f} | "
                  f"{row['near_share']:.0%} |")
        panels.append((label, np.asarray(cine.frames[frames[0]], dtype=float), reference[0], by_model,
                       WINDOW_MM / 2 / cine.pixel_spacing_mm[0]))
    if args.figure:
        draw(panels, args.figure)


if __name__ == "__main__":
    main()
