"""Stage 2 standardisation: isotropic 0.75 mm pixels, MV line horizontal, apex down, 118 x 162 crop.

One affine per cine, built from the two MV points of the first frame and the motion of all frames:

* the MV centre of the first frame goes to the crop centre;
* the first named point (anterior in 2CH, lateral in 4CH) goes to the left, the second to the right;
* the normal of the MV line that points toward the apex goes down (+y). The apex side is decided
  from the motion: over the cycle the points move toward the apex, never beyond the end-diastolic
  plane toward the atrium for long.

With the left/right and up/down rules both imposed, the map can include a mirror image; that is
intended (the paper's "both flips").

MVnet's MATLAB code resamples to 1.5 mm, crops 59 x 81 and upsamples x2; here the cine is resampled
directly onto the 0.75 mm grid with one cubic interpolation, which is the same geometry in one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.geometry.affine import apply_affine, scaling, translation, warp_frames

STANDARD_SPACING_MM = 0.75
CROP_SHAPE = (118, 162)  # rows, cols: 88.5 x 121.5 mm
#: Below this MV line length (mm) the line's direction is too uncertain to orient the crop; the
#: direction of the annulus motion (toward the apex) orients it instead.
MIN_LINE_FOR_ORIENTATION_MM = 12.0


def points_to_mm(points_px: np.ndarray, pixel_spacing_mm: tuple[float, float]) -> np.ndarray:
    """(..., 2) (x, y) pixels -> (..., 2) mm in the same axes; spacing is (row, col)."""
    return np.asarray(points_px, dtype=np.float64) * np.array([pixel_spacing_mm[1], pixel_spacing_mm[0]])


def apex_normal_mm(points_px: np.ndarray, pixel_spacing_mm: tuple[float, float]) -> np.ndarray:
    """Unit normal (2,) of the first frame's MV line, in mm axes, pointing toward the apex.

    Args:
        points_px: (T, 2, 2) MV points per frame, (x, y) pixels.
        pixel_spacing_mm: (row, col).

    The sign is chosen so that the mean displacement of the MV centre over the cycle is positive:
    the annulus spends the cycle apical to its end-diastolic position. With no motion at all
    (a single frame), the normal pointing down the image is returned.
    """
    points_mm = points_to_mm(points_px, pixel_spacing_mm)
    direction = points_mm[0, 1] - points_mm[0, 0]
    length = np.linalg.norm(direction)
    if length == 0:
        raise ValueError("the two MV points coincide in the first frame")
    direction /= length
    normal = np.array([-direction[1], direction[0]])
    centres = points_mm.mean(axis=1)
    motion = float(np.mean((centres - centres[0]) @ normal))
    if motion < 0 or (motion == 0 and normal[1] < 0):
        normal = -normal
    return normal


def motion_direction_mm(points_mm: np.ndarray) -> np.ndarray | None:
    """Unit direction (2,) of the MV centre's largest excursion from its first position, or None."""
    centres = points_mm.mean(axis=1)
    offsets = centres - centres[0]
    norms = np.linalg.norm(offsets, axis=1)
    if norms.max() < 1.0:
        return None
    return offsets[int(np.argmax(norms))] / norms.max()


@dataclass(frozen=True)
class Standardisation:
    """The stage-2 map of one cine: stored-frame pixels <-> standardised 0.75 mm crop pixels.

    Attributes:
        matrix: 3x3, stored-frame (x, y) -> standardised (x, y).
        out_shape: (rows, cols) of the crop, normally (118, 162).
    """

    matrix: np.ndarray
    out_shape: tuple[int, int] = CROP_SHAPE

    def to_standard(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def to_original(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(np.linalg.inv(self.matrix), points)

    def warp(self, frames: np.ndarray, coefficients: np.ndarray | None = None) -> np.ndarray:
        """(T, H, W) stored frames -> (T, 118, 162) standardised frames, cubic (optionally from
        precomputed spline coefficients of the frames)."""
        return warp_frames(frames, self.matrix, self.out_shape, order=3, coefficients=coefficients)

    @property
    def is_mirrored(self) -> bool:
        return bool(np.linalg.det(self.matrix[:2, :2]) < 0)

    def to_dict(self) -> dict:
        return {"matrix": self.matrix.tolist(), "out_shape": list(self.out_shape)}

    @classmethod
    def from_dict(cls, data: dict) -> "Standardisation":
        return cls(np.asarray(data["matrix"], dtype=np.float64), tuple(data["out_shape"]))


def standardisation_from_points(
    points_px: np.ndarray,
    pixel_spacing_mm: tuple[float, float],
    spacing_out_mm: float = STANDARD_SPACING_MM,
    out_shape: tuple[int, int] = CROP_SHAPE,
) -> Standardisation:
    """Build the standardisation of a cine from its (T, 2, 2) MV points (x, y pixels).

    ``points_px[:, 0]`` is the point placed on the left (anterior / lateral).
    """
    points_px = np.asarray(points_px, dtype=np.float64)
    if points_px.ndim == 2:
        points_px = points_px[None]
    points_mm = points_to_mm(points_px, pixel_spacing_mm)
    centre_mm = points_mm[0].mean(axis=0)
    right = points_mm[0, 1] - points_mm[0, 0]
    length = np.linalg.norm(right)
    motion = motion_direction_mm(points_mm)
    if length < MIN_LINE_FOR_ORIENTATION_MM and motion is not None:
        # A collapsed first guess: orient by the motion, keep the named point on the left.
        down = motion
        right = np.array([-down[1], down[0]])
        if length > 0 and (points_mm[0, 1] - points_mm[0, 0]) @ right < 0:
            right = -right
    else:
        right /= length
        down = apex_normal_mm(points_px, pixel_spacing_mm)
    # Rows of the rotation/mirror: the target x axis along the MV line, the target y axis toward the apex.
    basis = np.eye(3)
    basis[0, :2] = right
    basis[1, :2] = down
    rows, cols = out_shape
    crop_centre = ((cols - 1) / 2.0, (rows - 1) / 2.0)
    matrix = (
        translation(*crop_centre)
        @ scaling(1.0 / spacing_out_mm, 1.0 / spacing_out_mm)
        @ basis
        @ translation(-centre_mm[0], -centre_mm[1])
        @ scaling(pixel_spacing_mm[1], pixel_spacing_mm[0])
    )
    return Standardisation(matrix=matrix, out_shape=out_shape)
