"""What the image planes of a whole exam say about each series, whatever its description says.

A short-axis stack is several parallel planes, offset along their common normal; that normal is the
LV long axis. Long-axis views (2CH, 3CH, 4CH) are planned through the LV long axis, so their planes
contain that direction and all pass through the LV centre: in a short-axis slice their traces meet in
one point. A long-axis plane whose trace misses that point (an RV two-chamber or an outflow-tract
view) is not an LV view, however it is labelled. These are anatomical facts about planning, not
image analysis; the constants are generous on purpose and were set before any exam was looked at.

All functions are pure: planes are (centre (3,), unit normal (3,)) in patient mm (LPS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.geometry.patient import plane_normal

#: Planes within this angle are parallel (slices of one stack).
PARALLEL_DEG = 10.0
#: A short-axis stack has at least this many parallel planes, at least STACK_GAP_MM apart.
MIN_STACK_SLICES = 3
STACK_GAP_MM = 3.0
#: A long-axis plane contains the stack normal within this angle (its normal is then 90 +- this from it).
LONG_AXIS_TOLERANCE_DEG = 30.0
#: Planes through the LV long axis pass this close to the point where they meet in a short-axis slice
#: (the planned MV centre lies 1-5 mm from a view's plane; the LV cavity radius is 20-30 mm).
THROUGH_LV_MM = 12.0


@dataclass(frozen=True)
class Plane:
    centre_mm: np.ndarray  # (3,) the image centre
    normal: np.ndarray  # (3,) unit


def image_plane(orientation: np.ndarray, position_mm: np.ndarray, pixel_spacing_mm: tuple[float, float],
                shape: tuple[int, int]) -> Plane:
    """The plane of an image of ``shape`` (rows, cols) px: its centre and unit normal."""
    orientation = np.asarray(orientation, dtype=float)
    rows, cols = shape
    centre = (np.asarray(position_mm, dtype=float) + (cols - 1) / 2 * pixel_spacing_mm[1] * orientation[:3]
              + (rows - 1) / 2 * pixel_spacing_mm[0] * orientation[3:])
    return Plane(centre, plane_normal(orientation))


def angle_deg(normal_a: np.ndarray, normal_b: np.ndarray) -> float:
    """Angle between two planes (0-90 degrees) from their normals."""
    cosine = abs(float(np.clip(np.dot(normal_a, normal_b), -1.0, 1.0)))
    return float(np.degrees(np.arccos(cosine)))


def short_axis_stacks(planes: list[Plane]) -> list[list[int]]:
    """Indices of the planes of each short-axis stack (largest first): groups of at least
    MIN_STACK_SLICES parallel planes whose centres spread at least STACK_GAP_MM apart along the normal."""
    remaining = list(range(len(planes)))
    stacks = []
    while remaining:
        seed = remaining[0]
        group = [i for i in remaining if angle_deg(planes[i].normal, planes[seed].normal) <= PARALLEL_DEG]
        remaining = [i for i in remaining if i not in group]
        offsets = sorted(float(planes[i].centre_mm @ planes[seed].normal) for i in group)
        distinct = 1 + sum(b - a >= STACK_GAP_MM for a, b in zip(offsets, offsets[1:]))
        if distinct >= MIN_STACK_SLICES:
            stacks.append(group)
    return sorted(stacks, key=len, reverse=True)


def _trace_in(reference: Plane, plane: Plane, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The line where ``plane`` cuts ``reference``, as (point, unit direction) in the 2D ``basis``
    (2, 3) of the reference plane; None when the two are nearly parallel."""
    direction = np.cross(reference.normal, plane.normal)
    if np.linalg.norm(direction) < np.sin(np.deg2rad(20.0)):
        return None
    direction /= np.linalg.norm(direction)
    system = np.stack([reference.normal, plane.normal, direction])
    point = np.linalg.solve(system, [reference.normal @ reference.centre_mm, plane.normal @ plane.centre_mm,
                                     direction @ reference.centre_mm])
    in_plane_direction = basis @ direction
    return basis @ (point - reference.centre_mm), in_plane_direction / np.linalg.norm(in_plane_direction)


def _distance_to_line(point: np.ndarray, line: tuple[np.ndarray, np.ndarray]) -> float:
    origin, direction = line
    relative = point - origin
    return float(abs(relative[0] * direction[1] - relative[1] * direction[0]))


def lv_axis_concurrence(reference: Plane, planes: dict[int, Plane], prefer: set[int] = frozenset()
                        ) -> tuple[np.ndarray | None, dict[int, float]]:
    """Where the long-axis ``planes`` meet in the short-axis plane ``reference``, and each plane's
    distance (mm) from that point.

    The point is the pairwise crossing of two traces with the most traces within THROUGH_LV_MM of it;
    ties go to crossings of planes in ``prefer`` (those labelled as LV views), then to the tighter
    fit. With fewer than three traces, or a tie that ``prefer`` cannot break, there is no point:
    (None, {}). Returns (point (3,) mm or None, {plane index: distance mm}).
    """
    basis = np.stack([np.cross(reference.normal, [0.0, 0.0, 1.0]), [0.0, 0.0, 0.0]])
    if np.linalg.norm(basis[0]) < 1e-6:
        basis[0] = np.cross(reference.normal, [0.0, 1.0, 0.0])
    basis[0] /= np.linalg.norm(basis[0])
    basis[1] = np.cross(reference.normal, basis[0])
    traces = {i: t for i, p in planes.items() if (t := _trace_in(reference, p, basis)) is not None}
    if len(traces) < 3:
        return None, {}
    candidates = []
    keys = sorted(traces)
    for a_index, a in enumerate(keys):
        for b in keys[a_index + 1:]:
            (pa, da), (pb, db) = traces[a], traces[b]
            cross = da[0] * db[1] - da[1] * db[0]
            if abs(cross) < np.sin(np.deg2rad(20.0)):
                continue
            t = ((pb[0] - pa[0]) * db[1] - (pb[1] - pa[1]) * db[0]) / cross
            point = pa + t * da
            distances = {i: _distance_to_line(point, line) for i, line in traces.items()}
            through = [i for i, d in distances.items() if d <= THROUGH_LV_MM]
            candidates.append((len(through), len(set(through) & set(prefer)), -float(np.mean([distances[i] for i in through])),
                               point, distances))
    if not candidates:
        return None, {}
    candidates.sort(key=lambda c: c[:3], reverse=True)
    best = candidates[0]
    if len(candidates) > 1 and candidates[1][:2] == best[:2] and best[0] < 3:
        return None, {}  # two places fit equally well: the planes alone cannot say which is the LV
    point_2d, distances = best[3], best[4]
    return reference.centre_mm + point_2d @ basis, distances
