"""Check each series of a whole exam against the exam's plane geometry (see mvtrack.geometry.exam).

With a short-axis stack in the study, every other series gets a role: a long-axis plane through the
LV (a 2CH, 3CH or 4CH), a long-axis plane that misses the LV axis (an RV or outflow view, whatever its
description says), or a plane that is not long-axis at all. Series selection uses it to skip what
cannot be the view its description claims. Without a stack nothing is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.geometry.exam import (LONG_AXIS_TOLERANCE_DEG, THROUGH_LV_MM, angle_deg, axis_toward_apex, image_plane,
                                   lv_axis_concurrence, name_long_axis_planes, short_axis_stacks, turn_about_axis_deg)
from mvtrack.io import Cine
from mvtrack.io.views import view_from_text
from mvtrack.pipeline.plane import has_geometry

SHORT_AXIS = "short axis"
LV_LONG_AXIS = "long axis through the LV"
OFF_LV_AXIS = "long axis off the LV"
NOT_LONG_AXIS = "not long axis"
UNCHECKED = "not checked"


@dataclass(frozen=True)
class PlaneRole:
    """What the geometry says of one series: ``kind`` (one of the constants above) and why, in words."""

    kind: str
    reason: str
    #: for a long-axis plane through the LV: the view its place about the LV axis makes it, or None,
    #: and how many degrees it lies from that view's place
    recognised: str | None = None
    recognised_off_deg: float | None = None

    @property
    def excludes_lv_view(self) -> bool:
        """The plane cannot be a 2CH / 3CH / 4CH view."""
        return self.kind in (SHORT_AXIS, OFF_LV_AXIS, NOT_LONG_AXIS)


def plane_roles(cines: list[Cine]) -> list[PlaneRole]:
    """One :class:`PlaneRole` per cine, in order."""
    indices = [i for i, c in enumerate(cines) if has_geometry(c)]
    planes = {i: image_plane(cines[i].orientation, cines[i].position_mm, cines[i].pixel_spacing_mm, cines[i].shape)
              for i in indices}
    roles = [PlaneRole(UNCHECKED, "no plane geometry") if i not in planes else
             PlaneRole(UNCHECKED, "no short-axis stack in the study to check it against") for i in range(len(cines))]
    ordered = [planes[i] for i in indices]
    stacks = [[indices[k] for k in stack] for stack in short_axis_stacks(ordered)]
    if not stacks:
        return roles
    stack = stacks[0]
    axis = planes[stack[0]].normal
    offsets = np.array([planes[i].centre_mm @ axis for i in stack])
    middle = stack[int(np.argsort(offsets)[len(stack) // 2])]
    for rank, i in enumerate(np.array(stack)[np.argsort(offsets)]):
        roles[i] = PlaneRole(SHORT_AXIS, f"slice {rank + 1} of a short-axis stack of {len(stack)} parallel planes")
    long_axis = {}
    for i in planes:
        if i in stack:
            continue
        tilt = 90.0 - angle_deg(planes[i].normal, axis)  # 0 when the plane contains the LV long axis
        if tilt > LONG_AXIS_TOLERANCE_DEG:
            roles[i] = PlaneRole(NOT_LONG_AXIS, f"its plane is {tilt:.0f} degrees off the LV long axis of the "
                                                "short-axis stack: not a long-axis view")
        else:
            long_axis[i] = planes[i]
    labelled = {i for i in long_axis if cines[i].view in ("2CH", "4CH")}
    point, distances = lv_axis_concurrence(planes[middle], long_axis, labelled)
    through = [i for i in long_axis if point is not None and distances[i] <= THROUGH_LV_MM]
    apex = axis_toward_apex(axis)
    names = name_long_axis_planes({i: turn_about_axis_deg(planes[i].normal, apex) for i in through},
                                  {i: v for i in through if (v := claimed_view(cines[i])) != "unknown"})
    for i in long_axis:
        if i in names:
            view, error = names[i]
            roles[i] = PlaneRole(LV_LONG_AXIS, f"a long-axis plane through the LV ({distances[i]:.0f} mm from where the "
                                               f"long-axis planes meet in the short-axis stack) whose turn about the LV "
                                               f"axis makes it the {view} ({error:.0f} degrees off its place)", view, error)
        elif point is None:
            roles[i] = PlaneRole(UNCHECKED, "a long-axis plane; too few others to tell where the LV axis is")
        elif distances[i] <= THROUGH_LV_MM:
            roles[i] = PlaneRole(LV_LONG_AXIS, f"a long-axis plane through the LV ({distances[i]:.0f} mm from where "
                                               "the long-axis planes meet in the short-axis stack)")
        else:
            roles[i] = PlaneRole(OFF_LV_AXIS, f"its plane passes {distances[i]:.0f} mm from where the LV long-axis "
                                              "planes meet in the short-axis stack: not an LV view (RV or outflow?)")
    return roles


def claimed_view(cine: Cine) -> str:
    """The view a cine's description or reader claims: 2CH, 4CH, 3CH or "unknown"."""
    if cine.view in ("2CH", "4CH"):
        return cine.view
    return view_from_text(cine.series_description, with_3ch=True)


def plane_angle_deg(a: Cine, b: Cine) -> float:
    """Angle (degrees, 0-90) between the planes of two cines with geometry."""
    return angle_deg(image_plane(a.orientation, a.position_mm, a.pixel_spacing_mm, a.shape).normal,
                     image_plane(b.orientation, b.position_mm, b.pixel_spacing_mm, b.shape).normal)
