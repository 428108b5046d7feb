"""Spatial agreement per frame: Euclidean point error, angle between MV lines, displacement error.

All functions take (T, 2, 2) point arrays (x, y) in stored-frame pixels and a (row, col) spacing.
"""

from __future__ import annotations

import numpy as np

from mvtrack.geometry.standardise import apex_normal_mm, points_to_mm
from mvtrack.metrics import displacement_mm, resample_periodic


def point_errors_mm(predicted: np.ndarray, reference: np.ndarray, spacing_mm) -> np.ndarray:
    """(T, 2) Euclidean distance (mm) per frame and point."""
    return np.linalg.norm(points_to_mm(predicted - reference, spacing_mm), axis=-1)


def angular_errors_deg(predicted: np.ndarray, reference: np.ndarray, spacing_mm) -> np.ndarray:
    """(T,) angle (degrees, 0-90) between the predicted and the reference MV lines."""
    a = points_to_mm(predicted[:, 1] - predicted[:, 0], spacing_mm)
    b = points_to_mm(reference[:, 1] - reference[:, 0], spacing_mm)
    cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    dot = np.abs((a * b).sum(-1))
    return np.degrees(np.arctan2(cross, dot))


def displacement_errors_mm(predicted: np.ndarray, reference: np.ndarray, spacing_mm) -> np.ndarray:
    """(T,) predicted minus reference MV plane displacement (each from its own end-diastolic line)."""
    return displacement_mm(predicted, spacing_mm) - displacement_mm(reference, spacing_mm)


def axial_errors_mm(predicted: np.ndarray, reference: np.ndarray, spacing_mm) -> np.ndarray:
    """(T, 2) signed error of each point along the reference's long axis (mm), positive toward the apex.

    The axis is the normal of the reference's end-diastolic MV line (:func:`apex_normal_mm`), so a
    point placed on the atrial side of its reference is negative.
    """
    normal = apex_normal_mm(reference, spacing_mm)
    return points_to_mm(predicted - reference, spacing_mm) @ normal


def swapped_frames(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T,) True where exchanging the two predicted points matches the reference better (a label swap)."""
    straight = np.linalg.norm(predicted - reference, axis=-1).sum(-1)
    crossed = np.linalg.norm(predicted[:, ::-1] - reference, axis=-1).sum(-1)
    return crossed < 0.5 * straight


def align_point_order(predicted: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, bool]:
    """For a reference whose two points keep one order over the frames but not an anatomical one:
    the predicted points (T, 2, 2) in whichever single order over the whole view matches it better,
    and whether they were exchanged. One decision per view, so frame-wise swaps still count."""
    straight = np.linalg.norm(predicted - reference, axis=-1).mean()
    crossed = np.linalg.norm(predicted[:, ::-1] - reference, axis=-1).mean()
    return (predicted[:, ::-1].copy(), True) if crossed < straight else (predicted, False)


def match_frames(predicted: np.ndarray, predicted_times: np.ndarray, reference_times: np.ndarray,
                 rr_s: float) -> np.ndarray:
    """Predicted points resampled (periodically over the RR) onto the reference frame times."""
    predicted_times = np.asarray(predicted_times)
    reference_times = np.asarray(reference_times)
    if len(predicted_times) == len(reference_times) and np.allclose(predicted_times, reference_times, atol=1e-4):
        return predicted
    out = np.empty((len(reference_times), 2, 2))
    for k in range(2):
        for axis in range(2):
            out[:, k, axis] = resample_periodic(predicted_times, predicted[:, k, axis], rr_s, reference_times)
    return out


def centre_offsets_mm(predicted: np.ndarray, reference: np.ndarray, spacing_mm, apex_normal: np.ndarray) -> np.ndarray:
    """(T, 2) where the predicted MV centre lies from the reference's, in mm: [0] along ``apex_normal``
    (a unit (2,) vector in mm axes, toward the apex +), [1] along the reference's MV line of each frame
    (from its first point to its second +). Says which way a lost network went: toward the atrium,
    past the apex, or sideways (e.g. onto the RA of a 4CH, beyond the second-named, septal point)."""
    offset = points_to_mm(predicted.mean(axis=1) - reference.mean(axis=1), spacing_mm)
    line = points_to_mm(reference[:, 1] - reference[:, 0], spacing_mm)
    line = line / np.maximum(np.linalg.norm(line, axis=-1, keepdims=True), 1e-9)
    return np.stack([offset @ np.asarray(apex_normal, dtype=float), np.sum(offset * line, axis=-1)], axis=-1)
