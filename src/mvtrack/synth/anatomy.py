"""Label maps of a long-axis slice through a beating heart in a torso.

Heart coordinates (mm): ``u`` runs along the mitral annulus from the first named point (anterior
in 2CH, lateral in 4CH) to the second (inferior / septal); ``v`` points from the base toward the
apex. The apex sits near ``v = lv_length_mm`` and barely moves; the annulus moves along ``v``.

The two MV points are not placed by assumption: each frame they are computed as the intersection of
the MV line with the LV endocardial boundary, which is where the LV myocardium, the LA wall and the
leaflet meet in the rendered label map (checked by tests/test_synth.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import binary_erosion

# Label values of the rendered map.
AIR, MUSCLE, SUBCUT_FAT, LUNG, LIVER, SPINE, AORTA, EPI_FAT, PERICARDIUM = range(9)
LV_MYO, LV_BLOOD, LA_BLOOD, LA_WALL, LEAFLET, RV_BLOOD, RV_MYO, RA_BLOOD, RA_WALL = range(9, 18)
PAPILLARY, CORONARY = 18, 19
CLUTTER = tuple(range(20, 28))  # other tissues of random contrast (vessels, bowel, stomach, arms ...)
N_LABELS = 28
LABEL_NAMES = [
    "air", "muscle", "subcutaneous fat", "lung", "liver", "spine", "aorta", "epicardial fat", "pericardium",
    "LV myocardium", "LV blood", "LA blood", "LA wall", "leaflet", "RV blood", "RV myocardium", "RA blood",
    "RA wall", "papillary muscle", "coronary vessel", *[f"other tissue {k}" for k in range(8)],
]


@dataclass
class HeartShape:
    """Per-subject anatomy (mm), sampled once; the frame state adds motion."""

    view: str
    annulus_half_mm: float = 15.0
    lv_length_mm: float = 90.0  # base to endocardial apex at end-diastole
    lv_half_width_mm: float = 25.0  # largest cavity half-width at end-diastole
    wall_mm: float = 9.0
    apex_wall_mm: float = 6.0
    thin_segment: tuple[float, float, float] | None = None  # (side -1/+1, v_from, v_to): infarct thinning
    la_half_width_mm: float = 20.0
    la_height_mm: float = 45.0
    la_wall_mm: float = 2.0
    leaflet_lengths_mm: tuple[float, float] = (14.0, 9.0)
    leaflet_thickness_mm: float = 2.0
    fat_mm: float = 3.0
    la_fat_mm: float = 1.0  # fat around the LA is usually thinner than around the ventricles
    avgroove_fat_mm: float = 7.0
    papillary: list[tuple[float, float, float, float]] = field(default_factory=list)  # (u_frac, v_frac, ru, rv)
    rv_half_width_mm: float = 17.0
    rv_length_frac: float = 0.8
    rv_wall_mm: float = 3.5
    ra_half_width_mm: float = 18.0
    ra_height_mm: float = 42.0
    tricuspid_offset_mm: float = 7.0
    coronary_mm: float = 3.0
    #: Which ends of the annulus (-1: first named, +1: second named) have a vessel in the AV groove
    #: beside them: the coronary sinus at the 2CH inferior point, the circumflex / sinus at the 4CH
    #: lateral point; sometimes one on both sides.
    coronary_sides: tuple[int, ...] = (1,)
    #: 3CH only: the aortic root (radius, wall, how far it leans anteriorly from the LA side, degrees)
    aortic_root_mm: float = 12.0
    aortic_wall_mm: float = 2.0
    aortic_lean_deg: float = 30.0
    #: The relaxed base (issue 36; None: off): ``(taper_mm, hinge_wall_mm, atrial_run_mm)``. Out of
    #: systole the basal LV wall thins over its last ``taper_mm`` to ``hinge_wall_mm`` at the MV line,
    #: AV-groove fat filling in beside it, and a wall of that thickness, as dark as the myocardium,
    #: runs on past the hinge for ``atrial_run_mm`` into the atrium, thinning to the LA wall: the dark
    #: band does not end at the hinge. Full at end-diastole and late diastole, gone at end-systole.
    relaxed_base: tuple[float, float, float] | None = None


@dataclass
class FrameState:
    """Motion state of one frame (mm, dimensionless fractions)."""

    base_left_mm: float  # displacement of the first-named point along v (toward apex)
    base_right_mm: float
    contraction: float  # 0 at end-diastole, 1 at end-systole: radial shrinking and wall thickening
    leaflet_open: float  # 0 closed (systole), 1 fully open (early diastole)
    ef_radial: float = 0.25  # fractional shrink of the cavity half-width at full contraction
    through_plane: float = 0.0  # -1..1 apparent width change from the heart moving through the slice


def _ellipse_through_base(apex_v: float, base_v: float, base_half: float, half_width: float):
    """Ellipse (centre v, semi-axis along v) with its apex at apex_v and half-width base_half at base_v."""
    ratio = np.clip(base_half / half_width, 0.0, 0.97)
    semi_v = (apex_v - base_v) / (1.0 + np.sqrt(1.0 - ratio**2))
    centre_v = apex_v - semi_v
    return centre_v, semi_v


def _inside_ellipse(u, v, cu, cv, au, av):
    return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2 < 1.0


def _line_ellipse_intersections(p0, p1, cu, cv, au, av):
    """Points where the line through p0, p1 crosses the ellipse; sorted along p0 -> p1."""
    d = p1 - p0
    q = p0 - np.array([cu, cv])
    a = (d[0] / au) ** 2 + (d[1] / av) ** 2
    b = 2 * (q[0] * d[0] / au**2 + q[1] * d[1] / av**2)
    c = (q[0] / au) ** 2 + (q[1] / av) ** 2 - 1
    disc = max(b * b - 4 * a * c, 0.0)
    roots = sorted([(-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)])
    return [p0 + r * d for r in roots]


def _segment_distance(u, v, p, q, flat_start: bool = False):
    """Distance from grid points to the segment p-q; with ``flat_start`` nothing lies behind p.

    The flat end lets a leaflet attach at its hinge without a round cap covering the junction.
    """
    d = q - p
    raw = ((u - p[0]) * d[0] + (v - p[1]) * d[1]) / max(d @ d, 1e-9)
    t = np.clip(raw, 0, 1)
    distance = np.hypot(u - p[0] - t * d[0], v - p[1] - t * d[1])
    if flat_start:
        distance = np.where(raw < 0, np.inf, distance)
    return distance


@dataclass
class HeartFrame:
    """The geometry of one frame, and the MV points (heart mm) it implies."""

    lv_endo: tuple
    lv_epi: tuple
    base_p0: np.ndarray
    base_p1: np.ndarray
    hinge_left: np.ndarray
    hinge_right: np.ndarray
    leaflets: list
    la: tuple
    wall_mm: float
    leaflet_open: float = 0.0  # the frame state's, for what opens and shuts with the valve
    contraction: float = 0.0  # the frame state's: 0 at end-diastole, 1 at end-systole


def heart_frame(shape: HeartShape, state: FrameState) -> HeartFrame:
    """Solve the frame's LV/LA ellipses and the hinge points for one motion state."""
    apex_v = shape.lv_length_mm
    base_mid = 0.5 * (state.base_left_mm + state.base_right_mm)
    radial = 1.0 - state.ef_radial * state.contraction + 0.04 * state.through_plane
    half_width = shape.lv_half_width_mm * radial
    annulus = shape.annulus_half_mm * (1.0 - 0.08 * state.contraction)
    centre_v, semi_v = _ellipse_through_base(apex_v, base_mid, annulus, half_width)
    endo = (0.0, centre_v, half_width, semi_v)
    # Wall thickening conserves wall area roughly: thicker as the cavity shrinks.
    wall = shape.wall_mm * (1.0 + 0.45 * state.contraction)
    apex_wall = shape.apex_wall_mm * (1.0 + 0.3 * state.contraction)
    # Epicardium: apex_wall beyond the endocardial apex and a full wall beyond its base vertex, so the
    # myocardium keeps its thickness where the (tilted) MV line cuts it.
    epi = (0.0, centre_v + 0.5 * (apex_wall - wall), half_width + wall, semi_v + 0.5 * (apex_wall + wall))
    p0 = np.array([-annulus * 1.5, state.base_left_mm])
    p1 = np.array([annulus * 1.5, state.base_right_mm])
    hinge_left, hinge_right = _line_ellipse_intersections(p0, p1, *endo)
    # Leaflets: closed they meet near the centre bowing slightly into the LA; open they hang toward the apex.
    leaflets = []
    line_dir = (hinge_right - hinge_left) / np.linalg.norm(hinge_right - hinge_left)
    normal = np.array([-line_dir[1], line_dir[0]])
    if normal[1] < 0:
        normal = -normal
    for hinge, length, sign in ((hinge_left, shape.leaflet_lengths_mm[0], 1.0),
                                (hinge_right, shape.leaflet_lengths_mm[1], -1.0)):
        closed_angle = np.deg2rad(-12.0)  # a little toward the atrium
        open_angle = np.deg2rad(78.0)
        angle = closed_angle + (open_angle - closed_angle) * state.leaflet_open
        direction = sign * line_dir * np.cos(angle) + normal * np.sin(angle)
        mid = hinge + direction * length * 0.55 + normal * 1.2 * state.leaflet_open
        tip = hinge + direction * length
        leaflets.append((hinge, mid, tip))
    la_bottom = base_mid
    la_height = shape.la_height_mm + 0.5 * (base_mid)  # the LA stretches as the annulus descends
    la_centre_v, la_semi_v = _ellipse_through_base(-(la_height - la_bottom), la_bottom, annulus,
                                                   shape.la_half_width_mm)
    la = (0.0, la_centre_v, shape.la_half_width_mm, abs(la_semi_v))
    return HeartFrame(endo, epi, p0, p1, hinge_left, hinge_right, leaflets, la, wall, state.leaflet_open,
                     state.contraction)


def render_heart_labels(u: np.ndarray, v: np.ndarray, shape: HeartShape, frame: HeartFrame,
                        labels: np.ndarray) -> None:
    """Paint the heart (and its fat and pericardium) into ``labels`` at heart coordinates (u, v) mm."""
    cu, cv, au, av = frame.lv_endo
    ecu, ecv, eau, eav = frame.lv_epi
    # Signed side of the MV line: > 0 on the apex side.
    d = frame.base_p1 - frame.base_p0
    side = ((u - frame.base_p0[0]) * -d[1] + (v - frame.base_p0[1]) * d[0]) / np.linalg.norm(d)
    below = side > 0
    lcu, lcv, lau, lav = frame.la
    wall = shape.la_wall_mm
    fat = shape.fat_mm
    # Outer envelope first: pericardial fat and pericardium around ventricles and atria.
    lv_outer = _inside_ellipse(u, v, ecu, ecv, eau + fat, eav + fat) & (side > -shape.avgroove_fat_mm)
    la_fat = shape.la_fat_mm
    la_outer = _inside_ellipse(u, v, lcu, lcv, lau + wall + la_fat, lav + wall + la_fat) & ~below
    base_half = abs(frame.hinge_left[0]) + frame.wall_mm
    groove = (np.abs(side) < shape.avgroove_fat_mm) & (np.abs(u) < base_half + 0.6 * shape.avgroove_fat_mm)
    envelope = lv_outer | la_outer | groove
    if shape.view == "4CH":
        # The RV wraps the septal side of the LV: its ellipse starts under the LV (which is painted
        # over it), so RV blood meets the LV myocardium at the septum.
        rv_cu = 0.5 * eau
        rv_au = 0.5 * eau + shape.rv_half_width_mm + shape.rv_wall_mm
        rv_apex = shape.lv_length_mm * shape.rv_length_frac
        tv = shape.tricuspid_offset_mm + 0.7 * frame.base_p1[1]
        rv_cv, rv_av = 0.5 * (rv_apex + tv), 0.5 * (rv_apex - tv)
        rv_outer = _inside_ellipse(u, v, rv_cu, rv_cv, rv_au + fat, rv_av + fat) & (v > tv - fat)
        # The RA sits over the tricuspid valve against the LA (interatrial septum).
        ra_cu = lau + wall + shape.ra_half_width_mm * 0.9
        ra_cv = tv - shape.ra_height_mm / 2
        ra_outer = _inside_ellipse(u, v, ra_cu, ra_cv, shape.ra_half_width_mm + wall + fat,
                                   shape.ra_height_mm / 2 + fat) & (v < tv)
        envelope |= rv_outer | ra_outer
    pericardium = envelope & ~binary_erosion(envelope, iterations=1)  # a one-pixel line
    labels[envelope] = EPI_FAT
    labels[pericardium] = PERICARDIUM
    if shape.view == "4CH":
        labels[rv_outer & _inside_ellipse(u, v, rv_cu, rv_cv, rv_au, rv_av)] = RV_MYO
        rv_blood = _inside_ellipse(u, v, rv_cu, rv_cv, rv_au - shape.rv_wall_mm, rv_av - shape.rv_wall_mm)
        labels[rv_blood & (v > tv)] = RV_BLOOD
        ra = _inside_ellipse(u, v, ra_cu, ra_cv, shape.ra_half_width_mm + wall, shape.ra_height_mm / 2) & (v < tv)
        labels[ra] = RA_WALL
        labels[ra & _inside_ellipse(u, v, ra_cu, ra_cv, shape.ra_half_width_mm, shape.ra_height_mm / 2 - wall)] = RA_BLOOD
    # Vessels in the AV groove (coronary sinus, circumflex artery) just atrial of the annulus.
    for sign in shape.coronary_sides:
        base_v = frame.base_p1[1] if sign > 0 else frame.base_p0[1]
        cor = np.array([sign * eau * 0.92, base_v - 1.0])
        labels[np.hypot(u - cor[0], v - cor[1]) < shape.coronary_mm] = CORONARY
    # LA with its wall, above the MV line.
    la_wall = _inside_ellipse(u, v, lcu, lcv, lau + wall, lav + wall) & ~below
    labels[la_wall] = LA_WALL
    labels[_inside_ellipse(u, v, lcu, lcv, lau, lav) & ~below] = LA_BLOOD
    # The LA wall starts at the hinges: just above the MV line and outside the span between the
    # hinges there is wall, not atrial blood, so myocardium, LA wall and leaflet meet at the hinge.
    direction = (frame.hinge_right - frame.hinge_left) / np.linalg.norm(frame.hinge_right - frame.hinge_left)
    along = (u - frame.hinge_left[0]) * direction[0] + (v - frame.hinge_left[1]) * direction[1]
    span = np.linalg.norm(frame.hinge_right - frame.hinge_left)
    reach = wall + 2.0
    collar = ~below & (-side < wall + 1.0) & (((along < 0) & (along > -reach)) | ((along > span) & (along < span + reach)))
    labels[collar] = LA_WALL
    if shape.relaxed_base is not None:
        _paint_atrial_run(u, v, shape, frame, side, along, span, collar, labels)
    # LV myocardium and cavity below the MV line.
    epi = _inside_ellipse(u, v, ecu, ecv, eau, eav) & below
    labels[epi] = LV_MYO
    if shape.relaxed_base is not None:
        labels[epi & ~_relaxed_wall(u, v, shape, frame, side)] = EPI_FAT
    endo = _inside_ellipse(u, v, cu, cv, au, av) & below
    if shape.thin_segment is not None:
        sign, v0, v1 = shape.thin_segment
        thin = (np.sign(u) == sign) & (v > v0) & (v < v1) & epi & ~endo
        inner = _inside_ellipse(u, v, cu, cv, au + frame.wall_mm * 0.6, av) & thin
        labels[inner] = LV_BLOOD  # infarct thinning: the cavity reaches into the wall
    labels[endo] = LV_BLOOD
    for u_frac, v_frac, ru, rv in shape.papillary:
        pu = u_frac * au
        pv = cv + v_frac * av
        labels[_inside_ellipse(u, v, pu, pv, ru, rv) & endo] = PAPILLARY
    if shape.view == "3CH":
        _render_aortic_root(u, v, shape, frame, labels, below)
    # Between LA and LV at the annulus the blood pools connect through the open valve.
    for hinge, mid, tip in frame.leaflets:
        near = np.minimum(_segment_distance(u, v, hinge, mid, flat_start=True), _segment_distance(u, v, mid, tip))
        # Leaflets lie in the blood pool; they never cover the myocardium or the LA wall at the hinge.
        labels[(near < shape.leaflet_thickness_mm / 2) & np.isin(labels, (LV_BLOOD, LA_BLOOD))] = LEAFLET


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def relaxed_share(contraction: float) -> float:
    """How relaxed the heart is at a contraction (0 at end-diastole, 1 at end-systole): 1 at end-diastole
    and through late diastole, 0 at end-systole. Weighs every look that holds out of systole only."""
    return float(np.clip(1.0 - contraction, 0.0, 1.0))


def _relaxed_wall(u, v, shape: HeartShape, frame: HeartFrame, side) -> np.ndarray:
    """(H, W) bool: where the LV wall of a relaxed base may reach (within ``taper_mm`` of the MV line it
    thins to ``hinge_wall_mm``; further toward the apex, and at end-systole, everywhere: the full wall)."""
    taper_mm, hinge_wall_mm, _ = shape.relaxed_base
    full = frame.wall_mm
    thin = hinge_wall_mm + (full - hinge_wall_mm) * _smoothstep(side / taper_mm)
    thickness = full - relaxed_share(frame.contraction) * (full - np.minimum(thin, full))
    cu, cv, au, av = frame.lv_endo
    return _inside_ellipse(u, v, cu, cv, au + thickness, av + thickness) | (thickness >= full)


def _paint_atrial_run(u, v, shape: HeartShape, frame: HeartFrame, side, along, span, collar, labels) -> None:
    """The relaxed base's wall running on past the hinge: outside the LA blood and the valve's span,
    ``hinge_wall_mm`` thick at the MV line thinning to the LA wall over ``atrial_run_mm``, labelled as
    LV myocardium (as dark), the LA wall's collar at the hinge with it while the base is mostly
    relaxed; AV-groove vessels stay where they are."""
    _, hinge_wall_mm, run_mm = shape.relaxed_base
    share = relaxed_share(frame.contraction)
    if share <= 0.0:
        return
    up = -side  # mm from the MV line toward the atrium
    thickness = shape.la_wall_mm + share * max(hinge_wall_mm - shape.la_wall_mm, 0.0) * (1.0 - _smoothstep(up / run_mm))
    lcu, lcv, lau, lav = frame.la
    shell = (_inside_ellipse(u, v, lcu, lcv, lau + thickness, lav + thickness)
             & ~_inside_ellipse(u, v, lcu, lcv, lau, lav))
    outside_valve = (along < 0) | (along > span)
    run = shell & (up > 0) & (up < run_mm) & outside_valve
    if share > 0.5:
        run |= collar
    run &= labels != CORONARY
    labels[run] = LV_MYO


def aortic_root_axis(shape: HeartShape, frame: HeartFrame) -> tuple[np.ndarray, np.ndarray]:
    """3CH: the aortic root's centre line (start, end) in heart mm. It rises from the LV outflow tract
    beside the first-named (anterior) hinge, where the anterior leaflet meets the root's posterior
    wall (the aorto-mitral continuity), away from the apex and leaning anteriorly, past the LA."""
    lean = np.deg2rad(shape.aortic_lean_deg)
    up = np.array([-np.sin(lean), -np.cos(lean)])  # away from the apex, toward the anterior side (u < 0)
    start = frame.hinge_left + np.array([-(shape.aortic_root_mm + shape.aortic_wall_mm), 6.0])
    return start, start + up * (shape.la_height_mm + 20.0)


def _render_aortic_root(u, v, shape: HeartShape, frame: HeartFrame, labels: np.ndarray, below: np.ndarray) -> None:
    """Paint the LV outflow tract and aortic root of a 3CH: blood continuous with the LV below the MV
    line, a thin wall whose posterior side runs up from the anterior hinge (the LA abuts it), and the
    aortic valve cusps, open while the mitral valve is shut."""
    start, end = aortic_root_axis(shape, frame)
    distance = _segment_distance(u, v, start, end)
    radius, wall = shape.aortic_root_mm, shape.aortic_wall_mm
    atrial = ~below
    labels[(distance < radius + wall) & atrial & (labels != LV_MYO)] = LA_WALL  # the root's wall
    lumen = distance < radius
    labels[lumen & atrial] = AORTA
    labels[lumen & below & np.isin(labels, (LV_MYO, LV_BLOOD, EPI_FAT, PERICARDIUM))] = LV_BLOOD  # the outflow tract
    # Aortic valve: two cusps across the root 10 mm above the hinge level, shut in diastole.
    axis = (end - start) / np.linalg.norm(end - start)
    across = np.array([-axis[1], axis[0]])
    hinge_level = start + axis * (6.0 + 10.0)
    opening = 1.0 - min(1.0, 3.0 * frame.leaflet_open)  # open when the mitral valve is shut
    for sign in (-1.0, 1.0):
        root = hinge_level + sign * across * radius
        tip = root - sign * across * radius * (1.0 - 0.85 * opening) + axis * (4.0 + 6.0 * opening)
        near = _segment_distance(u, v, root, tip)
        labels[(near < 0.9) & (labels == AORTA)] = LEAFLET

