"""What one synthetic view shows, drawn at random: the heart's shape and motion, the torso around it,
and where the heart sits in the image and in the patient (DICOM geometry shared by a subject's views).
The shapes themselves are drawn by :mod:`mvtrack.synth.anatomy`, the valve's motion by
:mod:`mvtrack.synth.motion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mvtrack.geometry.exam import turned_about
from mvtrack.synth import anatomy as A
from mvtrack.synth.motion import MotionParams, physiological_timing


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
    # anterior-to-inferior line 60 degrees on (until 9cb28d1, 2026-12-02, it lay where the 3CH lies). The 3CH:
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
