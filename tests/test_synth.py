from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from mvtrack.io import read_cines
from mvtrack.metrics import displacement_mm
from mvtrack.synth import anatomy as A
from mvtrack.synth.generator import generate_subject
from mvtrack.synth.writer import write_subject


def test_same_seed_same_subject():
    a, b = generate_subject(3, 1), generate_subject(3, 1)
    for view in ("2CH", "4CH"):
        np.testing.assert_array_equal(a.views[view].cine.frames, b.views[view].cine.frames)
        np.testing.assert_array_equal(a.views[view].points_px, b.views[view].points_px)
    c = generate_subject(3, 2)
    assert c.views["2CH"].cine.frames.shape != a.views["2CH"].cine.frames.shape or not np.array_equal(
        c.views["2CH"].cine.frames, a.views["2CH"].cine.frames)


def test_truth_points_sit_on_the_rendered_junction():
    """Every frame: LV myocardium, a leaflet and the LA (wall or blood) all lie within 0.5 stored px
    of each truth point, measured on a label map 4x finer than the stored pixels (a label pixel
    centre can sit up to half a fine pixel diagonal, 0.18 px, beyond the region it samples)."""
    subject = generate_subject(11, 0, keep_fine_labels=True, fine=4)
    tolerance = 0.5 + 0.5 * np.sqrt(2) / 4
    for view in subject.views.values():
        factor = view.fine_factor
        for t in range(view.cine.n_frames):
            for k in range(2):
                patch = view.label_patches[t, k]
                x, y = view.points_px[t, k] * factor - view.patch_origins[t, k]
                rows, cols = np.mgrid[: patch.shape[0], : patch.shape[1]]
                distance = np.hypot(cols - x, rows - y) / factor
                for group in ((A.LV_MYO,), (A.LEAFLET,), (A.LA_WALL, A.LA_BLOOD)):
                    mask = np.isin(patch, group)
                    assert mask.any() and distance[mask].min() <= tolerance, (view.cine.view, t, k, group)


def test_the_hinge_look_changes_the_annulus_and_leaves_the_rest_of_the_subject_as_it_was():
    """``hinge_look_probability`` draws from its own stream: the cine's timing, matrix and motion stay
    those of the plain subject; the LA may narrow to the annulus (no waist), and the truth still sits
    where LV myocardium, leaflet and LA meet."""
    plain = generate_subject(12, 3, ("4CH",), fine=4)
    looked = generate_subject(12, 3, ("4CH",), hinge_look_probability=1.0, keep_fine_labels=True, fine=4)
    a, b = plain.views["4CH"], looked.views["4CH"]
    assert a.params == b.params and a.cine.rr_s == b.cine.rr_s
    np.testing.assert_array_equal(a.cine.times_s, b.cine.times_s)
    assert not np.array_equal(a.cine.frames, b.cine.frames)
    # the MV line's motion is the plain subject's (the hinges may sit elsewhere along it)
    np.testing.assert_allclose(displacement_mm(b.points_px, b.cine.pixel_spacing_mm),
                               displacement_mm(a.points_px, a.cine.pixel_spacing_mm), atol=0.6)
    for t in range(0, b.cine.n_frames, 5):
        for k in range(2):
            patch = b.label_patches[t, k]
            x, y = b.points_px[t, k] * b.fine_factor - b.patch_origins[t, k]
            rows, cols = np.mgrid[: patch.shape[0], : patch.shape[1]]
            distance = np.hypot(cols - x, rows - y) / b.fine_factor
            for group in ((A.LV_MYO,), (A.LEAFLET,), (A.LA_WALL, A.LA_BLOOD)):
                assert distance[np.isin(patch, group)].min() <= 0.5 + 0.5 * np.sqrt(2) / 4, (t, k, group)


def test_motion_and_metric_ranges():
    for index in range(4):
        subject = generate_subject(21, index)
        motion = subject.motion
        assert 40 <= 60 / motion.rr_s <= 120
        assert 4 <= motion.mapse_mm <= 22
        for view in subject.views.values():
            cine = view.cine
            assert 20 <= cine.n_frames <= 50
            assert 160 <= min(cine.shape) and max(cine.shape) <= 320
            assert 1.0 <= min(cine.pixel_spacing_mm) and max(cine.pixel_spacing_mm) <= 2.6
            disp = displacement_mm(view.points_px, cine.pixel_spacing_mm)
            assert disp[0] == pytest.approx(0.0)
            # measured MAPSE near the motion model's: the plane tilts, the annulus narrows a little and
            # the smooth shape warp stretches the motion locally (30 2CH views: 0.81-1.18 of it)
            assert disp.max() == pytest.approx(motion.mapse_mm, rel=0.25)
            # the two points move differently
            moves = np.linalg.norm(view.points_px - view.points_px[:1], axis=2).max(axis=0)
            assert abs(moves[0] - moves[1]) > 0.01
            assert 0 <= cine.frames.min() and cine.frames.max() <= 4095


@pytest.mark.parametrize("fmt", ["dicom", "nifti", "npz"])
def test_written_subject_reads_back_with_its_truth(tmp_path, fmt):
    subject = generate_subject(4, 0)
    folder = write_subject(subject, tmp_path, fmt)
    truth = json.loads((folder / "truth.json").read_text())
    cines = {c.view: c for c in read_cines(folder)}
    assert set(cines) == {"2CH", "4CH"}
    for view, cine in cines.items():
        source = subject.views[view]
        assert cine.n_frames == source.cine.n_frames
        np.testing.assert_allclose(cine.times_s, truth["views"][view]["times_s"], atol=1e-5)
        assert cine.pixel_spacing_mm == pytest.approx(tuple(truth["views"][view]["pixel_spacing_mm"]), rel=1e-5)
        np.testing.assert_allclose(np.asarray(truth["views"][view]["points_px"]), source.points_px, atol=1e-3)
        # stored 12-bit frames come back (DICOM rescale is exact to one stored step)
        np.testing.assert_allclose(cine.frames, source.cine.frames, atol=2.0)
        if fmt == "dicom":
            assert cine.series_uid == truth["views"][view]["series_uid"]
            assert cine.manufacturer == source.vendor
            assert cine.rr_s == pytest.approx(source.cine.rr_s, abs=1e-3)
    assert truth["metrics"]["mapse_mm"] > 0


def test_a_3ch_has_the_aortic_root_at_its_anterior_point_and_its_plane_60_degrees_from_the_4ch():
    """3CH (synthesised, not yet tracked): the anterior point is the aorto-mitral continuity (leaflet
    and the root's wall at it, the root's lumen a few mm away); the inferolateral point is a hinge
    like the others; the 3CH plane lies 60 degrees back from the 4CH about the LV axis; and adding a
    3CH leaves the subject's 2CH and 4CH unchanged."""
    from mvtrack.geometry.exam import axis_toward_apex, image_plane, turn_about_axis_deg
    from mvtrack.geometry.patient import plane_intersection

    subject = generate_subject(11, 1, views=("4CH", "3CH"), keep_fine_labels=True, fine=3)
    view = subject.views["3CH"]
    factor = view.fine_factor
    tolerance = 0.5 + 0.5 * np.sqrt(2) / factor
    for t in range(0, view.cine.n_frames, 3):
        for k, groups in ((0, [((A.LEAFLET,), tolerance), ((A.LA_WALL,), tolerance), ((A.AORTA,), 6.0 / min(view.cine.pixel_spacing_mm))]),
                          (1, [((A.LV_MYO,), tolerance), ((A.LEAFLET,), tolerance), ((A.LA_WALL, A.LA_BLOOD), tolerance)])):
            patch = view.label_patches[t, k]
            x, y = view.points_px[t, k] * factor - view.patch_origins[t, k]
            rows, cols = np.mgrid[: patch.shape[0], : patch.shape[1]]
            distance = np.hypot(cols - x, rows - y) / factor
            for group, limit in groups:
                mask = np.isin(patch, group)
                assert mask.any() and distance[mask].min() <= limit, (t, k, group)
    three, four = subject.views["3CH"].cine, subject.views["4CH"].cine
    _, direction = plane_intersection(three.orientation, three.position_mm, four.orientation, four.position_mm)
    apex = axis_toward_apex(direction)
    turns = [turn_about_axis_deg(image_plane(c.orientation, c.position_mm, c.pixel_spacing_mm, c.shape).normal, apex)
             for c in (three, four)]
    assert abs((turns[1] - turns[0]) % 180 - 60) < 20
    alone = generate_subject(11, 1, views=("4CH",), keep_fine_labels=True, fine=3)
    assert np.array_equal(alone.views["4CH"].cine.frames, four.frames)


def test_synth_writes_3ch_cines_with_truth(tmp_path):
    import json

    from typer.testing import CliRunner

    from mvtrack.cli import app
    from mvtrack.results import read_result

    outcome = CliRunner().invoke(app, ["synth", str(tmp_path), "--subjects", "1", "--views", "4CH,3CH", "--format", "npz",
                                       "--workers", "1"])
    assert outcome.exit_code == 0, outcome.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    truth = read_result(folder / "truth.json")  # the result contract admits 3CH views
    assert set(truth["views"]) == {"3CH", "4CH"} and truth["views"]["3CH"]["point_names"] == ["anterior", "inferolateral"]
    assert len(json.loads((folder / "truth.json").read_text())["views"]["3CH"]["points_px"]) > 0
    bad = CliRunner().invoke(app, ["synth", str(tmp_path / "x"), "--views", "5CH"])
    assert bad.exit_code == 2 and "--views" in bad.output


def test_a_subjects_view_planes_lie_about_the_lv_axis_as_in_real_exams():
    """2CH, 3CH and 4CH planes of one synthetic heart turn about the LV axis as planned real views do
    (mvtrack.geometry.exam.VIEW_TURNS_DEG, checked on the real exams): named from one label, each
    plane gets its own view. Until 9cb28d1 (2026-12-02) the synthetic 2CH lay in the 3CH's plane."""
    from mvtrack.geometry.exam import axis_toward_apex, name_long_axis_planes, turn_about_axis_deg
    from mvtrack.geometry.patient import plane_intersection, plane_normal

    for index in range(2):
        views = generate_subject(12, index, views=("2CH", "4CH", "3CH")).views
        two, four = views["2CH"].cine, views["4CH"].cine
        _, direction = plane_intersection(two.orientation, two.position_mm, four.orientation, four.position_mm)
        apex = axis_toward_apex(direction)
        turns = {view: turn_about_axis_deg(plane_normal(v.cine.orientation), apex) for view, v in views.items()}
        named = name_long_axis_planes(turns, {"4CH": "4CH"})
        assert {view: name for view, (name, _) in named.items()} == {"2CH": "2CH", "3CH": "3CH", "4CH": "4CH"}, turns


def test_a_short_axis_cine_is_drawn_the_same_from_the_same_stream_and_beats():
    from mvtrack.synth.short_axis import SHORT_AXIS, render_short_axis

    a, b = render_short_axis(np.random.default_rng([4, 1])), render_short_axis(np.random.default_rng([4, 1]))
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.view == SHORT_AXIS and 20 <= a.n_frames <= 50 and np.all(np.diff(a.times_s) > 0)
    assert 160 <= min(a.shape) and max(a.shape) <= 320
    # the heart beats: blurred (noise off) and normalised (global gain off), frames move away from the
    # first one over the cycle by far more than from one frame to the next
    ratios = []
    for index in range(4):
        cine = render_short_axis(np.random.default_rng([4, index]))
        blurred = ndimage.gaussian_filter(cine.frames, (0, 3, 3))
        blurred /= blurred.mean(axis=(1, 2), keepdims=True)
        change = np.abs(blurred - blurred[0]).mean(axis=(1, 2))
        ratios.append(change.max() / change[1])
    assert min(ratios) > 1.5 and np.median(ratios) > 2.5, ratios


def test_busy_surroundings_fill_the_field_of_view_and_leave_the_heart_and_its_truth_as_they_were():
    """``busy_probability`` draws from its own stream: timing, matrix, motion and truth points stay the
    plain subject's; the chest fills more of the field of view (fewer air pixels) and is busier."""
    plain = generate_subject(13, 2, ("2CH",))
    busy = generate_subject(13, 2, ("2CH",), busy_probability=1.0)
    a, b = plain.views["2CH"], busy.views["2CH"]
    assert a.params == b.params
    np.testing.assert_array_equal(a.points_px, b.points_px)
    frame_a, frame_b = a.cine.frames[0].astype(float), b.cine.frames[0].astype(float)
    dark = 0.05 * np.percentile(frame_a, 99)
    assert (frame_b < dark).mean() < (frame_a < dark).mean()
    # busier: more small-scale structure (gradient energy) outside the heart's neighbourhood
    centre = a.points_px[0].mean(axis=0)
    rows, cols = np.mgrid[: frame_a.shape[0], : frame_a.shape[1]]
    far = np.hypot(cols - centre[0], rows - centre[1]) * a.cine.pixel_spacing_mm[0] > 80
    energy = [np.hypot(*np.gradient(f / np.percentile(f, 99)))[far].mean() for f in (frame_a, frame_b)]
    assert energy[1] > energy[0]


def test_chemical_shift_lines_outline_fat_where_it_meets_water_only():
    from mvtrack.synth.generator import chemical_shift_lines

    labels = np.full((12, 12), A.LV_MYO)
    labels[4:8, 4:8] = A.EPI_FAT
    labels[:, 10:] = A.LUNG
    lines = chemical_shift_lines(labels)
    assert lines[4, 4] and lines[3, 4] and lines[4, 3]  # both sides of the fat-myocardium boundary
    assert not lines[5, 5] and not lines[0, 0]  # not inside the fat pad, nor far from it
    labels[:, 8:10] = A.LUNG  # fat beside lung: no water there, no line
    labels[4:8, 3] = A.LUNG
    labels[3, 4:8] = A.LUNG
    labels[8, 4:8] = A.LUNG
    assert not chemical_shift_lines(labels)[4:8, 4:8].any()


def _same_motion_different_frames(option: str):
    """A generator option drawn from its own stream: timing, matrix and the MV line's motion stay the
    plain 4CH's, the frames change; returns the plain and the changed view."""
    a = generate_subject(12, 3, ("4CH",)).views["4CH"]
    b = generate_subject(12, 3, ("4CH",), **{option: 1.0}).views["4CH"]
    assert a.params == b.params
    np.testing.assert_array_equal(a.cine.times_s, b.cine.times_s)
    np.testing.assert_allclose(displacement_mm(b.points_px, b.cine.pixel_spacing_mm),
                               displacement_mm(a.points_px, a.cine.pixel_spacing_mm), atol=0.6)
    assert not np.array_equal(a.cine.frames, b.cine.frames)
    return a, b


def _darker_near_the_hinges_with_the_same_motion(option: str, radius_mm: float) -> None:
    """As :func:`_same_motion_different_frames`, and within ``radius_mm`` of the first frame's hinges the
    image is darker."""
    a, b = _same_motion_different_frames(option)
    rows, cols = np.mgrid[: a.cine.frames.shape[1], : a.cine.frames.shape[2]]
    distance = np.min([np.hypot(cols - x, rows - y) for x, y in a.points_px[0]], axis=0) * a.cine.pixel_spacing_mm[0]
    near = distance < radius_mm
    assert b.cine.frames[0][near].astype(float).mean() < a.cine.frames[0][near].astype(float).mean()


def test_dark_walls_darken_around_the_hinges_and_leave_the_motion_as_it_was():
    """The thicker LA wall, as dark as the LV myocardium, darkens the image around the hinges."""
    _darker_near_the_hinges_with_the_same_motion("dark_wall_probability", 12.0)


def test_a_dark_groove_darkens_beside_the_hinges_and_leaves_the_motion_as_it_was():
    """The AV groove's fat, as dark as the LV wall and reaching past the MV line, darkens beside the hinges."""
    _darker_near_the_hinges_with_the_same_motion("dark_groove_probability", 15.0)


def test_the_relaxed_base_runs_the_dark_wall_on_past_the_hinge_out_of_systole_only():
    """The relaxed base (issue 36): at end-diastole the LV wall at the hinge is thinner than in the plain
    heart and myocardium-dark wall continues past the hinge into the atrium; at end-systole the base looks
    as it did. The truth stays the hinge (the MV line meets the LV endocardium)."""
    from dataclasses import replace

    shape = A.HeartShape(view="2CH", wall_mm=9.0, la_wall_mm=2.0, annulus_half_mm=15.0, lv_half_width_mm=25.0)
    relaxed = replace(shape, relaxed_base=(14.0, 2.5, 10.0))
    u, v = np.meshgrid(np.arange(-40, 40, 0.25), np.arange(-35, 25, 0.25))

    def labels_of(heart, contraction):
        state = A.FrameState(base_left_mm=12.0 * contraction, base_right_mm=12.0 * contraction,
                             contraction=contraction, leaflet_open=0.0)
        frame = A.heart_frame(heart, state)
        labels = np.zeros(u.shape, np.uint8)
        A.render_heart_labels(u, v, heart, frame, labels)
        return frame, labels

    def myocardium_along(labels, frame, offset_mm):
        """LV-myocardium pixels on the line parallel to the MV line, offset_mm toward the apex (+) or atrium (-),
        outside the first hinge (within 12 mm of it)."""
        hinge = frame.hinge_left
        near = (np.abs(v - (hinge[1] + offset_mm)) < 0.13) & (u < hinge[0]) & (u > hinge[0] - 12)
        return int((labels[near] == A.LV_MYO).sum())

    for contraction in (0.0, 1.0):
        plain_frame, plain = labels_of(shape, contraction)
        relaxed_frame, looked = labels_of(relaxed, contraction)
        np.testing.assert_allclose(relaxed_frame.hinge_left, plain_frame.hinge_left)  # same truth
        if contraction == 0.0:
            assert myocardium_along(looked, relaxed_frame, 1.0) < 0.6 * myocardium_along(plain, plain_frame, 1.0)
            assert myocardium_along(looked, relaxed_frame, -4.0) > 0 == myocardium_along(plain, plain_frame, -4.0)
        else:
            np.testing.assert_array_equal(looked, plain)


def test_the_relaxed_base_leaves_the_rest_of_the_subject_as_it_was():
    _same_motion_different_frames("relaxed_base_probability")


def _near_hinges(view, t, radius_mm=15.0):
    rows, cols = np.mgrid[: view.cine.frames.shape[1], : view.cine.frames.shape[2]]
    distance = np.min([np.hypot(cols - x, rows - y) for x, y in view.points_px[t]], axis=0) * view.cine.pixel_spacing_mm[0]
    return distance < radius_mm


def test_diastolic_dark_walls_change_end_diastole_and_leave_end_systole_nearly_as_it_was():
    """The diastolic dark walls (issue 36): drawn from their own stream (the motion is the plain
    subject's); at end-diastole the frame changes around the hinges, at the frame nearest end-systole
    far less (the walls thin and brighten back with the contraction)."""
    a, b = _same_motion_different_frames("diastolic_wall_probability")
    es = int(np.argmax(displacement_mm(a.points_px, a.cine.pixel_spacing_mm)))

    def change(t):
        near = _near_hinges(a, t)
        return float(np.abs(b.cine.frames[t][near].astype(float) - a.cine.frames[t][near].astype(float)).mean())

    assert change(0) > 3 * change(es)


def test_the_diastolic_dark_groove_is_dark_at_end_diastole_only():
    """The diastolic dark groove: deeper AV-groove fat in every frame, as dark as the LV wall at
    end-diastole and fat again at end-systole."""
    a, b = _same_motion_different_frames("diastolic_groove_probability")
    es = int(np.argmax(displacement_mm(a.points_px, a.cine.pixel_spacing_mm)))

    def mean_near(view, t):
        return float(view.cine.frames[t][_near_hinges(a, t)].astype(float).mean())

    # relative to the plain subject (storage rescales each cine): darker at end-diastole than at end-systole
    assert mean_near(b, 0) / mean_near(a, 0) < mean_near(b, es) / mean_near(a, es)
