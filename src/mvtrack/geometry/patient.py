"""Stored-frame pixels <-> DICOM patient coordinates (LPS, mm), and where two image planes meet.

A cine's plane is given by ImageOrientationPatient (row direction then column direction, unit
vectors) and ImagePositionPatient (the centre of the top-left pixel). A pixel (x = column, y = row)
with PixelSpacing (row, col) mm lies at ``position + x * col_mm * row_dir + y * row_mm * col_dir``
(DICOM PS3.3 C.7.6.2.1.1: the row direction is the one along which the column index grows).
"""

from __future__ import annotations

import numpy as np


def pixels_to_patient_mm(points_px: np.ndarray, orientation: np.ndarray, position_mm: np.ndarray,
                         pixel_spacing_mm: tuple[float, float]) -> np.ndarray:
    """(..., 2) (x, y) stored pixels -> (..., 3) patient mm (LPS)."""
    orientation = np.asarray(orientation, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:]
    points = np.asarray(points_px, dtype=float)
    return (np.asarray(position_mm, dtype=float) + points[..., :1] * pixel_spacing_mm[1] * row_dir
            + points[..., 1:2] * pixel_spacing_mm[0] * col_dir)


def patient_mm_to_pixels(points_mm: np.ndarray, orientation: np.ndarray, position_mm: np.ndarray,
                         pixel_spacing_mm: tuple[float, float]) -> np.ndarray:
    """(..., 3) patient mm -> (..., 2) (x, y) stored pixels of their orthogonal projection on the plane."""
    orientation = np.asarray(orientation, dtype=float)
    relative = np.asarray(points_mm, dtype=float) - np.asarray(position_mm, dtype=float)
    x = relative @ orientation[:3] / pixel_spacing_mm[1]
    y = relative @ orientation[3:] / pixel_spacing_mm[0]
    return np.stack([x, y], axis=-1)


def plane_normal(orientation: np.ndarray) -> np.ndarray:
    orientation = np.asarray(orientation, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return normal / np.linalg.norm(normal)


def plane_intersection(orientation_a: np.ndarray, position_a_mm: np.ndarray, orientation_b: np.ndarray,
                       position_b_mm: np.ndarray, min_angle_deg: float = 20.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The line where two image planes meet: (a point on it, unit direction), patient mm.

    None when the planes are within ``min_angle_deg`` of parallel (their line is then ill-defined:
    a small tilt moves it far).
    """
    return planes_line(plane_normal(orientation_a), position_a_mm, plane_normal(orientation_b), position_b_mm,
                       min_angle_deg)


def planes_line(normal_a: np.ndarray, point_a_mm: np.ndarray, normal_b: np.ndarray, point_b_mm: np.ndarray,
                min_angle_deg: float = 20.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The line where the planes through ``point_a_mm`` and ``point_b_mm`` with unit normals
    ``normal_a``, ``normal_b`` meet: (its point closest to the midpoint of the two points, unit
    direction), or None within ``min_angle_deg`` of parallel."""
    direction = np.cross(normal_a, normal_b)
    sine = np.linalg.norm(direction)
    if sine < np.sin(np.deg2rad(min_angle_deg)):
        return None
    direction /= sine
    point_a_mm, point_b_mm = np.asarray(point_a_mm, dtype=float), np.asarray(point_b_mm, dtype=float)
    a = np.stack([normal_a, normal_b, direction])
    b = np.array([normal_a @ point_a_mm, normal_b @ point_b_mm, direction @ (point_a_mm + point_b_mm) / 2])
    return np.linalg.solve(a, b), direction
