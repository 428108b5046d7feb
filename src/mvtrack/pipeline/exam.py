"""Which series of a study to track: each series checked against the exam's plane geometry (see
mvtrack.geometry.exam), then one chosen per view.

With a short-axis stack in the study, every other series gets a role: a long-axis plane through the
LV (a 2CH, 3CH or 4CH), a long-axis plane that misses the LV axis (an RV or outflow view, whatever its
description says), or a plane that is not long-axis at all. Series selection uses it to skip what
cannot be the view its description claims. Without a stack nothing is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvtrack.geometry.exam import (
    LONG_AXIS_TOLERANCE_DEG,
    THROUGH_LV_MM,
    angle_deg,
    axis_toward_apex,
    image_plane,
    lv_axis_concurrence,
    name_long_axis_planes,
    short_axis_stacks,
    turn_about_axis_deg,
)
from mvtrack.io import VIEWS, Cine
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
    planes = {i: _plane_of(cines[i]) for i in indices}
    roles = [PlaneRole(UNCHECKED, "no plane geometry") if i not in planes else
             PlaneRole(UNCHECKED, "no short-axis stack in the study to check it against") for i in range(len(cines))]
    ordered = [planes[i] for i in indices]
    stacks = [[indices[k] for k in stack] for stack in short_axis_stacks(ordered)]
    # Parallel slices described as long-axis views are a multi-slice 2CH / 4CH, not a short-axis stack.
    stacks = [stack for stack in stacks if sum(claimed_view(cines[i]) != "unknown" for i in stack) <= len(stack) / 2]
    if not stacks:
        return roles
    stack = stacks[0]
    axis = planes[stack[0]].normal
    along_normal = [stack[k] for k in np.argsort([planes[i].centre_mm @ axis for i in stack])]
    middle = along_normal[len(stack) // 2]
    for rank, i in enumerate(along_normal):
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
    labelled = {i for i in long_axis if claimed_view(cines[i]) in VIEWS}
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
    if cine.view in VIEWS:
        return cine.view
    return view_from_text(cine.series_description, with_3ch=True)


def _plane_of(cine: Cine):
    return image_plane(cine.orientation, cine.position_mm, cine.pixel_spacing_mm, cine.shape)


def plane_angle_deg(a: Cine, b: Cine) -> float:
    """Angle (degrees, 0-90) between the planes of two cines with geometry."""
    return angle_deg(_plane_of(a).normal, _plane_of(b).normal)


#: Two series of one labelled view whose planes differ by more than this are different views.
SAME_VIEW_MAX_ANGLE_DEG = 20.0


def series_name(cine: Cine) -> str:
    """How logs name a series: its description and folder ("cine_trufi_retro 4CH [Se6]"), or its UID."""
    folder = Path(cine.source_paths[0]).parent.name if cine.source_paths else ""
    if cine.series_description or folder:
        return f"{cine.series_description or 'no description'} [{folder}]" if folder else cine.series_description
    return cine.series_uid or "(unnamed)"


def select_series(cines: list[Cine], trackable: tuple[str, ...] = ("2CH", "4CH")) -> tuple[dict[str, Cine], list[str], list[str]]:
    """Pick one cine per view of ``trackable`` (the views the model has networks for); say which and
    why. Returns (chosen {view: cine}, the selection log, QC reasons).

    The plane geometry of the exam (:func:`mvtrack.pipeline.exam.plane_roles`) overrules a series'
    description: a short-axis slice or a long-axis plane that misses the LV axis is skipped, and a
    plane through the LV recognised as another view than its description claims is used as that
    view (or skipped, when the model cannot track it), saying both; a view the user forced is never
    overruled. Among the
    candidates of a view one the geometry names as that view wins, then the one with most frames;
    when two lie in clearly different planes, that is a QC reason (one is another view).
    """
    roles = dict(zip(map(id, cines), plane_roles(cines)))
    candidates: dict[str, list[Cine]] = {view: [] for view in trackable}
    excluded, original = {}, {}
    for cine in cines:
        role, claimed = roles[id(cine)], claimed_view(cine)
        if cine.view_source == "forced by the user":
            view = cine.view
        elif role.excludes_lv_view:
            if claimed != "unknown":
                excluded[id(cine)] = f"{cine.view_source} says {claimed}, but {role.reason}"
            continue
        elif role.recognised and role.recognised != claimed:
            said = f"{cine.view_source} says {claimed}" if claimed != "unknown" else "its description names no view"
            if role.recognised not in candidates:
                excluded[id(cine)] = (f"{said}; recognised {role.recognised} from the plane geometry ({role.recognised_off_deg:.0f} "
                                      f"degrees off its place about the LV axis): the model has no {role.recognised} networks")
                continue
            view = role.recognised
            recognised = cine.with_view(view, source=f"the plane geometry ({said}; {role.recognised_off_deg:.0f} degrees off "
                                                      f"the {view} place about the LV axis)")
            original[id(recognised)] = cine
            cine = recognised
        else:
            view = cine.view
        if view in candidates:
            candidates[view].append(cine)
    chosen: dict[str, Cine] = {}
    log, flags = [], []
    for view, found in candidates.items():
        if not found:
            continue
        # a plane the geometry names as this view beats one that only its description claims
        best = max(found, key=lambda c: (roles[id(original.get(id(c), c))].recognised == view, c.n_frames,
                                         c.shape[0] * c.shape[1]))
        chosen[view] = best
        why = f"view from {best.view_source}"
        if len(found) > 1:
            why += f"; chosen among {len(found)} {view} series for having the most frames ({best.n_frames})"
            for other in found:
                if other is best or not (has_geometry(other) and has_geometry(best)):
                    continue
                angle = plane_angle_deg(best, other)
                if angle > SAME_VIEW_MAX_ANGLE_DEG:
                    flags.append(f"{view}: series {series_name(best)} and {series_name(other)} are both taken as {view} but "
                                 f"lie in planes {angle:.0f} degrees apart: one is another view; check the chosen one")
        checked = roles[id(original.get(id(best), best))]
        log.append(f"{view}: series {series_name(best)} ({why}" + (f"; {checked.reason})" if checked.kind != UNCHECKED else ")"))
    used = {id(original.get(id(c), c)) for c in chosen.values()}
    for cine in cines:
        if id(cine) in used:
            continue
        role = roles[id(cine)]
        if id(cine) in excluded:
            reason = excluded[id(cine)]
        elif cine.view in VIEWS and cine.view not in trackable and not role.recognised:
            reason = f"{cine.view} ({cine.view_source}), and the model has no {cine.view} networks"
        elif cine.view not in trackable and not role.recognised:
            reason = f"not a {'/'.join(trackable)} long-axis view" + (f" ({role.reason})" if role.kind != UNCHECKED else "")
        else:
            reason = "another series was chosen"
        log.append(f"skipped {series_name(cine)}: {reason}")
    return chosen, log, flags
