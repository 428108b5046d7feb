"""The paper's augmentation: scale +-10 %, rotation +-10 degrees, translation +-3 px, applied to the
image and its points together (one affine about the image centre). NumPy/SciPy only.

Beyond the paper, optional *appearance randomisation* for single-source domain generalisation
(the networks learn from synthetic cines only and must read real ones): random shallow
convolutions (GIN / RandConv, Ouyang et al., IEEE TMI 2022) mixed with the image, and a BigAug-like
stack (smooth multiplicative bias, blur or sharpening, lower acquired resolution, gamma, noise).
None of them moves the points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

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
    # Appearance randomisation (0: off): the probability of a random shallow-convolution remix
    # (GIN) and, independently, of the BigAug-like stack; see :func:`randomise_appearance`.
    gin_probability: float = 0.0
    bigaug_probability: float = 0.0


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
    if config.gin_probability > 0 or config.bigaug_probability > 0:
        warped = randomise_appearance(warped, config, rng)
    points = apply_affine(matrix, points)
    if config.image_order and np.linalg.det(matrix[:2, :2]) < 0:
        points = points[::-1].copy()
    return warped, points


def random_shallow_convolution(image: np.ndarray, rng: np.random.Generator, max_layers: int = 4,
                               channels: int = 4) -> np.ndarray:
    """GIN: the (H, W) image through a randomly initialised shallow network (1-4 layers of 1x1 or 3x3
    convolutions with random Gaussian weights, leaky ReLU between), rescaled to the input's mean and
    SD. Edges stay where they are while every tissue's brightness and texture is remixed."""
    layers = int(rng.integers(1, max_layers + 1))
    features = [image.astype(np.float32)]
    for layer in range(layers):
        size = int(rng.choice((1, 3)))
        n_out = 1 if layer == layers - 1 else channels
        outputs = []
        for _ in range(n_out):
            total = np.zeros_like(features[0])
            for feature in features:
                kernel = rng.normal(0, 1, (size, size)).astype(np.float32)
                total += ndimage.correlate(feature, kernel, mode="reflect") if size > 1 else kernel[0, 0] * feature
            total += rng.normal(0, 0.1)
            outputs.append(np.where(total > 0, total, 0.2 * total) if layer < layers - 1 else total)
        features = outputs
    out = features[0]
    out = (out - out.mean()) / (out.std() + 1e-6)
    return (out * image.std() + image.mean()).astype(np.float32)


def randomise_appearance(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """(H, W) image -> the same anatomy with a random appearance (see the module docstring)."""
    image = image.astype(np.float32)
    if rng.random() < config.gin_probability:
        alpha = rng.uniform(0.3, 1.0)  # GIN's interpolation with the original keeps some of its look
        image = alpha * random_shallow_convolution(image, rng) + (1 - alpha) * image
    if rng.random() < config.bigaug_probability:
        low = float(np.percentile(image, 0.5))
        span = max(float(np.percentile(image, 99.5)) - low, 1e-6)
        image = np.clip((image - low) / span, 0, None)
        if rng.random() < 0.5:  # smooth coil-like bias: a coarse random field, upsampled
            coarse = rng.normal(0, rng.uniform(0.1, 0.35), (4, 4))
            bias = ndimage.zoom(coarse, (image.shape[0] / 4, image.shape[1] / 4), order=3, mode="nearest")
            image = image * np.exp(_fit(bias, image.shape))
        choice = rng.random()
        if choice < 0.3:
            image = ndimage.gaussian_filter(image, rng.uniform(0.5, 1.5))
        elif choice < 0.55:
            blurred = ndimage.gaussian_filter(image, rng.uniform(0.7, 2.0))
            image = image + rng.uniform(0.3, 1.5) * (image - blurred)
        if rng.random() < 0.4:  # acquired at a lower resolution along one axis, then interpolated
            axis = int(rng.integers(0, 2))
            factor = rng.uniform(1.3, 2.2)
            zoom = [1.0, 1.0]
            zoom[axis] = 1.0 / factor
            small = ndimage.zoom(image, zoom, order=1)
            image = _fit(ndimage.zoom(small, (image.shape[0] / small.shape[0], image.shape[1] / small.shape[1]),
                                      order=1), image.shape)
        image = np.clip(image, 0, None) ** np.exp(rng.uniform(-0.5, 0.5))
        image = image + rng.normal(0, rng.uniform(0, 0.06), image.shape).astype(np.float32)
    return image.astype(np.float32)


def _fit(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop or edge-pad a resampled image to ``shape`` (zoom can be a pixel off)."""
    image = image[:shape[0], :shape[1]]
    return np.pad(image, [(0, shape[0] - image.shape[0]), (0, shape[1] - image.shape[1])], mode="edge")
