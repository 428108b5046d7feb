"""Appearance randomisation of the synthetic cines: what differs between scanners, not between hearts.

Tissue intensities (bSSFP-like, or fully random for a share of views: SynthSeg-like domain
randomisation), smooth multiplicative fields (texture, coil bias), bSSFP banding, the acquisition
(k-space truncated to the acquired resolution and zero-filled to the stored matrix, ghosting, complex
noise, magnitude) and 12-bit storage, and the vendors' series descriptions. Each random range is
listed in ``docs/SYNTHETIC.md``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mvtrack.synth import anatomy as A

VENDORS = {
    "SIEMENS": {"2CH": ["CINE_segmented_LAX_2Ch", "tf2d_2ch", "cine 2CH", "trufi_LAX_2CV"],
                "4CH": ["CINE_segmented_LAX_4Ch", "tf2d_4ch", "cine 4CH", "trufi_LAX_4CV"],
                "3CH": ["CINE_segmented_LAX_3Ch", "tf2d_3ch", "cine 3CH", "trufi_LVOT"]},
    "Philips Medical Systems": {"2CH": ["sBTFE_2CH", "BTFE_VLA", "cine_2ch_bh", "B-TFE 2ch"],
                                "4CH": ["sBTFE_4CH", "BTFE_HLA", "cine_4ch_bh", "B-TFE 4ch"],
                                "3CH": ["sBTFE_3CH", "BTFE_LVOT", "cine_3ch_bh", "B-TFE 3ch"]},
    "GE MEDICAL SYSTEMS": {"2CH": ["FIESTA CINE 2CH", "2 CH FIESTA", "FIESTA VLA", "Cine 2 ch"],
                           "4CH": ["FIESTA CINE 4CH", "4 CH FIESTA", "FIESTA HLA", "Cine 4 ch"],
                           "3CH": ["FIESTA CINE 3CH", "3 CH FIESTA", "FIESTA LVOT", "Cine 3 ch"]},
}


#: Share of rendered views whose tissues get fully random intensities (SynthSeg-like domain randomisation).
RANDOM_CONTRAST_PROBABILITY = 0.15


def _tissue_intensities(rng: np.random.Generator, random_probability: float = RANDOM_CONTRAST_PROBABILITY) -> np.ndarray:
    """bSSFP-like relative intensity per label; with ``random_probability`` fully random (domain randomisation)."""
    lut = np.zeros(A.N_LABELS)
    if rng.random() < random_probability:
        lut[:] = rng.uniform(0.05, 1.0, A.N_LABELS)
        lut[A.AIR] = rng.uniform(0.0, 0.05)
        lut[[A.LV_BLOOD, A.LA_BLOOD, A.RV_BLOOD, A.RA_BLOOD]] = rng.uniform(0.3, 1.0)  # one blood pool
        return lut
    blood = rng.uniform(0.75, 1.0)
    myo = rng.uniform(0.12, 0.48)
    fat = rng.uniform(0.55, 1.0)
    lut[A.AIR] = rng.uniform(0.0, 0.02)
    lut[A.MUSCLE] = myo * rng.uniform(0.8, 1.3)
    lut[A.SUBCUT_FAT] = fat * rng.uniform(0.5, 1.1)
    lut[A.LUNG] = rng.uniform(0.02, 0.12)
    lut[A.LIVER] = rng.uniform(0.22, 0.5)
    lut[A.SPINE] = rng.uniform(0.25, 0.6)
    lut[A.AORTA] = blood * rng.uniform(0.6, 1.05)
    lut[A.EPI_FAT] = fat if rng.random() < 0.6 else rng.uniform(0.1, 0.6)
    lut[A.PERICARDIUM] = rng.uniform(0.02, 0.2)
    lut[A.LV_MYO] = myo
    lut[[A.LV_BLOOD, A.LA_BLOOD, A.RV_BLOOD, A.RA_BLOOD]] = blood * rng.uniform(0.8, 1.1, 4)
    lut[A.LA_WALL] = myo * rng.uniform(0.8, 1.8)  # thin: partial volume with blood
    lut[A.RA_WALL] = lut[A.LA_WALL]
    lut[A.LEAFLET] = blood * rng.uniform(0.2, 0.9)  # thin: often barely darker than blood in real cines
    lut[A.RV_MYO] = myo * rng.uniform(0.9, 1.2)
    lut[A.PAPILLARY] = myo * rng.uniform(0.9, 1.3)
    lut[A.CORONARY] = blood * rng.uniform(0.5, 1.0)
    lut[list(A.CLUTTER)] = rng.uniform(0.02, 1.0, len(A.CLUTTER))
    return lut


def _smooth_field(shape, rng, sigma_px, amplitude):
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="wrap")
    field /= field.std() + 1e-9
    return 1.0 + amplitude * field


def _bias_field(shape, rng):
    """Smooth coil sensitivity: a few Gaussian 'coils' around the FOV plus a gradient."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    rows = rows / shape[0] - 0.5
    cols = cols / shape[1] - 0.5
    bias = np.full(shape, rng.uniform(0.3, 0.7))
    for _ in range(rng.integers(2, 6)):
        centre = rng.uniform(-0.7, 0.7, 2)
        width = rng.uniform(0.25, 0.7)
        bias += rng.uniform(0.3, 1.0) * np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * width**2))
    return bias / bias.max()


def _banding(shape, rng):
    """bSSFP off-resonance dark bands: thin stripes where a smooth field-map phase crosses +-pi."""
    if rng.random() > 0.35:
        return np.ones(shape)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    phase = rng.uniform(-1, 1) * rows / shape[0] * rng.uniform(2, 10) + rng.uniform(-1, 1) * cols / shape[1] * rng.uniform(2, 10)
    phase = phase * np.pi + 3 * (_smooth_field(shape, rng, shape[0] / 8, 1.0) - 1)
    distance = np.abs(np.angle(np.exp(1j * phase)))  # 0 .. pi; bands where it is pi
    return 1.0 - rng.uniform(0.5, 0.95) * np.exp(-((np.pi - distance) ** 2) / (2 * rng.uniform(0.05, 0.15) ** 2))


def stored_12bit(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames as a scanner stores them: vendors put intensities on different scales (99.5th percentile
    at 300-4000), rounded and clipped to 12 bits."""
    frames = frames * (rng.uniform(300, 4000) / max(float(np.percentile(frames, 99.5)), 1e-6))
    return np.clip(np.round(frames), 0, 4095).astype(np.float32)


def _acquire(image, rows, cols, fine, spacing_rc, acq_spacing, phase_axis, snr, ghost, rng):
    """Fine image -> stored image: k-space truncation to the acquired resolution, zero-fill, noise."""
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    fr, fc = image.shape
    # Keep the central rows x cols of the fine spectrum (the stored matrix) ...
    r0, c0 = (fr - rows) // 2, (fc - cols) // 2
    spectrum = spectrum[r0:r0 + rows, c0:c0 + cols] / (fine * fine)
    # ... and zero all but the acquired part of it (zero-filling).
    keep_r = int(round(rows * spacing_rc[0] / acq_spacing[0] / 2))
    keep_c = int(round(cols * spacing_rc[1] / acq_spacing[1] / 2))
    mask = np.zeros((rows, cols), bool)
    mask[rows // 2 - keep_r: rows // 2 + keep_r, cols // 2 - keep_c: cols // 2 + keep_c] = True
    spectrum = spectrum * mask
    # Ghosts along the phase-encode direction: a fraction of the lines modulated.
    if ghost > 0:
        modulation = np.ones(rows if phase_axis == 0 else cols)
        modulation[::2] += ghost * rng.uniform(0.5, 1.5)
        spectrum = spectrum * (modulation[:, None] if phase_axis == 0 else modulation[None, :])
    complex_image = np.fft.ifft2(np.fft.ifftshift(spectrum))
    sigma = np.percentile(np.abs(complex_image), 99) / snr
    noise = rng.normal(0, sigma, (2, rows, cols))
    return np.abs(complex_image + noise[0] + 1j * noise[1]).astype(np.float32)
