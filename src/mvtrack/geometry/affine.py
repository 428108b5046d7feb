"""Homogeneous 2D affine maps on (x, y) points and image warping with them."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points (..., 2) in (x, y) through a 3x3 matrix; returns (..., 2) float64."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float) -> np.ndarray:
    return np.diag([sx, sy, 1.0])


def spline_coefficients(frames: np.ndarray, order: int = 3) -> np.ndarray:
    """(T, H, W) cubic-spline coefficients of each frame, to reuse across several warps of one cine."""
    return np.stack([ndimage.spline_filter(f.astype(np.float64), order=order, mode="nearest") for f in frames])


def warp_frames(
    frames: np.ndarray, source_to_target: np.ndarray, out_shape: tuple[int, int], order: int = 3,
    coefficients: np.ndarray | None = None,
) -> np.ndarray:
    """Resample (T, H, W) or (H, W) images onto a target grid.

    Args:
        frames: images in source pixels.
        source_to_target: 3x3 matrix taking source (x, y) to target (x, y).
        out_shape: (rows, cols) of the target image.
        order: spline order (3 = cubic, as the paper).
        coefficients: the frames' spline coefficients from :func:`spline_coefficients`, if already known.

    Returns:
        (T, rows, cols) or (rows, cols) float32; outside the source is filled with the nearest edge
        value so no artificial black border appears.
    """
    target_to_source = np.linalg.inv(source_to_target)
    # scipy works in (row, col): swap x and y on both sides of the map.
    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    rc_matrix = swap @ target_to_source @ swap
    single = frames.ndim == 2
    stack = frames[None] if single else frames
    out = np.empty((stack.shape[0], *out_shape), dtype=np.float32)
    for index, frame in enumerate(stack):
        if coefficients is not None:
            coeffs = coefficients[index]
        elif order > 1:
            coeffs = ndimage.spline_filter(frame.astype(np.float64), order=order, mode="nearest")
        else:
            coeffs = frame
        out[index] = ndimage.affine_transform(
            coeffs, rc_matrix[:2, :2], offset=rc_matrix[:2, 2], output_shape=out_shape,
            order=order, mode="nearest", prefilter=False,
        )
    return out[0] if single else out
