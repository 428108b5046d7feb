"""Synthetic 2CH / 4CH (and, on request, 3CH) cines with ground-truth MV points in every frame.

Two ideas make synthetic training carry over to real scans: anatomy that moves like a heart
(an MRXCAT-like phantom, here 2D and analytic: :mod:`mvtrack.synth.anatomy` and
:mod:`mvtrack.synth.motion`), and domain randomisation of everything that differs between scanners
(SynthSeg-like: contrasts, resolution, noise, bias, artefacts). Each random range is listed in
``docs/SYNTHETIC.md``.

Pipeline per view: a label map on a grid twice as fine as the stored one (background once, the
heart each frame) -> intensities with textures -> coil bias and bSSFP banding -> k-space truncated
to the acquired resolution and zero-filled to the stored matrix (Gibbs ringing and zero-fill
blur come for free) -> wrap-around, ghosting -> complex noise, magnitude (Rician) -> 12-bit storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from mvtrack.geometry.exam import turned_about
from mvtrack.io.cine import POINT_NAMES, Cine
from mvtrack.synth import anatomy as A
from mvtrack.synth.motion import MotionParams, mv_displacement_mm, physiological_timing

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


@dataclass
class SyntheticView:
    """One rendered view: the cine, its truth points (T, 2, 2) in stored pixels, and extras for tests."""

    cine: Cine
    points_px: np.ndarray
    point_names: tuple[str, str]
    vendor: str
    series_description: str
    # With keep_fine_labels: (T, 2, P, P) label patches around each truth point on the fine grid, their
    # top-left fine pixel (T, 2, 2) as (col, row), and the fine factor (stored coordinate = fine / factor).
    label_patches: np.ndarray | None = None
    patch_origins: np.ndarray | None = None
    fine_factor: int = 2
    params: dict = field(default_factory=dict)


@dataclass
class SyntheticSubject:
    subject_id: str
    views: dict[str, SyntheticView]
    motion: MotionParams
    atrial_fibrillation: bool


# --------------------------------------------------------------------------------------------
# Sampling of anatomy and motion


def _sample_shape(view: str, rng: np.random.Generator, dilated: bool, hypertrophy: bool) -> A.HeartShape:
    size = rng.uniform(0.92, 1.2)  # body size: scales every chamber, not the walls
    length = rng.uniform(78, 100) * size * (1.12 if dilated else 1.0)
    half_width = rng.uniform(20, 30) * size * (1.3 if dilated else 1.0)
    wall = rng.uniform(13, 19) if hypertrophy else rng.uniform(6.5, 11)
    annulus = rng.uniform(12.5, 18.5) * size * (1.12 if dilated else 1.0)
    annulus = min(annulus, 0.85 * half_width)
    thin = None
    if rng.random() < 0.15:
        v0 = rng.uniform(0.3, 0.6) * length
        thin = (float(rng.choice([-1, 1])), v0, v0 + rng.uniform(15, 35))
    papillary = []
    for side in (-1, 1):
        if rng.random() < 0.8:
            papillary.append((side * rng.uniform(0.45, 0.7), rng.uniform(0.05, 0.45), rng.uniform(3, 6),
                              rng.uniform(6, 12)))
    return A.HeartShape(
        view=view,
        annulus_half_mm=annulus,
        lv_length_mm=length,
        lv_half_width_mm=half_width,
        wall_mm=wall,
        apex_wall_mm=wall * rng.uniform(0.5, 0.8),
        thin_segment=thin,
        la_half_width_mm=max(annulus + 2, rng.uniform(16, 32) * size),
        la_height_mm=rng.uniform(32, 68) * size,
        la_wall_mm=rng.uniform(1.2, 2.8),
        leaflet_lengths_mm=(annulus * rng.uniform(0.75, 1.0), annulus * rng.uniform(0.45, 0.7)),
        leaflet_thickness_mm=rng.uniform(0.8, 2.4),
        fat_mm=rng.uniform(0.5, 4.5),
        la_fat_mm=rng.uniform(0.0, 2.5),
        avgroove_fat_mm=rng.uniform(3.0, 10.0),
        papillary=papillary,
        rv_half_width_mm=rng.uniform(14, 32) * size,
        rv_length_frac=rng.uniform(0.7, 0.95),
        rv_wall_mm=rng.uniform(2.5, 5.0),
        ra_half_width_mm=rng.uniform(16, 30) * size,
        ra_height_mm=rng.uniform(32, 62) * size,
        tricuspid_offset_mm=rng.uniform(3, 12),
        coronary_mm=rng.uniform(1.5, 4.5),
        coronary_sides=_coronary_sides(view, rng),
        # drawn last and only for a 3CH, so that 2CH and 4CH subjects stay what they were
        **(dict(aortic_root_mm=rng.uniform(10, 16) * size, aortic_wall_mm=rng.uniform(1.2, 2.8),
                aortic_lean_deg=rng.uniform(15, 45)) if view == "3CH" else {}),
    )


def _coronary_sides(view: str, rng: np.random.Generator) -> tuple[int, ...]:
    """AV-groove vessels: beside the 2CH inferior or 3CH inferolateral (second-named) point, or the 4CH
    lateral (first-named) one."""
    usual = -1 if view == "4CH" else 1
    if rng.random() < 0.4:
        return (usual, -usual)
    return (usual,) if rng.random() < 0.9 else ()


def _sample_motion(rng: np.random.Generator, af: bool) -> MotionParams:
    heart_rate = rng.uniform(40, 120)
    rr = round(60.0 / heart_rate, 3)  # whole ms, as NominalInterval stores it
    mapse = float(np.clip(rng.normal(12.5, 3.5), 4, 22))
    e_over_a = 1e6 if af else float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
    return MotionParams(rr_s=rr, mapse_mm=mapse, e_over_a=e_over_a, **physiological_timing(rr, rng))


def _leaflet_opening(motion: MotionParams, t: np.ndarray) -> np.ndarray:
    """0 closed from end-diastole through isovolumic relaxation; open with e' and a'; half-open in diastasis."""
    t = np.mod(t, motion.rr_s)
    e_start, e_end = motion.e_start_s, motion.e_start_s + motion.e_duration_s
    opening = np.clip((t - e_start + 0.01) / 0.04, 0, 1)
    diastasis = np.where(t > e_end + 0.05, 0.45, 1.0)
    a_phase = (t > motion.a_start_s - 0.02) & (t < motion.rr_s - 0.015)
    closing = np.clip((motion.rr_s - t) / 0.03, 0, 1)
    open_level = np.where(a_phase, 0.85, diastasis)
    if motion.e_over_a > 1e5:  # no atrial kick: stays half-open until closure
        open_level = diastasis
    return opening * open_level * closing


# --------------------------------------------------------------------------------------------
# Appearance


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


@dataclass
class HingeLook:
    """How the annulus looks in one rendered view (issue 13: real hinges lack the generator's cues).

    ``la_wall_visibility`` and ``leaflet_visibility`` (T,) scale, frame by frame, how far the LA wall
    and the leaflets differ from what surrounds them (1: the generator's contrast, 0: invisible):
    through-plane motion, partial volume and flow make them come and go over the cycle in real cines.
    ``la_wall_as``: the label whose intensity the LA wall fades to (blood, or the fat outside it).
    """

    la_wall_visibility: np.ndarray
    leaflet_visibility: np.ndarray
    la_wall_as: int


def _hinge_look(shape: A.HeartShape, n_frames: int, rng: np.random.Generator) -> tuple[A.HeartShape, HingeLook]:
    """A view whose hinge looks as real ones often do: no waist between LV and LA (the LA no wider than
    the annulus just above it), a faint or invisible LA wall and leaflets whose visibility changes over
    the cycle, an AV-groove fat pad of any size, and one blood pool from LV to LA (no step in intensity
    along the MV line, which would draw the line through both hinges)."""
    if rng.random() < 0.6:
        shape = replace(shape, la_half_width_mm=shape.annulus_half_mm * rng.uniform(1.0, 1.25))
    shape = replace(shape, avgroove_fat_mm=rng.uniform(0.0, 14.0), la_fat_mm=rng.uniform(0.0, 5.0))
    phase = 2 * np.pi * np.arange(n_frames) / n_frames

    def visibility() -> np.ndarray:
        """(T,) in 0..1: between two random levels, once or twice a cycle, with frame-to-frame flicker."""
        low, high = np.sort(rng.uniform(0.0, 1.0, 2))
        wave = 0.5 + 0.5 * np.sin(phase * rng.integers(1, 3) + rng.uniform(0, 2 * np.pi))
        return np.clip(low + (high - low) * wave + rng.normal(0, 0.08, n_frames), 0, 1)

    la_wall = visibility() if rng.random() < 0.6 else np.zeros(n_frames)  # often not seen at all
    return shape, HingeLook(la_wall_visibility=la_wall, leaflet_visibility=visibility(),
                            la_wall_as=int(rng.choice([A.LA_BLOOD, A.EPI_FAT])))


@dataclass
class DarkWalls:
    """Dark walls around the annulus, as bSSFP often shows them (issue 13: in real 4CH diastole the dark
    band of the lateral wall runs on past the hinge, so its end is not the hinge).

    ``la_wall_mm``: a thicker LA / RA wall; ``wall_gain``: its intensity as a share of the LV
    myocardium's (about as dark); ``ink_gain``: the intensity kept on the chemical-shift ("India ink")
    lines one acquired pixel wide where fat meets water, which outline the AV-groove fat pad;
    ``la_widening``: the LA's half-width as a multiple of the annulus's, or None to keep the drawn one
    (near 1: no waist, so the dark wall runs straight on from the LV wall past the hinge)."""

    la_wall_mm: float
    wall_gain: float
    ink_gain: float
    la_widening: float | None


def _dark_walls(rng: np.random.Generator) -> DarkWalls:
    return DarkWalls(la_wall_mm=rng.uniform(2.5, 5.0), wall_gain=rng.uniform(0.6, 1.1), ink_gain=rng.uniform(0.1, 0.5),
                     la_widening=rng.uniform(1.0, 1.15) if rng.random() < 0.6 else None)


def chemical_shift_lines(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: the label pixels on either side of a fat-water boundary (two fine pixels, one acquired
    pixel at the generator's oversampling of 2). Air and lung have too little signal to show one."""
    fat = np.isin(labels, (A.EPI_FAT, A.SUBCUT_FAT))
    water = ~fat & ~np.isin(labels, (A.AIR, A.LUNG))
    return (fat & ndimage.binary_dilation(water)) | (water & ndimage.binary_dilation(fat))


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


# --------------------------------------------------------------------------------------------
# Background (torso) labels on the fine grid, in image mm


def _background_labels(x_mm, y_mm, heart_centre, apex_dir, rng, view):
    """Torso, chest wall, lungs, liver, spine and descending aorta around the heart (image mm)."""
    labels = np.full(x_mm.shape, A.AIR, dtype=np.uint8)
    body_c = heart_centre + rng.uniform(-40, 40, 2) + np.array([0, rng.uniform(10, 50)])
    body_a, body_b = rng.uniform(125, 200), rng.uniform(95, 155)
    rot = rng.uniform(-0.25, 0.25)
    dx, dy = x_mm - body_c[0], y_mm - body_c[1]
    bx, by = dx * np.cos(rot) + dy * np.sin(rot), -dx * np.sin(rot) + dy * np.cos(rot)
    radius = np.hypot(bx / body_a, by / body_b)
    subcut = rng.uniform(6, 25)
    muscle = rng.uniform(6, 16)
    labels[radius < 1] = A.SUBCUT_FAT
    labels[radius < 1 - subcut / body_b] = A.MUSCLE
    interior = radius < 1 - (subcut + muscle) / body_b
    labels[interior] = A.MUSCLE
    # Random clutter of other tissues (SynthSeg-like): blobs of random contrast and size.
    for _ in range(rng.integers(8, 30)):
        centre = body_c + rng.uniform(-1, 1, 2) * np.array([body_a, body_b])
        ca, cb, ang = rng.uniform(5, 45), rng.uniform(5, 45), rng.uniform(0, np.pi)
        ex, ey = x_mm - centre[0], y_mm - centre[1]
        lx, ly = ex * np.cos(ang) + ey * np.sin(ang), -ex * np.sin(ang) + ey * np.cos(ang)
        labels[interior & ((lx / ca) ** 2 + (ly / cb) ** 2 < 1)] = rng.choice(A.CLUTTER)
    # Arms at the side of the field of view, sometimes.
    for _ in range(rng.integers(0, 3)):
        centre = body_c + np.array([rng.choice([-1, 1]) * (body_a + rng.uniform(30, 70)), rng.uniform(-60, 60)])
        ra, rb = rng.uniform(35, 55), rng.uniform(35, 60)
        arm = ((x_mm - centre[0]) / ra) ** 2 + ((y_mm - centre[1]) / rb) ** 2
        labels[arm < 1] = A.SUBCUT_FAT
        labels[arm < 0.7] = A.MUSCLE
        labels[arm < 0.08] = A.SPINE
    # Lungs either side of the heart, perpendicular to the apex direction roughly.
    side = np.array([-apex_dir[1], apex_dir[0]])
    # Real long-axis views show mostly dark lung around the heart, not soft tissue.
    for sign in (-1, 1):
        centre = heart_centre + sign * side * rng.uniform(50, 100) - apex_dir * rng.uniform(0, 50)
        la, lb = rng.uniform(65, 130), rng.uniform(85, 160)
        ang = rng.uniform(0, np.pi)
        ex, ey = x_mm - centre[0], y_mm - centre[1]
        lx, ly = ex * np.cos(ang) + ey * np.sin(ang), -ex * np.sin(ang) + ey * np.cos(ang)
        labels[interior & ((lx / la) ** 2 + (ly / lb) ** 2 < 1)] = A.LUNG
    # Liver under the heart's inferior/apical side.
    liver_c = heart_centre + apex_dir * rng.uniform(40, 90) + side * rng.uniform(-70, 10) + np.array([0, 40])
    la, lb = rng.uniform(60, 110), rng.uniform(45, 80)
    labels[interior & (((x_mm - liver_c[0]) / la) ** 2 + ((y_mm - liver_c[1]) / lb) ** 2 < 1)] = A.LIVER
    # Spine and descending aorta behind the heart (posterior = down in most long-axis views).
    spine_c = body_c + np.array([rng.uniform(-20, 20), body_b * rng.uniform(0.55, 0.75)])
    labels[np.hypot(x_mm - spine_c[0], y_mm - spine_c[1]) < rng.uniform(15, 22)] = A.SPINE
    aorta_c = spine_c + np.array([rng.uniform(-35, 35), -rng.uniform(25, 40)])
    labels[np.hypot(x_mm - aorta_c[0], y_mm - aorta_c[1]) < rng.uniform(9, 14)] = A.AORTA
    # Great vessels (pulmonary artery, aorta, SVC) cut near the base of the heart.
    for _ in range(rng.integers(0, 4)):
        centre = heart_centre - apex_dir * rng.uniform(40, 90) + side * rng.uniform(-50, 50)
        labels[np.hypot(x_mm - centre[0], y_mm - centre[1]) < rng.uniform(6, 16)] = A.AORTA
    return labels


def _busy_surroundings(labels: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray, heart_centre: np.ndarray,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A chest as busy as a real cine's around the heart (issue 13, lever 2: the realism classifier told
    synthetic frames by their empty field of view and smooth tissue): the body fills most of the field
    of view, many small structures of random contrast (vessels, bowel, fat, muscle bundles) crowd the
    soft tissue, tubular vessels run through it and the lungs, and the tissue carries a fine texture.

    ``labels`` (fine grid) is changed in place where it is air or soft tissue (not lung, spine, liver
    or the heart, which is drawn later); returns (labels, a multiplicative fine texture field).
    """
    # The body runs past the edges of the field of view on most sides, as in a tight cardiac FOV.
    fov = np.array([x_mm.max(), y_mm.max()])
    body_c = heart_centre + rng.uniform(-0.15, 0.15, 2) * fov
    half = fov * rng.uniform(0.55, 0.95, 2)
    inside = ((x_mm - body_c[0]) / half[0]) ** 2 + ((y_mm - body_c[1]) / half[1]) ** 2 < 1
    fat = rng.uniform(6, 20)
    edge = ((x_mm - body_c[0]) / (half[0] - fat)) ** 2 + ((y_mm - body_c[1]) / (half[1] - fat)) ** 2 >= 1
    grown = (labels == A.AIR) & inside
    labels[grown & edge] = A.SUBCUT_FAT
    labels[grown & ~edge] = A.MUSCLE
    soft = np.isin(labels, (A.MUSCLE, A.SUBCUT_FAT, *A.CLUTTER))
    px_per_mm = np.array(labels.shape[::-1]) / fov  # (x, y) fine pixels per mm
    # Many small structures: blobs of 2-20 mm.
    for _ in range(rng.integers(40, 140)):
        centre = np.array([rng.uniform(0, fov[0]), rng.uniform(0, fov[1])])
        ca, cb, ang = rng.uniform(2, 20), rng.uniform(2, 20), rng.uniform(0, np.pi)
        lo = np.maximum(((centre - max(ca, cb)) * px_per_mm).astype(int), 0)
        hi = np.ceil((centre + max(ca, cb)) * px_per_mm).astype(int) + 1
        box = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        ex, ey = x_mm[box] - centre[0], y_mm[box] - centre[1]
        lx, ly = ex * np.cos(ang) + ey * np.sin(ang), -ex * np.sin(ang) + ey * np.cos(ang)
        sub = labels[box]
        sub[soft[box] & ((lx / ca) ** 2 + (ly / cb) ** 2 < 1)] = rng.choice(A.CLUTTER)
    # Vessels: curved tubes 1.5-7 mm wide, bright (AORTA's intensity) or of a clutter label.
    for _ in range(rng.integers(4, 16)):
        start = np.array([rng.uniform(0, fov[0]), rng.uniform(0, fov[1])])
        heading, bend = rng.uniform(0, 2 * np.pi), rng.uniform(-0.02, 0.02)
        width = rng.uniform(1.5, 7.0)
        label = A.AORTA if rng.random() < 0.6 else rng.choice(A.CLUTTER)
        point = start
        reach = int(np.ceil(width / 2 * px_per_mm[0])) + 1  # fine pixels either side of the centre line
        mask = np.zeros(labels.shape, bool)
        for _step in range(int(rng.uniform(40, 200) / 2)):
            point = point + 2.0 * np.array([np.cos(heading), np.sin(heading)])
            heading += bend + rng.normal(0, 0.05)
            col, row = (point * px_per_mm).astype(int)
            box = (slice(max(row - reach, 0), row + reach + 1), slice(max(col - reach, 0), col + reach + 1))
            mask[box] |= np.hypot(x_mm[box] - point[0], y_mm[box] - point[1]) < width / 2
        labels[mask & (soft | (labels == A.LUNG))] = label
    texture = _smooth_field(labels.shape, rng, rng.uniform(0.8, 2.5), rng.uniform(0.05, 0.2))
    return labels, texture


# --------------------------------------------------------------------------------------------
# Rendering one view


def _heart_axes(apex_angle: float, mirrored: bool):
    e_v = np.array([np.cos(apex_angle), np.sin(apex_angle)])
    e_u = np.array([-e_v[1], e_v[0]]) * (-1.0 if mirrored else 1.0)
    return e_u, e_v


@dataclass(frozen=True)
class HeartPose:
    """Where one subject's heart sits in the patient (LPS, mm), shared by all its views, so that their
    DICOM planes meet on the LV long axis as planned real views do."""

    long_axis: np.ndarray  # (3,) unit, base to apex
    mv_centre_mm: np.ndarray  # (3,) MV centre at end-diastole
    #: per view, how far (3,) mm its plane misses the MV centre: imperfect planning and breath-holds
    #: (on the real exams the MV centre lay 3-11 mm from the line where the other view's plane cuts)
    plane_miss_mm: dict = field(default_factory=dict)


def _heart_pose(rng: np.random.Generator, views) -> HeartPose:
    long_axis = np.array([0.5, -0.6, -0.6]) + rng.normal(0, 0.12, 3)
    error_mm = rng.uniform(1.0, 4.0)
    return HeartPose(long_axis / np.linalg.norm(long_axis), rng.normal(0, 30, 3),
                     {view: rng.normal(0, error_mm, 3) for view in views})


def _patient_orientation(view: str, e_u: np.ndarray, e_v: np.ndarray, rng: np.random.Generator,
                         long_axis: np.ndarray | None = None) -> np.ndarray:
    """ImageOrientationPatient (6,) consistent with the anatomy drawn: the heart's long axis points
    left, anterior and down in the patient (LPS), the 2CH MV line runs from the anterior-superior
    to the inferior point, the 4CH one from the lateral (left-posterior) to the septal point; the
    image axes follow from where the generator put u and v in the image (mirrored views included).
    ``long_axis``: the subject's (shared by its views); without it one is drawn for this view."""
    own_axis = np.array([0.5, -0.6, -0.6]) + rng.normal(0, 0.12, 3)  # drawn either way: same stream
    long_axis = own_axis / np.linalg.norm(own_axis) if long_axis is None else np.asarray(long_axis, dtype=float)
    across = np.array([-1.0, -1.0, 0.0])  # the 4CH's, lateral to septal
    across = across - (across @ long_axis) * long_axis
    # The other views by their turn about the axis (mvtrack.geometry.exam.VIEW_TURNS_DEG, checked on
    # the real exams: their named 2CH lines lie 58-62 degrees on from the 4CH line). The 2CH: its
    # anterior-to-inferior line 60 degrees on (until session 6 it lay where the 3CH lies). The 3CH:
    # 60 degrees back, the 4CH's lateral end turned into the inferolateral, the second-named point.
    if view == "2CH":
        across = turned_about(across, long_axis, 60.0)
    elif view == "3CH":
        across = -turned_about(across, long_axis, -60.0)
    across = across + rng.normal(0, 0.12, 3)
    across -= (across @ long_axis) * long_axis
    across /= np.linalg.norm(across)
    row = e_u[0] * across + e_v[0] * long_axis
    column = e_u[1] * across + e_v[1] * long_axis
    return np.concatenate([row, column])


def _apex_angle(view: str, rng: np.random.Generator) -> float:
    """Direction of the apex in the image (radians, x right, y down). Mostly as clinical views are shown."""
    if rng.random() < 0.3:
        return rng.uniform(0, 2 * np.pi)  # any display orientation (real 4CH apex often points up-right)
    # Clinical 2CH / 4CH: apex toward the right or left, from up (the real 4CH sample: 45 degrees up)
    # through horizontal to down.
    base = np.deg2rad(rng.choice([20.0, 160.0]))
    return float(base + np.deg2rad(rng.uniform(-65, 65)))


PATCH = 24  # fine pixels per side of the label patches kept for tests


def render_view(view: str, motion: MotionParams, af: bool, rng: np.random.Generator,
                keep_fine_labels: bool = False, fine: int = 2, pose: HeartPose | None = None,
                random_contrast_probability: float = RANDOM_CONTRAST_PROBABILITY,
                hinge_look_probability: float = 0.0, busy_probability: float = 0.0,
                dark_wall_probability: float = 0.0, dark_groove_probability: float = 0.0) -> SyntheticView:
    # the hinge look, the busy surroundings, the dark walls and the dark groove draw from streams of
    # their own, so that without them the view is what it was
    look_rng, busy_rng, dark_rng, groove_rng = rng.spawn(4)
    dilated = rng.random() < 0.15
    hypertrophy = rng.random() < 0.12
    shape = _sample_shape(view, rng, dilated, hypertrophy)
    n_frames = int(rng.integers(20, 51))
    look = None
    if look_rng.random() < hinge_look_probability:
        shape, look = _hinge_look(shape, n_frames, look_rng)
    dark = _dark_walls(dark_rng) if dark_rng.random() < dark_wall_probability else None
    if dark is not None:
        shape = replace(shape, la_wall_mm=dark.la_wall_mm)
        if dark.la_widening is not None:
            shape = replace(shape, la_half_width_mm=shape.annulus_half_mm * dark.la_widening)
    # A dark AV groove: the fat pad beside the annulus as dark as the LV wall (fat and water cancelling
    # in its voxels, vessels) and reaching 8-20 mm past the MV line, so the dark band of the wall runs
    # on, as thick, past the hinge.
    groove_gain = groove_rng.uniform(0.7, 1.3) if groove_rng.random() < dark_groove_probability else None
    if groove_gain is not None:
        shape = replace(shape, avgroove_fat_mm=groove_rng.uniform(8.0, 20.0))
    times = np.arange(n_frames) * motion.rr_s / n_frames
    # Points move differently: the plane tilts (lateral / anterior usually moves more).
    tilt = rng.uniform(-0.35, 0.35)
    disp = mv_displacement_mm(motion, times)
    if af:  # beat-to-beat irregularity averaged into the cine: wobble in diastole
        wobble = ndimage.gaussian_filter1d(rng.normal(0, 0.6, n_frames), 1.0, mode="wrap")
        disp = disp + wobble * (times > motion.end_systole_s)
        disp[0] = 0.0
    contraction = np.clip(disp / max(motion.mapse_mm, 1e-6), 0, 1.2)
    opening = _leaflet_opening(motion, times)
    through_plane = rng.uniform(0, 1) * np.sin(2 * np.pi * times / motion.rr_s + rng.uniform(0, 2 * np.pi))
    ef_radial = rng.uniform(0.08, 0.32) * (0.6 if dilated else 1.0)

    # Image geometry.
    spacing = rng.uniform(1.2, 2.2)
    spacing_rc = (spacing, spacing) if rng.random() < 0.9 else (spacing, spacing * rng.uniform(0.85, 1.15))
    fov_mm = rng.uniform(250, 420)
    cols = int(np.clip(round(fov_mm / spacing_rc[1] / 2) * 2, 160, 320))
    rows = int(np.clip(round(cols * rng.uniform(0.75, 1.3) * spacing_rc[1] / spacing_rc[0] / 2) * 2, 160, 320))
    zero_fill = 1.0 if rng.random() < 0.3 else rng.uniform(1.2, 2.0)
    acq_spacing = np.minimum(np.array(spacing_rc) * zero_fill, 3.0)
    phase_axis = int(rng.integers(0, 2))  # 0 = rows, 1 = cols

    fy, fx = np.mgrid[0:rows * fine, 0:cols * fine].astype(np.float64)
    y_mm, x_mm = fy / fine * spacing_rc[0], fx / fine * spacing_rc[1]
    fov = np.array([cols * spacing_rc[1], rows * spacing_rc[0]])
    heart_centre = fov / 2 + rng.uniform(-0.2, 0.2, 2) * fov
    apex_angle = _apex_angle(view, rng)
    mirrored = bool(rng.random() < 0.25)
    e_u, e_v = _heart_axes(apex_angle, mirrored)
    background = _background_labels(x_mm, y_mm, heart_centre, e_v, rng, view)
    busy_texture = None
    if busy_rng.random() < busy_probability:
        background, busy_texture = _busy_surroundings(background, x_mm, y_mm, heart_centre, busy_rng)

    lut = _tissue_intensities(rng, random_contrast_probability)
    if dark is not None:
        lut[[A.LA_WALL, A.RA_WALL]] = lut[A.LV_MYO] * dark.wall_gain
    if groove_gain is not None:
        lut[A.EPI_FAT] = lut[A.LV_MYO] * groove_gain
    texture = _smooth_field(background.shape, rng, rng.uniform(2, 8), rng.uniform(0.03, 0.12))
    if busy_texture is not None:
        texture = texture * busy_texture
    lung_vessels = ndimage.gaussian_filter(rng.standard_normal(background.shape), 1.5) > rng.uniform(0.35, 0.6)
    bias = _bias_field(background.shape, rng)
    bands = _banding(background.shape, rng)
    static_gain = bias * bands

    # Heart region on the fine grid: a box around the heart's extent.
    extent_u = shape.lv_half_width_mm + shape.wall_mm + 8 + (2.2 * shape.rv_half_width_mm + 15 if view == "4CH" else 0)
    if view == "3CH":  # the aortic root rises beside the anterior hinge, leaning anteriorly
        extent_u += 2 * shape.aortic_root_mm + 2 * shape.aortic_wall_mm + 25
    corners = np.array([[su * extent_u, sv] for su in (-1, 1) for sv in (-shape.la_height_mm - 25, shape.lv_length_mm + 25)])
    corners_mm = heart_centre + corners[:, :1] * e_u + corners[:, 1:] * e_v
    lo = np.floor(corners_mm.min(0) / np.array([spacing_rc[1], spacing_rc[0]]) * fine).astype(int)
    hi = np.ceil(corners_mm.max(0) / np.array([spacing_rc[1], spacing_rc[0]]) * fine).astype(int)
    c0, r0 = np.maximum(lo, 0)
    c1, r1 = np.minimum(hi, [cols * fine, rows * fine])
    box = (slice(r0, r1), slice(c0, c1))
    dxb, dyb = x_mm[box] - heart_centre[0], y_mm[box] - heart_centre[1]
    u_box, v_box = dxb * e_u[0] + dyb * e_u[1], dxb * e_v[0] + dyb * e_v[1]
    # A smooth static warp breaks the perfect ellipses: labels at a pixel are those of (u, v) + warp.
    warp_mm = rng.uniform(0.0, 3.5)  # standard deviation; peaks reach about 3x this
    warp_sigma = rng.uniform(8, 20) * fine / spacing
    warp_u = (_smooth_field(u_box.shape, rng, warp_sigma, 1.0) - 1.0) * warp_mm
    warp_v = (_smooth_field(u_box.shape, rng, warp_sigma, 1.0) - 1.0) * warp_mm
    u_warped, v_warped = u_box + warp_u, v_box + warp_v
    heart_texture = ndimage.gaussian_filter(rng.standard_normal((96, 96)), rng.uniform(0.8, 2.0), mode="wrap")
    heart_texture /= heart_texture.std()
    trabeculation = rng.uniform(0.0, 0.5)

    snr = rng.uniform(12, 60)
    ghost = rng.uniform(0, 0.06) if rng.random() < 0.5 else 0.0
    frames = np.empty((n_frames, rows, cols), np.float32)
    points_mm = np.empty((n_frames, 2, 2))
    patches, origins = [], []
    jet_strength = rng.uniform(0.0, 0.35)
    regurgitation = rng.uniform(0.2, 0.6) if rng.random() < 0.2 else 0.0
    # Inflow and through-plane effects: each blood pool brightens and darkens over the cycle on its own.
    phase = 2 * np.pi * times / motion.rr_s
    pool_gain = {label: 1.0 + rng.uniform(0.0, 0.15) * np.sin(phase + rng.uniform(0, 2 * np.pi))
                 for label in (A.LV_BLOOD, A.LA_BLOOD, A.RV_BLOOD, A.RA_BLOOD)}
    # Descending aorta often lies just behind the LA in both views.
    if rng.random() < 0.6:
        radius = rng.uniform(8, 14)
        centre = heart_centre + e_v * -(shape.la_height_mm + radius + rng.uniform(3, 15)) + e_u * rng.uniform(-25, 25)
        background[np.hypot(x_mm - centre[0], y_mm - centre[1]) < radius] = A.AORTA
    for index in range(n_frames):
        state = A.FrameState(
            base_left_mm=disp[index] * (1 + tilt), base_right_mm=disp[index] * (1 - tilt),
            contraction=contraction[index], leaflet_open=opening[index], ef_radial=ef_radial,
            through_plane=through_plane[index],
        )
        geometry = A.heart_frame(shape, state)
        labels = background.copy()
        box_labels = labels[box]
        A.render_heart_labels(u_warped, v_warped, shape, geometry, box_labels)
        labels[box] = box_labels
        for k, hinge in enumerate((geometry.hinge_left, geometry.hinge_right)):
            point = _unwarp(hinge, u_box, v_box, warp_u, warp_v)
            points_mm[index, k] = heart_centre + point[0] * e_u + point[1] * e_v
            if keep_fine_labels:
                col, row = (points_mm[index, k] / np.array([spacing_rc[1], spacing_rc[0]]) * fine).astype(int) - PATCH // 2
                patches.append(labels[row:row + PATCH, col:col + PATCH].copy())
                origins.append((col, row))
        frame_lut = lut.copy()
        for label, gain in pool_gain.items():
            frame_lut[label] *= gain[index]
        if look is not None:
            frame_lut[A.LA_BLOOD] = frame_lut[A.LV_BLOOD]
            seen = look.la_wall_visibility[index]
            for wall in (A.LA_WALL, A.RA_WALL):
                frame_lut[wall] = seen * lut[wall] + (1 - seen) * frame_lut[look.la_wall_as]
            seen = look.leaflet_visibility[index]
            frame_lut[A.LEAFLET] = seen * lut[A.LEAFLET] + (1 - seen) * frame_lut[A.LV_BLOOD]
        image = frame_lut[labels] * texture
        if dark is not None:
            image[chemical_shift_lines(labels)] *= dark.ink_gain
        # Texture that moves with the heart: sampled in coordinates normalised to the LV cavity.
        cu, cv, au, av = geometry.lv_endo
        level = ((u_warped - cu) / au) ** 2 + ((v_warped - cv) / av) ** 2
        tex = ndimage.map_coordinates(heart_texture, [(v_warped - cv) / av * 30 + 48, u_warped / au * 30 + 48],
                                      order=1, mode="wrap")
        box_image = image[box]
        trabecular = (box_labels == A.LV_BLOOD) & (level > 0.72) & (tex > 0.8)
        box_image[trabecular] *= 1.0 - trabeculation * (1.0 - 0.4 * contraction[index])
        box_image *= 1.0 + 0.06 * tex * np.isin(box_labels, (A.LV_MYO, A.RV_MYO, A.LA_BLOOD, A.LV_BLOOD))
        image[labels == A.LUNG] += lut[A.AORTA] * 0.25 * lung_vessels[labels == A.LUNG]
        # Flow: a darker inflow jet into the LV while the valve is open, varying frame to frame.
        if jet_strength > 0 and opening[index] > 0.2:
            jet = np.exp(-(u_box**2) / (2 * (shape.annulus_half_mm * 0.5) ** 2)) * np.exp(
                -((v_box - 25) ** 2) / (2 * 18**2))
            blood = np.isin(box_labels, (A.LV_BLOOD,))
            image[box] -= blood * jet * jet_strength * opening[index] * lut[A.LV_BLOOD]
        # Mitral regurgitation: a dark jet into the LA while the valve is shut in systole.
        if regurgitation > 0 and opening[index] < 0.05 and 0 < times[index] < motion.end_systole_s:
            jet = np.exp(-(u_box**2) / (2 * (shape.annulus_half_mm * 0.35) ** 2)) * np.exp(
                -((v_box + 18) ** 2) / (2 * 12**2))
            image[box] -= (box_labels == A.LA_BLOOD) * jet * regurgitation * lut[A.LA_BLOOD]
        image *= static_gain * rng.uniform(0.97, 1.03)
        frames[index] = _acquire(image, rows, cols, fine, spacing_rc, acq_spacing, phase_axis, snr, ghost, rng)
    points_px = points_mm / np.array([spacing_rc[1], spacing_rc[0]])
    orientation = _patient_orientation(view, e_u, e_v, rng, None if pose is None else pose.long_axis)
    position_mm = np.zeros(3)
    if pose is not None:
        # The plane through the subject's MV centre (frame 0), missed by a small planning error.
        centre_image_mm = points_mm[0].mean(axis=0)
        position_mm = (pose.mv_centre_mm + pose.plane_miss_mm.get(view, np.zeros(3))
                       - centre_image_mm[0] * orientation[:3] - centre_image_mm[1] * orientation[3:])
    frames = stored_12bit(frames, rng)
    vendor = str(rng.choice(list(VENDORS)))
    description = str(rng.choice(VENDORS[vendor][view]))
    cine = Cine(
        frames=frames, pixel_spacing_mm=(float(spacing_rc[0]), float(spacing_rc[1])), times_s=times,
        rr_s=float(motion.rr_s), view=view, view_source="synthetic", series_description=description,
        manufacturer=vendor, orientation=orientation, position_mm=position_mm,
    )
    params = dict(spacing_mm=spacing_rc, acq_spacing_mm=acq_spacing.tolist(), snr=snr, ghost=ghost,
                  apex_angle_deg=float(np.rad2deg(apex_angle)), mirrored=mirrored, tilt=tilt,
                  dilated=dilated, hypertrophy=hypertrophy, n_frames=n_frames, matrix=(rows, cols))
    view_result = SyntheticView(cine, points_px, POINT_NAMES[view], vendor, description, fine_factor=fine, params=params)
    if keep_fine_labels:
        view_result.label_patches = np.stack(patches).reshape(n_frames, 2, PATCH, PATCH)
        view_result.patch_origins = np.array(origins, dtype=float).reshape(n_frames, 2, 2)
    return view_result


def _unwarp(target: np.ndarray, u: np.ndarray, v: np.ndarray, warp_u: np.ndarray, warp_v: np.ndarray) -> np.ndarray:
    """The heart-frame position p whose warped coordinates p + warp(p) equal ``target`` (fixed point).

    u, v are the (affine) heart coordinates of the box pixels, so a position converts to fractional
    box indices through the local linear map of the grid.
    """
    # Box pixel (row, col) -> (u, v) is affine: recover it from three grid points.
    origin = np.array([u[0, 0], v[0, 0]])
    d_col = np.array([u[0, 1] - u[0, 0], v[0, 1] - v[0, 0]])
    d_row = np.array([u[1, 0] - u[0, 0], v[1, 0] - v[0, 0]])
    to_index = np.linalg.inv(np.column_stack([d_row, d_col]))
    point = np.array(target, dtype=float)
    for _ in range(6):
        row, col = to_index @ (point - origin)
        offset = np.array([ndimage.map_coordinates(w, [[row], [col]], order=1, mode="nearest")[0]
                           for w in (warp_u, warp_v)])
        point = np.asarray(target) - offset
    return point


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


# --------------------------------------------------------------------------------------------


def generate_subject(seed: int, index: int, views=("2CH", "4CH"), keep_fine_labels: bool = False,
                     fine: int = 2, random_contrast_probability: float = RANDOM_CONTRAST_PROBABILITY,
                     hinge_look_probability: float = 0.0, busy_probability: float = 0.0,
                     dark_wall_probability: float = 0.0, dark_groove_probability: float = 0.0) -> SyntheticSubject:
    """One synthetic subject; deterministic for (seed, index).

    ``keep_fine_labels`` keeps label patches around the truth points (for tests); ``fine`` is the
    oversampling of the label grid (2 for data; larger to check the truth points precisely);
    ``random_contrast_probability``: the share of views with fully random tissue intensities;
    ``hinge_look_probability``: the share of views whose annulus looks as real ones often do
    (:func:`_hinge_look`; 0 for the shipped model's data); ``busy_probability``: the share of views
    whose chest fills the field of view and is crowded with small structures (:func:`_busy_surroundings`);
    ``dark_wall_probability``: the share of views with dark LA / RA walls and chemical-shift lines
    (:class:`DarkWalls`); ``dark_groove_probability``: the share of views whose AV-groove fat is as dark as
    the LV wall and reaches 8-20 mm past the MV line.
    """
    # A 3CH comes after the 2CH and 4CH (each view draws from its own stream, by position), so adding
    # it leaves a subject's 2CH and 4CH as they were.
    views = tuple(sorted(views, key=lambda v: ("2CH", "4CH", "3CH").index(v)))
    rng = np.random.default_rng([seed, index])
    af = bool(rng.random() < 0.12)
    motion = _sample_motion(rng, af)
    pose = _heart_pose(np.random.default_rng([seed, index, 77]), views)
    rendered = {view: render_view(view, motion, af, np.random.default_rng([seed, index, i]), keep_fine_labels, fine, pose,
                                     random_contrast_probability, hinge_look_probability, busy_probability,
                                     dark_wall_probability, dark_groove_probability)
                for i, view in enumerate(views)}
    return SyntheticSubject(f"synth{seed:03d}_{index:04d}", rendered, motion, af)
