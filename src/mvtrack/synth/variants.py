"""Generator variants (off in the shipped model's data mix): annuli that look as real ones often do.

Each is drawn from a random stream of its own in :func:`mvtrack.synth.render.render_view`, so that a
subject rendered without a variant is byte for byte what it was: the relaxed base (the basal wall
thinning and running on past the hinge out of systole), the hinge look (no LV-LA waist,
faint LA wall, leaflets that come and go), dark walls past the hinge with chemical-shift lines, and a
busy chest (the field of view filled and crowded with small structures and vessels). The dark AV
groove (in every frame, or out of systole only) and the diastolic dark walls are a few lines of
``render_view`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from mvtrack.synth import anatomy as A
from mvtrack.synth.appearance import _smooth_field


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


def _relaxed_base(shape: A.HeartShape, rng: np.random.Generator) -> A.HeartShape:
    """A view whose base relaxes as real ones do out of systole (issue 36: on real end-diastolic and
    late-diastolic frames the points sat 2-8 mm toward the atrium): the basal LV wall thins over its
    last 8-20 mm to 1.5-4 mm at the MV line, and a wall that thick, as dark as the myocardium, runs on
    4-15 mm past the hinge into the atrium (:attr:`mvtrack.synth.anatomy.HeartShape.relaxed_base`); on
    half of them the LA no wider than the annulus just above it (no waist)."""
    relaxed = (rng.uniform(8.0, 20.0), rng.uniform(1.5, 4.0), rng.uniform(4.0, 15.0))
    shape = replace(shape, relaxed_base=relaxed)
    if rng.random() < 0.5:
        shape = replace(shape, la_half_width_mm=shape.annulus_half_mm * rng.uniform(1.0, 1.2))
    return shape


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
