"""Whole exams (issue 17, part): the planes of a short-axis stack and of the long-axis views say which
series can be an LV view, whatever their descriptions claim."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import make_cine

from mvtrack.geometry.exam import Plane, image_plane, lv_axis_concurrence, short_axis_stacks
from mvtrack.pipeline.exam import (
    LV_LONG_AXIS,
    NOT_LONG_AXIS,
    OFF_LV_AXIS,
    SHORT_AXIS,
    plane_roles,
    select_series,
)

AXIS = np.array([0.5, -0.6, -0.6]) / np.linalg.norm([0.5, -0.6, -0.6])  # base to apex, LPS
LV_CENTRE = np.array([10.0, 20.0, 30.0])
# across the axis: U from the patient's anterior, W = AXIS x U (turns are measured from U toward W)
U = np.array([0.0, -1.0, 0.0]) + AXIS[1] * AXIS
U /= np.linalg.norm(U)
W = np.cross(AXIS, U)
TWO_CH_TURN = 100.0  # where this heart's 2CH lies; the 3CH is 60 degrees on, the 4CH 120


def _cine(row_dir, col_dir, centre, view="unknown", n_frames=10, description=""):
    """A small cine whose image centre lies at ``centre`` in the plane spanned by the two directions."""
    cine = make_cine(n_frames=n_frames, shape=(40, 52), view=view)
    rows, cols = cine.shape
    position = centre - (cols - 1) / 2 * cine.pixel_spacing_mm[1] * row_dir - (rows - 1) / 2 * cine.pixel_spacing_mm[0] * col_dir
    return replace(cine, orientation=np.concatenate([row_dir, col_dir]), position_mm=position,
                   series_description=description or view, series_uid=description or view,
                   view_source="SeriesDescription" if view != "unknown" else "no keyword")


def _long_axis(angle_deg, offset_mm=0.0, **kwargs):
    """A plane containing the LV axis, turned ``angle_deg`` about it, moved ``offset_mm`` off it."""
    direction = np.cos(np.deg2rad(angle_deg)) * U + np.sin(np.deg2rad(angle_deg)) * W
    normal = np.cross(direction, AXIS)
    return _cine(direction, AXIS, LV_CENTRE + 15 * AXIS + offset_mm * normal, **kwargs)


def _exam():
    short_axis = [_cine(U, W, LV_CENTRE + k * 8.0 * AXIS, description=f"sax {k}") for k in range(-2, 4)]
    tilted = np.cos(np.deg2rad(45)) * AXIS + np.sin(np.deg2rad(45)) * U  # a plane oblique to the LV axis
    localiser = _cine(np.cross(tilted, W) / np.linalg.norm(np.cross(tilted, W)), W, LV_CENTRE, description="localiser")
    views = [_long_axis(TWO_CH_TURN + 4, view="2CH", description="2ch"),
             _long_axis(TWO_CH_TURN + 30, offset_mm=40.0, view="2CH", n_frames=12, description="rv 2ch"),  # more frames: a trap
             _long_axis(TWO_CH_TURN + 60, view="4CH", n_frames=12, description="3ch labelled 4ch"),  # a trap too
             _long_axis(TWO_CH_TURN + 117, view="4CH", description="4ch")]
    return short_axis + [localiser] + views


def test_stack_and_concurrence_of_long_axis_planes():
    planes = [image_plane(c.orientation, c.position_mm, c.pixel_spacing_mm, c.shape) for c in _exam()]
    (stack,) = short_axis_stacks(planes)
    assert sorted(stack) == list(range(6))
    long_axis = {i: planes[i] for i in range(7, 11)}
    point, distances = lv_axis_concurrence(planes[2], long_axis, prefer={7, 9, 10})
    off_axis = point - LV_CENTRE - ((point - LV_CENTRE) @ AXIS) * AXIS
    assert np.linalg.norm(off_axis) < 0.5  # on the LV long axis
    assert max(distances[i] for i in (7, 9, 10)) < 0.5 and abs(distances[8] - 40.0) < 0.5


def test_views_are_named_by_their_turns_about_the_lv_axis_anchored_by_a_label():
    from mvtrack.geometry.exam import name_long_axis_planes, turn_about_axis_deg

    turns = {k: turn_about_axis_deg(np.cross(np.cos(np.deg2rad(t)) * U + np.sin(np.deg2rad(t)) * W, AXIS), AXIS)
             for k, t in enumerate((100.0, 163.0, 218.0))}
    assert turns[0] == pytest.approx(100.0)
    expected = {0: "2CH", 1: "3CH", 2: "4CH"}
    for labels in ({0: "2CH"}, {2: "4CH"}, {0: "2CH", 1: "4CH", 2: "4CH"}):
        assert {k: v for k, (v, _) in name_long_axis_planes(turns, labels).items()} == expected
    assert name_long_axis_planes(turns, {}) == {}  # the turns alone fix no view
    assert name_long_axis_planes({0: 100.0, 1: 130.0}, {0: "2CH"}) == {0: ("2CH", 0.0)}  # 30 degrees: neither 2CH nor 3CH


def test_two_planes_alone_do_not_decide():
    planes = [Plane(LV_CENTRE, AXIS), Plane(LV_CENTRE, np.cross(U, AXIS)), Plane(LV_CENTRE, np.cross(W, AXIS))]
    assert lv_axis_concurrence(planes[0], {1: planes[1], 2: planes[2]}) == (None, {})


def test_roles_and_selection_skip_what_the_planes_rule_out():
    exam = _exam()
    roles = [r.kind for r in plane_roles(exam)]
    assert roles == [SHORT_AXIS] * 6 + [NOT_LONG_AXIS, LV_LONG_AXIS, OFF_LV_AXIS, LV_LONG_AXIS, LV_LONG_AXIS]
    chosen, log, flags = select_series(exam)
    assert chosen["2CH"].series_description == "2ch"  # not the RV view with more frames
    assert chosen["4CH"].series_description == "4ch"  # not the 3CH labelled 4CH with more frames
    assert any(line.startswith("skipped rv 2ch") and "not an LV view" in line for line in log), log
    assert any(line.startswith("skipped 3ch labelled 4ch") and "says 4CH; recognised 3CH" in line for line in log), log
    assert not flags


def test_a_forced_view_is_not_overruled_and_a_study_without_stack_is_unchanged():
    exam = _exam()
    rv = exam[8].with_view("2CH")
    chosen, _, _ = select_series([rv])
    assert chosen["2CH"] is rv
    pair = [_long_axis(0, view="2CH"), _long_axis(60, view="4CH")]
    assert {r.kind for r in plane_roles(pair)} == {"not checked"}
    assert set(select_series(pair)[0]) == {"2CH", "4CH"}


def test_the_real_exam_is_read_as_planned():
    """The whole 3T exam in data/ (11 series, two mislabelled): its 2CH and 4CH come from Se8 and Se6,
    Se7 (labelled 4CH) is recognised as the 3CH, Se9 (labelled 2CH) and the RVOT miss the LV axis, and
    the six short-axis slices are a stack. A measurement of rules set from anatomy, not a fit to it."""
    from pathlib import Path

    from mvtrack.io import read_cines
    from mvtrack.pipeline.exam import series_name

    exam = Path(__file__).resolve().parents[1] / "data" / "bivme-patient1" / "dicom"
    cines = read_cines([exam])
    chosen, log, flags = select_series(cines)
    assert {view: Path(c.source_paths[0]).parent.name for view, c in chosen.items()} == {"2CH": "Se8", "4CH": "Se6"}
    roles = {Path(c.source_paths[0]).parent.name: r for c, r in zip(cines, plane_roles(cines))}
    assert roles["Se7"].recognised == "3CH" and roles["Se8"].recognised == "2CH" and roles["Se6"].recognised == "4CH"
    assert roles["Se9"].kind == OFF_LV_AXIS and sum(r.kind == SHORT_AXIS for r in roles.values()) == 6
    skipped = [line for line in log if line.startswith("skipped")]
    assert len(skipped) == 9 and any("[Se7]" in line and "says 4CH; recognised 3CH" in line for line in skipped)
    assert series_name(chosen["4CH"]).endswith("[Se6]") and not flags


def test_parallel_slices_labelled_4ch_are_not_a_short_axis_stack():
    """A multi-slice 4CH (three parallel planes) beside a 2CH and no short-axis stack decides nothing."""
    direction = np.cos(np.deg2rad(TWO_CH_TURN + 120)) * U + np.sin(np.deg2rad(TWO_CH_TURN + 120)) * W
    normal = np.cross(direction, AXIS)
    slices = [_cine(direction, AXIS, LV_CENTRE + k * 6.0 * normal, view="4CH", description=f"4ch slice {k}") for k in (-1, 0, 1)]
    exam = [_long_axis(TWO_CH_TURN, view="2CH", description="2ch"), *slices]
    assert {r.kind for r in plane_roles(exam)} == {"not checked"}
    assert set(select_series(exam)[0]) == {"2CH", "4CH"}
