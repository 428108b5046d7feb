"""Rendering one synthetic view: a label map on a grid twice as fine as the stored one (background once,
the heart each frame) -> intensities with textures -> coil bias and bSSFP banding -> k-space truncated
to the acquired resolution and zero-filled to the stored matrix (Gibbs ringing and zero-fill blur come
for free) -> wrap-around, ghosting -> complex noise, magnitude (Rician) -> 12-bit storage. The truth
points are the hinges of the drawn heart, carried through the same warp as the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from mvtrack.io.cine import POINT_NAMES, Cine
from mvtrack.synth import anatomy as A
from mvtrack.synth.appearance import (
    RANDOM_CONTRAST_PROBABILITY,
    VENDORS,
    _acquire,
    _banding,
    _bias_field,
    _smooth_field,
    _tissue_intensities,
    stored_12bit,
)
from mvtrack.synth.motion import MotionParams, mv_displacement_mm
from mvtrack.synth.scene import (
    HeartPose,
    _apex_angle,
    _background_labels,
    _heart_axes,
    _leaflet_opening,
    _patient_orientation,
    _sample_shape,
)
from mvtrack.synth.variants import (
    _busy_surroundings,
    _dark_walls,
    _hinge_look,
    _relaxed_base,
    chemical_shift_lines,
)


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


PATCH = 24  # fine pixels per side of the label patches kept for tests


def render_view(view: str, motion: MotionParams, af: bool, rng: np.random.Generator,
                keep_fine_labels: bool = False, fine: int = 2, pose: HeartPose | None = None,
                random_contrast_probability: float = RANDOM_CONTRAST_PROBABILITY,
                hinge_look_probability: float = 0.0, busy_probability: float = 0.0,
                dark_wall_probability: float = 0.0, dark_groove_probability: float = 0.0,
                relaxed_base_probability: float = 0.0, diastolic_groove_probability: float = 0.0,
                diastolic_wall_probability: float = 0.0) -> SyntheticView:
    # the hinge look, the busy surroundings, the dark walls, the dark groove, the relaxed base, the
    # diastolic groove and the diastolic walls draw from streams of their own, so that without them
    # the view is what it was
    look_rng, busy_rng, dark_rng, groove_rng, relaxed_rng, diastolic_rng, atrial_rng = rng.spawn(7)
    dilated = rng.random() < 0.15
    hypertrophy = rng.random() < 0.12
    shape = _sample_shape(view, rng, dilated, hypertrophy)
    n_frames = int(rng.integers(20, 51))
    look = None
    if look_rng.random() < hinge_look_probability:
        shape, look = _hinge_look(shape, n_frames, look_rng)
    if relaxed_rng.random() < relaxed_base_probability:
        shape = _relaxed_base(shape, relaxed_rng)
    dark = _dark_walls(dark_rng) if dark_rng.random() < dark_wall_probability else None
    if dark is not None:
        shape = replace(shape, la_wall_mm=dark.la_wall_mm)
        if dark.la_widening is not None:
            shape = replace(shape, la_half_width_mm=shape.annulus_half_mm * dark.la_widening)
    # A dark AV groove: the fat pad beside the annulus as dark as the LV wall (fat and water cancelling
    # in its voxels, vessels) and reaching 8-20 mm past the MV line, so the dark band of the wall runs
    # on, as thick, past the hinge.
    shape, groove_gain = _dark_groove(shape, groove_rng, dark_groove_probability)
    # A diastolic dark groove: the same, but only out of systole (blending back to fat toward
    # end-systole), so the dark band runs on past the hinge at end-diastole and in late diastole.
    shape, diastolic_gain = _dark_groove(shape, diastolic_rng, diastolic_groove_probability)
    # Diastolic dark walls: the LA / RA wall thickening out of systole (the atrium contracting in late
    # diastole) by 1.5-4 mm and as dark as the LV wall, back to the drawn wall at end-systole.
    atrial = None
    if atrial_rng.random() < diastolic_wall_probability:
        atrial = (atrial_rng.uniform(1.5, 4.0), atrial_rng.uniform(0.6, 1.1))  # extra thickness mm, gain
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
        relaxed = A.relaxed_share(contraction[index])
        frame_shape = shape if atrial is None else replace(shape, la_wall_mm=shape.la_wall_mm + atrial[0] * relaxed)
        geometry = A.heart_frame(frame_shape, state)
        labels = background.copy()
        box_labels = labels[box]
        A.render_heart_labels(u_warped, v_warped, frame_shape, geometry, box_labels)
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
        if atrial is not None:
            for wall in (A.LA_WALL, A.RA_WALL):
                frame_lut[wall] = relaxed * lut[A.LV_MYO] * atrial[1] + (1.0 - relaxed) * lut[wall]
        if diastolic_gain is not None:
            frame_lut[A.EPI_FAT] = relaxed * lut[A.LV_MYO] * diastolic_gain + (1.0 - relaxed) * lut[A.EPI_FAT]
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


def _dark_groove(shape: A.HeartShape, rng: np.random.Generator, probability: float) -> tuple[A.HeartShape, float | None]:
    """With ``probability``: the AV-groove fat reaching 8-20 mm past the MV line, and its intensity as a
    multiple (0.7-1.3) of the LV wall's; else the shape as it was and None."""
    if not rng.random() < probability:
        return shape, None
    gain = rng.uniform(0.7, 1.3)
    return replace(shape, avgroove_fat_mm=rng.uniform(8.0, 20.0)), gain


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
