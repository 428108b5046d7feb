"""Synthetic short-axis cines (no MV points): negatives for view recognition (issue 17).

A slice across the LV at a random level from base to apex: a round LV cavity in a myocardial ring
with papillary muscles, the RV crescent on the septal side (absent near the apex), epicardial fat and
pericardium, all contracting over the cycle, in the same torso, contrasts and acquisition as the
long-axis views (:mod:`mvtrack.synth.generator`). Basal slices may cut the LV outflow tract and the
aortic root beside the cavity, as real basal short-axis slices do.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mvtrack.io.cine import Cine
from mvtrack.synth import anatomy as A
from mvtrack.synth import appearance as G
from mvtrack.synth.motion import mv_displacement_mm
from mvtrack.synth.scene import _background_labels, _sample_motion

SHORT_AXIS = "SAX"


def _inside(u, v, cu, cv, au, av):
    return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2 < 1.0


def render_short_axis(rng: np.random.Generator, fine: int = 2) -> Cine:
    """One short-axis cine, view "SAX", geometry as a long-axis view's (no orientation)."""
    motion = _sample_motion(rng, bool(rng.random() < 0.12))
    level = rng.uniform(0.0, 1.0)  # 0 base, 1 apex
    size = rng.uniform(0.92, 1.25)
    cavity_mm = rng.uniform(18, 30) * size * (1.0 - 0.6 * level**2)
    wall_mm = rng.uniform(6.5, 12) * (1.0 - 0.3 * level)
    rv_mm = rng.uniform(14, 30) * size * max(0.0, 1.0 - level / rng.uniform(0.7, 1.0))
    ovality = rng.uniform(0.85, 1.15)
    n_frames = int(rng.integers(20, 51))
    times = np.arange(n_frames) * motion.rr_s / n_frames
    contraction = np.clip(mv_displacement_mm(motion, times) / max(motion.mapse_mm, 1e-6), 0, 1.2)
    ef_radial = rng.uniform(0.12, 0.38)

    spacing = rng.uniform(1.2, 2.2)
    spacing_rc = (spacing, spacing)
    fov_mm = rng.uniform(250, 420)
    cols = int(np.clip(round(fov_mm / spacing / 2) * 2, 160, 320))
    rows = int(np.clip(round(cols * rng.uniform(0.75, 1.3) / 2) * 2, 160, 320))
    fy, fx = np.mgrid[0:rows * fine, 0:cols * fine].astype(np.float64)
    y_mm, x_mm = fy / fine * spacing, fx / fine * spacing
    fov = np.array([cols * spacing, rows * spacing])
    centre = fov / 2 + rng.uniform(-0.2, 0.2, 2) * fov
    angle = rng.uniform(0, 2 * np.pi)  # direction from the LV centre to the RV
    e_u = np.array([np.cos(angle), np.sin(angle)])
    e_v = np.array([-e_u[1], e_u[0]])
    background = _background_labels(x_mm, y_mm, centre, e_v, rng, "4CH")
    lut = G._tissue_intensities(rng)
    texture = G._smooth_field(background.shape, rng, rng.uniform(2, 8), rng.uniform(0.03, 0.12))
    static_gain = G._bias_field(background.shape, rng) * G._banding(background.shape, rng)
    dx, dy = x_mm - centre[0], y_mm - centre[1]
    u, v = dx * e_u[0] + dy * e_u[1], dx * e_v[0] + dy * e_v[1]
    warp = rng.uniform(0.0, 3.0)
    u = u + (G._smooth_field(u.shape, rng, 12 * fine / spacing, 1.0) - 1.0) * warp
    v = v + (G._smooth_field(u.shape, rng, 12 * fine / spacing, 1.0) - 1.0) * warp
    papillary = [(rng.uniform(0.45, 0.7), rng.uniform(-2.4, -0.7) + k * rng.uniform(1.2, 2.2), rng.uniform(3, 6))
                 for k in range(2) if level < 0.8 and rng.random() < 0.85]
    outflow = level < 0.25 and rng.random() < 0.5
    root_mm = rng.uniform(9, 14)  # the aortic root's radius, one per cine
    fat_mm, rv_wall = rng.uniform(0.5, 4.5), rng.uniform(2.5, 5.0)
    snr, ghost = rng.uniform(12, 60), (rng.uniform(0, 0.06) if rng.random() < 0.5 else 0.0)
    zero_fill = 1.0 if rng.random() < 0.3 else rng.uniform(1.2, 2.0)
    acq_spacing = np.minimum(np.array(spacing_rc) * zero_fill, 3.0)
    phase_axis = int(rng.integers(0, 2))
    frames = np.empty((n_frames, rows, cols), np.float32)
    for index in range(n_frames):
        squeeze = contraction[index]
        radius = cavity_mm * (1.0 - ef_radial * squeeze)
        wall = wall_mm * (1.0 + 0.45 * squeeze)
        outer = radius + wall
        labels = background.copy()
        rv_centre = outer * 0.55
        envelope = _inside(u, v, 0, 0, outer + fat_mm, (outer + fat_mm) * ovality)
        if rv_mm > 3:
            envelope |= _inside(u, v, rv_centre, 0, outer * 0.55 + rv_mm + rv_wall + fat_mm, outer + rv_wall + fat_mm)
        labels[envelope] = A.EPI_FAT
        labels[envelope & ~ndimage.binary_erosion(envelope)] = A.PERICARDIUM
        if rv_mm > 3:
            rv_outer = _inside(u, v, rv_centre, 0, outer * 0.55 + rv_mm + rv_wall, outer + rv_wall)
            labels[rv_outer] = A.RV_MYO
            labels[_inside(u, v, rv_centre, 0, outer * 0.55 + rv_mm, outer)] = A.RV_BLOOD
        labels[_inside(u, v, 0, 0, outer, outer * ovality)] = A.LV_MYO
        cavity = _inside(u, v, 0, 0, radius, radius * ovality)
        labels[cavity] = A.LV_BLOOD
        for distance, at, size_mm in papillary:
            pu, pv = distance * radius * np.cos(at), distance * radius * np.sin(at)
            labels[cavity & (np.hypot(u - pu, v - pv) < size_mm * (1 + 0.3 * squeeze))] = A.PAPILLARY
        if outflow:  # the LV outflow tract and aortic root cut beside the cavity
            labels[np.hypot(u + outer * 0.2, v + outer * 0.9) < root_mm] = A.AORTA
        image = lut[labels] * texture
        image *= static_gain * rng.uniform(0.97, 1.03)
        frames[index] = G._acquire(image, rows, cols, fine, spacing_rc, acq_spacing, phase_axis, snr, ghost, rng)
    frames = G.stored_12bit(frames, rng)
    return Cine(frames=frames, pixel_spacing_mm=spacing_rc, times_s=times, rr_s=float(motion.rr_s), view=SHORT_AXIS,
                view_source="synthetic", series_description="sa cine")
