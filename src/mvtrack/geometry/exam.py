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

from mvtrack.geometry.patient import plane_normal, planes_line

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
    (2, 3) of the reference plane; None when the two are within 20 degrees of parallel."""
    line = planes_line(reference.normal, reference.centre_mm, plane.normal, plane.centre_mm)
    if line is None:
        return None
    point, direction = line
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


#: Where the long-axis views lie about the LV long axis, from the walls each cuts (AHA segments: 2CH
#: anterior and inferior, 3CH anteroseptal and inferolateral, 4CH inferoseptal and anterolateral):
#: 60 degrees apart, turning from the 2CH toward the septum. Turns are measured about the axis
#: pointing to the apex, from the patient's anterior toward ``axis x anterior`` (the patient's right
#: side); the real MVnet sample's 4CH lies 118 degrees on from its 2CH, as this predicts.
VIEW_TURNS_DEG = {"2CH": 0.0, "3CH": 60.0, "4CH": 120.0}
#: A plane further than this from its view's turn is not named (views are 60 degrees apart).
MAX_TURN_ERROR_DEG = 20.0


def axis_toward_apex(direction: np.ndarray) -> np.ndarray:
    """The LV long axis direction pointing from base to apex: toward the patient's left, anterior
    and feet (LPS: +x, -y, -z), as in every heart in normal position."""
    direction = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    return direction if direction @ np.array([1.0, -1.0, -1.0]) >= 0 else -direction


def turn_about_axis_deg(normal: np.ndarray, axis_to_apex: np.ndarray) -> float:
    """The turn (0-180 degrees) of a plane containing the LV axis: the angle of its in-plane direction
    across the axis from the patient's anterior, toward ``axis x anterior`` (see VIEW_TURNS_DEG)."""
    anterior = np.array([0.0, -1.0, 0.0]) - (-axis_to_apex[1]) * axis_to_apex
    anterior /= np.linalg.norm(anterior)
    across = np.cross(normal, axis_to_apex)
    return float(np.degrees(np.arctan2(across @ np.cross(axis_to_apex, anterior), across @ anterior)) % 180.0)


def turned_about(vector: np.ndarray, axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """``vector`` turned by ``angle_deg`` about the unit ``axis`` (right hand, Rodrigues): turning a
    plane's across-axis direction by +a degrees about the axis to the apex adds a to its turn."""
    angle = np.deg2rad(angle_deg)
    return vector * np.cos(angle) + np.cross(axis, vector) * np.sin(angle) + axis * (axis @ vector) * (1 - np.cos(angle))


def _turn_distance(a: float, b: float) -> float:
    return float(abs((a - b + 90.0) % 180.0 - 90.0))


def name_long_axis_planes(turns: dict[int, float], labels: dict[int, str]) -> dict[int, tuple[str, float]]:
    """Name planes through the LV (their turns, degrees) 2CH / 3CH / 4CH from where they lie relative
    to each other, anchored by the views their descriptions claim (``labels``; at least one needed:
    the turns fix the views relative to each other, not absolutely).

    The anchoring that agrees with the most labels wins (then the one that fits the turns better).
    Returns {plane: (view, degrees from that view's turn)} for the planes within MAX_TURN_ERROR_DEG;
    {} when no label anchors the turns or two anchorings agree with the labels equally well.
    """
    if not labels:
        return {}
    hypotheses = []
    for anchor, view in ((i, v) for i in turns for v in VIEW_TURNS_DEG):
        zero = turns[anchor] - VIEW_TURNS_DEG[view]
        named = {}
        for i, turn in turns.items():
            best = min(VIEW_TURNS_DEG, key=lambda v: _turn_distance(turn - zero, VIEW_TURNS_DEG[v]))
            error = _turn_distance(turn - zero, VIEW_TURNS_DEG[best])
            if error <= MAX_TURN_ERROR_DEG:
                named[i] = (best, error)
        agreement = sum(named.get(i, ("",))[0] == v for i, v in labels.items())
        hypotheses.append((agreement, -sum(e for _, e in named.values()), named))
    hypotheses.sort(key=lambda h: h[:2], reverse=True)
    best = hypotheses[0]
    rivals = [h for h in hypotheses if h[0] == best[0]
              and any(i in best[2] and best[2][i][0] != view for i, (view, _) in h[2].items())]
    return {} if best[0] == 0 or rivals else best[2]
