"""The start search: where stage 2 does not settle from stage 1, find a better start and track again.

Stage 1 sees the whole frame and is the part that carries over worst from synthetic to real scans
(real 4CH sample: 20-50 mm off), while stage 2 pulls a start within 10-14 mm onto the annulus. So
stage 2 runs from MV-centre offsets on a grid around the stage-1 estimate (:func:`grid_starts`) and,
when another long-axis view gives the LV long axis in this cine, from starts along it
(:func:`axis_line_starts`); the start whose passes settle best wins (:func:`search_start`), and the
cine is tracked again from it (:func:`retrack_from_search`). ``benchmarks/start_search.py`` measures it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mvtrack.geometry.affine import spline_coefficients
from mvtrack.io import Cine
from mvtrack.pipeline.qc import is_settled
from mvtrack.pipeline.track import (
    DEFAULT_STAGE2_PASSES,
    Track,
    mean_distance_mm,
    stage2_passes_batch,
    stage2_passes_from,
)

#: Start search (see :func:`search_start`): MV-centre offsets (mm) from the stage-1 estimate on a grid
#: of this step within this radius, each tried on this many frames spread over the cycle. Stage 2
#: pulls a start within about 10-14 mm onto the annulus (real 4CH sample), so a 15 mm step leaves no gap.
SEARCH_RADIUS_MM = 30.0
SEARCH_STEP_MM = 15.0
SEARCH_FRAMES = 4
SEARCH_SAME_MM = 3.0  # starts whose first pass ends this close (mean over points and frames) are one
#: Candidates that get the last, 3x dearer pass with test-time shifts: those whose previous pass moved
#: least (None: all). Stage 2 that is still moving after two passes is not about to settle best.
SEARCH_FINALISTS: int | None = 16


def settling_score_mm(previous_px: np.ndarray, last_px: np.ndarray, spread_mm: np.ndarray,
                      pixel_spacing_mm: tuple[float, float]) -> float:
    """How far stage 2 is from a confident fixed point (mm): the mean distance its last pass moved the
    points plus their mean test-time spread. About 1-2 mm on the annulus, several mm elsewhere."""
    return float(mean_distance_mm(last_px, previous_px, pixel_spacing_mm) + spread_mm.mean())


def grid_starts(first_guess_px: np.ndarray, pixel_spacing_mm: tuple[float, float]) -> list[tuple[dict, np.ndarray]]:
    """Starts around the first guess: its MV centre moved on a grid (SEARCH_STEP_MM within
    SEARCH_RADIUS_MM). Each is ({"offset_mm": [dx, dy]}, points (T, 2, 2))."""
    px_per_mm = 1.0 / np.array([pixel_spacing_mm[1], pixel_spacing_mm[0]])
    steps = np.arange(-SEARCH_RADIUS_MM, SEARCH_RADIUS_MM + 1e-6, SEARCH_STEP_MM)
    return [({"offset_mm": [float(dx), float(dy)]}, first_guess_px + np.array([dx, dy]) * px_per_mm)
            for dx in steps for dy in steps if np.hypot(dx, dy) <= SEARCH_RADIUS_MM + 1e-6]


#: Axis-line starts (see :func:`axis_line_starts`): MV centres every AXIS_STEP_MM along the line
#: within AXIS_REACH_MM of the first guess's projection on it, an MV line AXIS_HALF_WIDTH_MM either
#: side, moving AXIS_EXCURSION_MM toward the apex over the cycle (so the crop knows which way is down).
AXIS_STEP_MM = 6.0
AXIS_REACH_MM = 48.0
AXIS_HALF_WIDTH_MM = 12.0
AXIS_EXCURSION_MM = 8.0


def axis_line_starts(first_guess_px: np.ndarray, pixel_spacing_mm: tuple[float, float], line_point_px: np.ndarray,
                     line_direction_px: np.ndarray, image_shape: tuple[int, int]) -> list[tuple[dict, np.ndarray]]:
    """Starts on the LV long axis seen in this cine: the line where another long-axis view's plane
    cuts this one (mvtrack.geometry.patient.plane_intersection). The MV centre lies close to it
    (within 3-11 mm on the real exams) whatever the image looks like, so this bounds the search
    where stage 1 (the whole frame's look) fails. Both ends of the axis are tried as the apex.
    Each start is ({"along_axis_mm": s, "apex_sign": +-1}, points (T, 2, 2)).
    """
    mm = np.array([pixel_spacing_mm[1], pixel_spacing_mm[0]])
    point_mm = np.asarray(line_point_px, dtype=float) * mm
    direction = np.asarray(line_direction_px, dtype=float) * mm
    direction /= np.linalg.norm(direction)
    normal = np.array([-direction[1], direction[0]])
    guess_mm = first_guess_px.mean(axis=1).mean(axis=0) * mm
    centre_s = float((guess_mm - point_mm) @ direction)
    n_frames = len(first_guess_px)
    profile = np.sin(np.pi * np.arange(n_frames) / n_frames) ** 2  # toward the apex and back over the cycle
    height, width = image_shape
    starts = []
    for offset in np.arange(-AXIS_REACH_MM, AXIS_REACH_MM + 1e-6, AXIS_STEP_MM):
        centre = point_mm + (centre_s + offset) * direction
        x, y = centre / mm
        if not (0 <= x < width and 0 <= y < height):
            continue
        for sign in (1.0, -1.0):
            line = np.stack([centre - AXIS_HALF_WIDTH_MM * normal, centre + AXIS_HALF_WIDTH_MM * normal])
            moving = line[None] + (sign * AXIS_EXCURSION_MM * profile)[:, None, None] * direction
            starts.append(({"along_axis_mm": round(float(offset), 1), "apex_sign": int(sign)}, moving / mm))
    return starts


def distinct_landings(landed: list[tuple[dict, np.ndarray]], pixel_spacing_mm) -> list[tuple[dict, np.ndarray]]:
    """Keep the first of every group of (label, points (T, 2, 2)) that lie within SEARCH_SAME_MM (mean
    over points and frames) of one kept before: starts that landed together are one candidate."""
    kept: list[tuple[dict, np.ndarray]] = []
    for label, points in landed:
        if all(mean_distance_mm(points, other, pixel_spacing_mm) > SEARCH_SAME_MM for _, other in kept):
            kept.append((label, points))
    return kept


def finalists(cine: Cine, models, candidates: list[tuple[dict, np.ndarray]], n_passes: int,
              coefficients: np.ndarray | None = None) -> list[tuple[dict, np.ndarray]]:
    """``n_passes`` plain stage-2 passes from every candidate (label, points (T, 2, 2)); returns the
    SEARCH_FINALISTS distinct landing places whose last pass moved least, most settled first."""
    moved_mm = []
    for (label, start), result in zip(candidates, stage2_passes_batch(cine, models, [p for _, p in candidates],
                                                                      n_passes, False, coefficients)):
        if result is None:
            continue
        passes = [start, *result[0]]
        moved_mm.append((mean_distance_mm(passes[-1], passes[-2], cine.pixel_spacing_mm), label, passes[-1]))
    moved_mm.sort(key=lambda item: item[0])
    return distinct_landings([(label, points) for _, label, points in moved_mm], cine.pixel_spacing_mm)[:SEARCH_FINALISTS]


def search_start(cine: Cine, models, starts: list[tuple[dict, np.ndarray]],
                 n_passes: int = DEFAULT_STAGE2_PASSES) -> tuple[np.ndarray, dict]:
    """A stage-2 start for a cine on which stage 2 does not settle from the stage-1 points.

    Stage 1 sees the whole frame and is the part that carries over worst from synthetic to real
    scans (real 4CH sample: 20-50 mm off), while stage 2 pulls a start within 10-14 mm onto the
    annulus. So stage 2 runs once from every candidate start (:func:`grid_starts` around stage 1,
    :func:`axis_line_starts` along the LV long axis) on SEARCH_FRAMES frames spread over the cycle;
    each distinct landing place gets the remaining ``n_passes - 1`` passes (at least one; the last with
    test-time shifts, for the SEARCH_FINALISTS that moved least before it: :func:`finalists`), and the
    one whose passes settle best (:func:`settling_score_mm`) wins.

    Returns the start (T, 2, 2): the winner's settled points, interpolated in time to every frame,
    and the winner's label (e.g. {"offset_mm": [dx, dy]}) with "score_mm" added.
    """
    n_passes = max(n_passes, 2)
    frames = np.unique(np.linspace(0, cine.n_frames - 1, SEARCH_FRAMES).round().astype(int))
    subset = replace(cine, frames=cine.frames[frames], times_s=cine.times_s[frames])
    coefficients = spline_coefficients(subset.frames)
    # One pass from every start; starts that land together (within SEARCH_SAME_MM) are one candidate.
    first = stage2_passes_batch(subset, models, [start[frames] for _, start in starts], 1, False, coefficients)
    # (a start whose line collapsed cannot be standardised: None)
    candidates = distinct_landings([(label, result[0][0]) for (label, _), result in zip(starts, first)
                                    if result is not None], cine.pixel_spacing_mm)
    remaining = n_passes - 1
    if remaining > 1 and SEARCH_FINALISTS is not None:
        candidates = finalists(subset, models, candidates, remaining - 1, coefficients)
        remaining = 1
    best = None
    settled = stage2_passes_batch(subset, models, [moved for _, moved in candidates], remaining, True, coefficients)
    for (label, moved), result in zip(candidates, settled):
        if result is None:
            continue
        passes, spread, _ = result
        previous = passes[-2] if len(passes) > 1 else moved
        score = settling_score_mm(previous, passes[-1], spread, cine.pixel_spacing_mm)
        if best is None or score < best[0]:
            best = (score, label, passes[-1])
    score, label, settled_px = best
    # Every frame starts from the winner's points, interpolated in time between the searched frames
    # (periodic: the cycle wraps from the last frame to the first).
    index = np.arange(cine.n_frames)
    start = np.empty((cine.n_frames, 2, 2))
    for k in range(2):
        for axis in range(2):
            start[:, k, axis] = np.interp(index, frames, settled_px[:, k, axis], period=cine.n_frames)
    return start, {**label, "score_mm": round(score, 3)}


def retrack_from_search(cine: Cine, models, track: Track, stage2_passes: int, confidence: bool,
                        coefficients: np.ndarray | None,
                        axis_line_px: tuple[np.ndarray, np.ndarray] | None = None) -> Track:
    """``track`` (stage 2 did not settle from stage 1: QC's convergence or confidence limit) tracked again
    from :func:`search_start` over :func:`grid_starts` and, with ``axis_line_px``, :func:`axis_line_starts`.
    Returns the search's track when it is better settled and settled by QC's limits, else ``track``;
    either way with ``start_search`` saying what the search found. ``passes[0]`` stays the first guess.
    """
    spread = track.spread_mm
    starts = grid_starts(track.passes[0], cine.pixel_spacing_mm)
    if axis_line_px is not None:
        starts += axis_line_starts(track.passes[0], cine.pixel_spacing_mm, *axis_line_px, cine.shape)
    start, found = search_start(cine, models, starts)
    retry_passes, retry_spread, retry_stds = stage2_passes_from(cine, models, start, stage2_passes, confidence, coefficients)
    retry = Track([track.passes[0], *retry_passes], track.passes[0], retry_spread, retry_stds)
    retry_change = retry.convergence_mm(cine.pixel_spacing_mm)
    found["stage1_score_mm"] = round(settling_score_mm(*track.passes[-2:], spread, cine.pixel_spacing_mm), 3)
    found["searched_score_mm"] = round(settling_score_mm(*retry.passes[-2:], retry_spread, cine.pixel_spacing_mm), 3)
    # Kept only when it is better *and* settled by QC's own limits: a search that ends unsettled
    # too has found nothing more trustworthy than stage 1 did.
    found["kept"] = bool(is_settled(retry_spread, retry_change) and found["searched_score_mm"] < found["stage1_score_mm"])
    if found["kept"]:
        track = retry
    track.start_search = found
    return track
