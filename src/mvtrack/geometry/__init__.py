"""Coordinate maps of the two-stage method and their exact inverses (NumPy/SciPy only).

Convention, stated once for all of mvtrack: a point is ``(x, y)`` = ``(column, row)`` in pixels of
the stored frame, origin at the centre of the top-left pixel. A point array has shape (..., 2).
Millimetres appear only in names ending ``_mm``. Every map here is a 3x3 homogeneous matrix that
takes source-pixel points to target-pixel points.
"""

from mvtrack.geometry.affine import apply_affine, warp_frames
from mvtrack.geometry.stage1 import STAGE1_SIZE, Stage1Map
from mvtrack.geometry.standardise import (
    CROP_SHAPE,
    STANDARD_SPACING_MM,
    Standardisation,
    apex_normal_mm,
    standardisation_from_points,
)

__all__ = [
    "CROP_SHAPE", "STAGE1_SIZE", "STANDARD_SPACING_MM", "Stage1Map", "Standardisation",
    "apex_normal_mm", "apply_affine", "standardisation_from_points", "warp_frames",
]
