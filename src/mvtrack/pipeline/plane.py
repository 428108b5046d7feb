"""The study's MV points in patient coordinates, its MV plane over the cycle and its rest periods."""

from __future__ import annotations

import numpy as np

from mvtrack.geometry.patient import pixels_to_patient_mm
from mvtrack.geometry.standardise import apex_normal_mm
from mvtrack.io import Cine
from mvtrack.metrics.plane import mv_plane_track
from mvtrack.metrics.rest import rest_windows

#: QC: the fitted MV plane misses the views' points by more than this (median RMS over the cycle,
#: mm). One annulus is a saddle a few mm from flat, and planned views miss its centre by a few mm;
#: views of one heart in one position stay within this; a series of another breath-hold position
#: or of another patient does not. Chosen from that anatomy, not fitted to any scan.
MAX_PLANE_RESIDUAL_MM = 5.0


def has_geometry(cine: Cine) -> bool:
    return cine.orientation is not None and cine.position_mm is not None and len(cine.orientation) == 6


def patient_points(cine: Cine, points_px: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """(T, 2, 3) LPS mm of the tracked points, or None and the reason."""
    if not has_geometry(cine):
        return None, "no DICOM plane geometry (ImageOrientationPatient / ImagePositionPatient) in this cine"
    return pixels_to_patient_mm(points_px, cine.orientation, cine.position_mm, cine.pixel_spacing_mm), None


def apex_direction_mm(cine: Cine, points_px: np.ndarray) -> np.ndarray:
    """(3,) patient direction toward the apex: the in-plane apex normal of the MV line, in 3D."""
    normal = apex_normal_mm(points_px, cine.pixel_spacing_mm)
    return normal[0] * np.asarray(cine.orientation[:3]) + normal[1] * np.asarray(cine.orientation[3:])


def study_plane(cines: dict[str, Cine], points_px: dict[str, np.ndarray], views: list[str]) -> tuple[dict | None, list[str]]:
    """(results.json ``mv_plane`` entry or None with a reason, QC flags) from the given views."""
    usable = [v for v in views if has_geometry(cines[v])]
    if len(usable) < 2:
        return {"plane": None, "reason": "needs two or more tracked views with DICOM plane geometry"}, []
    track = mv_plane_track({
        view: {"points_mm": patient_points(cines[view], points_px[view])[0], "times_s": cines[view].times_s,
               "rr_s": cines[view].rr_s, "apex_mm": apex_direction_mm(cines[view], points_px[view])}
        for view in usable})
    entry = {"views": usable, **track.to_dict()}
    flags = []
    if entry["residual_median_mm"] > MAX_PLANE_RESIDUAL_MM:
        flags.append(f"the views' MV points sit {entry['residual_median_mm']:.1f} mm from one plane (median over the "
                     f"cycle; expected <= {MAX_PLANE_RESIDUAL_MM:g} mm): did the patient move between breath-holds, "
                     "or is a series from another study?")
    return entry, flags


def study_rest_periods(result: dict) -> dict:
    """Rest windows of the study's MV velocity curve (see mvtrack.metrics.rest)."""
    return rest_windows(np.asarray(result["times_s"]), np.asarray(result["displacement_mm"]), float(result["rr_s"]),
                        result["metrics"].get("end_systole_s"), smooth=bool(result.get("curves_smoothed", True)))
