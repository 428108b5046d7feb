"""The paper's augmentation: scale +-10 %, rotation +-10 degrees, translation +-3 px, applied to the
image and its points together (one affine about the image centre). NumPy/SciPy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.geometry.affine import apply_affine, translation, warp_frames


@dataclass(frozen=True)
class AugmentConfig:
    scale: float = 0.10  # +- fraction
    rotation_deg: float = 10.0  # +- degrees
    translation_px: float = 3.0  # +- pixels
    intensity_gamma: float = 0.3  # +- log-gamma of a random contrast curve (0: off); beyond the paper
    noise: float = 0.03  # SD of added noise relative to the image's 99th percentile (0: off)
    # Beyond the paper: with this probability also turn the (square, stage-1) image by a multiple of
    # 90 degrees and/or mirror it, so any heart orientation a scanner may display is seen in training.
    right_angle_probability: float = 0.0
    # The points are in image order (2CH, see mvtrack.geometry.image_order): a mirrored copy swaps
    # them, since a mirror turns "left of the apex direction" into "right".
    image_order: bool = False


def random_affine(shape_hw: tuple[int, int], config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """3x3 map (x, y) -> (x, y) of a random similarity about the image centre."""
    height, width = shape_hw
    scale = 1.0 + rng.uniform(-config.scale, config.scale)
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
    shift = rng.uniform(-config.translation_px, config.translation_px, 2)
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    if height == width and rng.random() < config.right_angle_probability:
        angle += np.pi / 2 * rng.integers(0, 4)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    if height == width and rng.random() < config.right_angle_probability / 2:
        rotation = np.diag([-1.0, 1.0, 1.0]) @ rotation
    return translation(centre[0] + shift[0], centre[1] + shift[1]) @ np.diag([scale, scale, 1.0]) @ rotation @ translation(
        -centre[0], -centre[1])


def augment(image: np.ndarray, points: np.ndarray, config: AugmentConfig, rng: np.random.Generator):
    """(H, W) image and (2, 2) points -> augmented copies (same shapes)."""
    matrix = random_affine(image.shape, config, rng)
    warped = warp_frames(image.astype(np.float32), matrix, image.shape, order=1)
    if config.intensity_gamma > 0:
        low = float(warped.min())
        span = max(float(warped.max()) - low, 1e-6)
        warped = low + span * ((warped - low) / span) ** np.exp(rng.uniform(-config.intensity_gamma, config.intensity_gamma))
    if config.noise > 0:
        warped = warped + rng.normal(0, config.noise * float(np.percentile(warped, 99)), warped.shape).astype(np.float32)
    points = apply_affine(matrix, points)
    if config.image_order and np.linalg.det(matrix[:2, :2]) < 0:
        points = points[::-1].copy()
    return warped, points
