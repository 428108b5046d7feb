"""Stage 1 input: the whole frame resized to 160 x 160 (anisotropic pixels, cubic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mvtrack.geometry.affine import apply_affine, scaling, translation, warp_frames

STAGE1_SIZE = 160


@dataclass(frozen=True)
class Stage1Map:
    """The map between a stored frame of (H, W) pixels and the 160 x 160 stage-1 image.

    Pixel centres map to pixel centres of the resized grid: ``x' = (x + 0.5) * 160 / W - 0.5``.
    """

    frame_shape: tuple[int, int]
    size: int = STAGE1_SIZE

    @property
    def matrix(self) -> np.ndarray:
        """3x3 map from stored-frame (x, y) to stage-1 (x, y)."""
        height, width = self.frame_shape
        return translation(-0.5, -0.5) @ scaling(self.size / width, self.size / height) @ translation(0.5, 0.5)

    def to_stage1(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def to_original(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(np.linalg.inv(self.matrix), points)

    def resize(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W) -> (T, 160, 160) float32, cubic; low-pass first where the frame shrinks."""
        height, width = self.frame_shape
        sigma = [0.0] * (frames.ndim - 2) + [
            0.35 * max(height / self.size - 1, 0), 0.35 * max(width / self.size - 1, 0)
        ]
        if any(s > 0 for s in sigma):
            frames = ndimage.gaussian_filter(frames.astype(np.float32), sigma)
        return warp_frames(frames, self.matrix, (self.size, self.size), order=3)
