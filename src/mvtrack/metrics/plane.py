"""The MV plane in the patient over the cycle, from the points of two or more long-axis views.

Each view's points are mapped to DICOM patient coordinates (LPS, mm) with its own plane geometry,
resampled onto one grid of cardiac phase (each view over its own RR: the views are separate
breath-holds and heartbeats), and one plane is fitted per phase to the 4-6 points by least squares
(the normal is the direction of least spread). How far the points sit from that plane (RMS, mm)
tells whether the views agree in space: a few mm for one heart; much more when a series is of
another patient or the patient moved between breath-holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.metrics.curves import resample_periodic


@dataclass
class PlaneTrack:
    """The fitted MV plane per phase. Shapes: N phases."""

    times_s: np.ndarray  # (N,) phase x mean RR, 0 at the first frame (the R wave)
    centre_mm: np.ndarray  # (N, 3) LPS
    normal: np.ndarray  # (N, 3) unit, pointing toward the apex
    residual_mm: np.ndarray  # (N,) RMS distance of the points from the plane
    diameter_mm: dict[str, np.ndarray]  # view -> (N,) distance between its two points

    def to_dict(self) -> dict:
        return {
            "times_s": _round(self.times_s), "centre_mm": _round(self.centre_mm), "normal": _round(self.normal, 5),
            "residual_mm": _round(self.residual_mm), "residual_median_mm": round(float(np.median(self.residual_mm)), 3),
            "diameter_mm": {view: _round(d) for view, d in self.diameter_mm.items()},
            "coordinates": "DICOM patient (LPS), mm; normal toward the apex",
        }


def _round(values, digits: int = 3) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def fit_plane(points_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(K, 3) points (K >= 3) -> (centre (3,), unit normal (3,), RMS distance from the plane, mm)."""
    points_mm = np.asarray(points_mm, dtype=float)
    centre = points_mm.mean(axis=0)
    _, _, vt = np.linalg.svd(points_mm - centre)
    normal = vt[-1]
    residual = float(np.sqrt(np.mean(((points_mm - centre) @ normal) ** 2)))
    return centre, normal, residual


def points_at_phases(points_mm: np.ndarray, times_s: np.ndarray, rr_s: float, n_phases: int) -> np.ndarray:
    """(T, P, 3) points of one cine over its cycle -> (n_phases, P, 3) at phases k / n_phases of its RR
    (phase 0 at its first frame, the R wave), by periodic interpolation: views of separate heartbeats
    compared phase by phase."""
    points_mm = np.asarray(points_mm, dtype=float)
    times = np.asarray(times_s, dtype=float)
    targets = np.arange(n_phases) / n_phases * float(rr_s)
    out = np.empty((n_phases, *points_mm.shape[1:]))
    for index in np.ndindex(*points_mm.shape[1:]):
        out[(slice(None), *index)] = resample_periodic(times - times[0], points_mm[(slice(None), *index)], float(rr_s), targets)
    return out


def mv_plane_track(views: dict[str, dict], n_phases: int | None = None) -> PlaneTrack:
    """Fit the MV plane per phase.

    Args:
        views: view -> {"points_mm": (T, 2, 3) LPS, "times_s": (T,), "rr_s": float,
            "apex_mm": (3,) a direction toward the apex in the patient}; two views or more.
        n_phases: points of the phase grid (default: the most frames of any view).
    """
    if len(views) < 2:
        raise ValueError("the MV plane needs two or more views")
    n = n_phases or max(len(v["times_s"]) for v in views.values())
    phase = np.arange(n) / n
    resampled = {name: points_at_phases(view["points_mm"], view["times_s"], view["rr_s"], n) for name, view in views.items()}
    apex = np.mean([np.asarray(v["apex_mm"], dtype=float) / np.linalg.norm(v["apex_mm"]) for v in views.values()], axis=0)
    centres, normals, residuals = np.empty((n, 3)), np.empty((n, 3)), np.empty(n)
    for index in range(n):
        points = np.concatenate([resampled[name][index] for name in resampled])
        centres[index], normal, residuals[index] = fit_plane(points)
        normals[index] = normal if normal @ apex >= 0 else -normal
    rr_mean = float(np.mean([v["rr_s"] for v in views.values()]))
    diameters = {name: np.linalg.norm(p[:, 1] - p[:, 0], axis=-1) for name, p in resampled.items()}
    return PlaneTrack(phase * rr_mean, centres, normals, residuals, diameters)
