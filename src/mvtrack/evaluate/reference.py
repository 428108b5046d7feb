"""Score one tracked view against a reference view of an annotated real study.

A reference study is a folder with ``annotations.json`` in the result-contract form (see README); a
view may also name the series folder it was drawn on (``series_folder``, relative to the study) and
say ``"point_order": "unordered"`` when its two points keep one order over the frames that is not an
anatomical one (then the predicted order that fits better over the whole view is used).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.evaluate.points import (
    align_point_order,
    angular_errors_deg,
    displacement_errors_mm,
    match_frames,
    point_errors_mm,
)
from mvtrack.metrics import clinical_metrics, combine_views, displacement_mm


def reference_studies(root: Path | str) -> list[Path]:
    """The study folders directly under ``root`` that hold an ``annotations.json``, sorted."""
    return sorted(path.parent for path in Path(root).glob("*/annotations.json"))


def load_reference(study_dir: Path | str) -> dict:
    """The ``annotations.json`` of a reference study folder."""
    path = Path(study_dir) / "annotations.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MvtrackError(f"{path}: unreadable reference ({exc.__class__.__name__})") from None


def reference_series_paths(study_dir: Path | str, reference: dict, views=("2CH", "4CH")) -> dict[str, Path]:
    """{view: series folder} for the reference views that name the series they were drawn on."""
    return {view: Path(study_dir) / entry["series_folder"] for view, entry in reference["views"].items()
            if view in views and entry.get("series_folder")}


def reference_cines(study_dir: Path | str, reference: dict, views=("2CH", "4CH")) -> dict:
    """{view: Cine} read from the series each reference view was drawn on, as that view (whatever its
    description says)."""
    from mvtrack.io import read_cines

    return {view: read_cines([path], view=view)[0]
            for view, path in reference_series_paths(study_dir, reference, views).items()}


def reference_views(root: Path | str, views=("2CH", "4CH")):
    """Every reference view of the studies under ``root``: yields (study name, view, Cine, the
    reference's view entry), the cine read as in :func:`reference_cines`."""
    for folder in reference_studies(root):
        reference = load_reference(folder)
        for view, cine in reference_cines(folder, reference, views).items():
            yield folder.name, view, cine, reference["views"][view]


def truth_as_reference(cine, points_px: np.ndarray) -> dict:
    """Known points (T, 2, 2) of a cine (e.g. a synthetic view's truth) in the form of one reference view,
    for :func:`score_view` and :func:`reference_metrics`; the points are in anatomical order."""
    return {"points_px": np.asarray(points_px), "times_s": np.asarray(cine.times_s), "rr_s": cine.rr_s,
            "pixel_spacing_mm": tuple(cine.pixel_spacing_mm), "point_order": "ordered"}


def reference_metrics(*ref_views: dict) -> dict:
    """MAPSE, s', e', a' of the reference points of one view, or of several views' curves averaged as
    a study's are, measured like an evaluation measures references."""
    curves = [(np.asarray(v["times_s"]), displacement_mm(np.asarray(v["points_px"], dtype=float), tuple(v["pixel_spacing_mm"])),
               float(v["rr_s"])) for v in ref_views]
    return clinical_metrics(*combine_views(curves)).to_dict()


def score_view(predicted_px: np.ndarray, predicted_times_s: np.ndarray, ref_view: dict) -> dict:
    """Agreement of predicted points (T, 2, 2), (x, y) stored pixels, with one reference view.

    Returns per-view numbers in mm / degrees: ``mean_mm`` and ``median_mm`` over every point of every
    frame, ``worst_mm`` (the largest single point error) and ``worst_frame`` (its frame), ``angle_deg``
    (mean angle between the MV lines), ``displacement_bias_mm`` and ``displacement_sd_mm`` (per-frame
    MV plane displacement, predicted minus reference), and ``point_errors_mm`` (T, 2).
    """
    spacing = tuple(ref_view["pixel_spacing_mm"])
    truth = np.asarray(ref_view["points_px"], dtype=float)
    points = match_frames(np.asarray(predicted_px, dtype=float), predicted_times_s, ref_view["times_s"],
                          float(ref_view["rr_s"]))
    exchanged = False
    if ref_view.get("point_order") == "unordered":
        points, exchanged = align_point_order(points, truth)
    errors = point_errors_mm(points, truth, spacing)
    displacement = displacement_errors_mm(points, truth, spacing)
    worst = np.unravel_index(np.argmax(errors), errors.shape)
    return {
        "mean_mm": float(errors.mean()),
        "median_mm": float(np.median(errors)),
        "worst_mm": float(errors.max()),
        "worst_frame": int(worst[0]),
        "angle_deg": float(angular_errors_deg(points, truth, spacing).mean()),
        "displacement_bias_mm": float(displacement.mean()),
        "displacement_sd_mm": float(displacement.std(ddof=1)),
        "order_exchanged": exchanged,
        "point_errors_mm": errors,
    }
