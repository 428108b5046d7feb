"""Whole exams (issue 17, part): the planes of a short-axis stack and of the long-axis views say which
series can be an LV view, whatever their descriptions claim."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from conftest import make_cine

from mvtrack.geometry.exam import Plane, image_plane, lv_axis_concurrence, short_axis_stacks
from mvtrack.pipeline.exam import LV_LONG_AXIS, NOT_LONG_AXIS, OFF_LV_AXIS, SHORT_AXIS, plane_roles
from mvtrack.pipeline.study import select_series

AXIS = np.array([0.5, -0.6, -0.6]) / np.linalg.norm([0.5, -0.6, -0.6])  # base to apex, LPS
LV_CENTRE = np.array([10.0, 20.0, 30.0])
U = np.cross(AXIS, [0.0, 0.0, 1.0]) / np.linalg.norm(np.cross(AXIS, [0.0, 0.0, 1.0]))
W = np.cross(AXIS, U)


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
    views = [_long_axis(0, view="2CH", description="2ch"),
             _long_axis(30, offset_mm=40.0, view="2CH", n_frames=12, description="rv 2ch"),  # more frames: a trap
             _long_axis(60, view="4CH", description="4ch a"), _long_axis(120, view="4CH", description="4ch b")]
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


def test_two_planes_alone_do_not_decide():
    planes = [Plane(LV_CENTRE, AXIS), Plane(LV_CENTRE, np.cross(U, AXIS)), Plane(LV_CENTRE, np.cross(W, AXIS))]
    assert lv_axis_concurrence(planes[0], {1: planes[1], 2: planes[2]}) == (None, {})


def test_roles_and_selection_skip_what_the_planes_rule_out():
    exam = _exam()
    roles = [r.kind for r in plane_roles(exam)]
    assert roles == [SHORT_AXIS] * 6 + [NOT_LONG_AXIS, LV_LONG_AXIS, OFF_LV_AXIS, LV_LONG_AXIS, LV_LONG_AXIS]
    chosen, log, flags = select_series(exam)
    assert chosen["2CH"].series_description == "2ch"  # not the RV view with more frames
    assert any(line.startswith("skipped rv 2ch") and "not an LV view" in line for line in log), log
    assert any("60 degrees apart" in flag for flag in flags)  # two planes labelled 4CH: one is another view


def test_a_forced_view_is_not_overruled_and_a_study_without_stack_is_unchanged():
    exam = _exam()
    rv = exam[8].with_view("2CH")
    chosen, _, _ = select_series([rv])
    assert chosen["2CH"] is rv
    pair = [_long_axis(0, view="2CH"), _long_axis(60, view="4CH")]
    assert {r.kind for r in plane_roles(pair)} == {"not checked"}
    assert set(select_series(pair)[0]) == {"2CH", "4CH"}
