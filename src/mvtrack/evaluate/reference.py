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
    axial_errors_mm,
    displacement_errors_mm,
    match_frames,
    point_errors_mm,
)
from mvtrack.metrics import clinical_metrics, combine_views, displacement_mm
from mvtrack.metrics.rest import rest_windows

#: Late diastole: the last tenth of the cycle (after the atrial kick, before the next R wave).
LATE_DIASTOLE_FRACTION = 0.1
#: The phases of :func:`phase_frames`, in the order the tables print them.
PHASES = ("ed", "es", "diastasis", "late_diastole")


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


def phase_frames(ref_view: dict) -> dict[str, np.ndarray]:
    """Reference frame indices of four phases of the cycle, from the reference's own curve.

    ``ed``: frame 0; ``es``: the frame nearest the reference's end-systole (its MAPSE time);
    ``diastasis``: the frames inside the reference's diastasis rest window (none when the plane never
    rests between e' and a'); ``late_diastole``: the frames in the last tenth of the RR interval.
    """
    times_s = np.asarray(ref_view["times_s"], dtype=float) - float(ref_view["times_s"][0])
    rr_s = float(ref_view["rr_s"])
    points = np.asarray(ref_view["points_px"], dtype=float)
    curve = displacement_mm(points, tuple(ref_view["pixel_spacing_mm"]))
    end_systole_s = clinical_metrics(times_s, curve, rr_s).end_systole_s
    frames = {"ed": np.array([0]), "es": np.array([], dtype=int), "diastasis": np.array([], dtype=int),
              "late_diastole": np.flatnonzero(times_s >= (1 - LATE_DIASTOLE_FRACTION) * rr_s)}
    if end_systole_s is not None:
        frames["es"] = np.array([int(np.argmin(np.abs(times_s - end_systole_s)))])
        window = rest_windows(times_s, curve, rr_s, end_systole_s)["diastasis"]
        if window is not None:
            start_s, end_s = window["start_ms"] / 1000, window["end_ms"] / 1000
            inside = ((times_s >= start_s) & (times_s <= end_s)) | ((times_s + rr_s >= start_s) & (times_s + rr_s <= end_s))
            frames["diastasis"] = np.flatnonzero(inside)
    return frames


def signed_phase_errors_mm(points_px: np.ndarray, ref_view: dict) -> dict[str, float | None]:
    """Mean signed long-axis error (mm, toward the apex +; both points) of points already on the
    reference's frames, per phase of :func:`phase_frames`; None for a phase without frames."""
    axial = axial_errors_mm(np.asarray(points_px, dtype=float), np.asarray(ref_view["points_px"], dtype=float),
                            tuple(ref_view["pixel_spacing_mm"]))
    return {phase: (float(axial[idx].mean()) if len(idx) else None) for phase, idx in phase_frames(ref_view).items()}


def mapse_error_mm(points_px: np.ndarray, ref_view: dict) -> float | None:
    """MAPSE of points already on the reference's frames minus the reference's, both measured the
    same way from the points alone (whatever QC made of the view); None when either has none."""
    ours = reference_metrics({**ref_view, "points_px": np.asarray(points_px, dtype=float)})["mapse_mm"]
    theirs = reference_metrics(ref_view)["mapse_mm"]
    return None if ours is None or theirs is None else float(ours - theirs)


def score_view(predicted_px: np.ndarray, predicted_times_s: np.ndarray, ref_view: dict) -> dict:
    """Agreement of predicted points (T, 2, 2), (x, y) stored pixels, with one reference view.

    Returns per-view numbers in mm / degrees: ``mean_mm`` and ``median_mm`` over every point of every
    frame, ``worst_mm`` (the largest single point error) and ``worst_frame`` (its frame), ``angle_deg``
    (mean angle between the MV lines), ``displacement_bias_mm`` and ``displacement_sd_mm`` (per-frame
    MV plane displacement, predicted minus reference), ``point_errors_mm`` (T, 2) and ``signed_mm``
    (:func:`signed_phase_errors_mm`: the mean signed long-axis error per phase, toward the apex +) and
    ``mapse_error_mm`` (:func:`mapse_error_mm`).
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
        "signed_mm": signed_phase_errors_mm(points, ref_view),
        "mapse_error_mm": mapse_error_mm(points, ref_view),
    }
