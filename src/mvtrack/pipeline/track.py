"""Track the two MV points through one cine with the two-stage networks (paper Fig. 2).

Every pass is kept: ``passes[0]`` is stage 1, ``passes[1]`` stage 1+2, ``passes[2]`` 1+2+2, so the
dual-stage ablation can be evaluated from one run. After the last pass the tracks are refined over
time (periodic smoothing spline per coordinate, the same weight the velocity spline would use); the
raw tracks stay in the result. The curves and metrics of refined tracks then interpolate instead of
smoothing again: smoothing twice cost 0.5 cm/s of e' on the synthetic test set (bias -1.06 against
-0.48 cm/s measured once-smoothed; 82bc1bb, 2026-11-27).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mvtrack.geometry import Stage1Map, Standardisation, standardisation_from_points
from mvtrack.geometry.affine import spline_coefficients, translation
from mvtrack.geometry.image_order import IMAGE_ORDER_VIEWS, first_point_index
from mvtrack.geometry.standardise import points_to_mm
from mvtrack.io import VIEWS, Cine
from mvtrack.metrics.curves import smoothed_curve
from mvtrack.pipeline.qc import is_settled

#: Stage-2 passes after stage 1. The paper runs 2 (1+2+2); a third pass measured better on the
#: synthetic test set (82bc1bb, 2026-11-27, 40 subjects: MAPSE ICC 0.94 -> 0.97, e' ICC 0.91 -> 0.94, point
#: errors unchanged) and lets QC see whether the passes have converged.
DEFAULT_STAGE2_PASSES = 3

#: Test-time shifts (standardised pixels) whose prediction spread gives the per-frame confidence.
TTA_SHIFTS_PX = ((0.0, 0.0), (3.0, -3.0), (-3.0, 3.0))


@dataclass
class Track:
    """Tracking result of one cine. Points (T, 2, 2) are (x, y) in stored-frame pixels."""

    passes: list[np.ndarray]  # stage 1, 1+2, 1+2+2 ... (raw, per frame)
    points_px: np.ndarray  # final: last pass refined over time
    spread_mm: np.ndarray  # (T, 2): SD of the last stage-2 pass under test-time shifts
    standardisations: list[Standardisation] = field(default_factory=list)
    naming: str = ""  # how the point names were decided
    naming_conflict: bool = False  # the scan geometry disagrees with the network's anatomical order
    #: Set when stage 2 did not settle from stage 1 and a start search ran: its offset and the scores
    #: (last-pass change + mean spread, mm) of the stage-1 start and of the searched one.
    start_search: dict | None = None

    def convergence_mm(self, pixel_spacing_mm: tuple[float, float]) -> float | None:
        """Mean distance (mm) the last stage-2 pass moved the points from the pass before it.

        Stage 2 is a fixed-point iteration: on a cine it understands, a further pass barely moves
        the points (real 2CH sample: 0.4 mm); where it does not, they keep wandering. None when
        fewer than two stage-2 passes ran.
        """
        if len(self.passes) < 3:
            return None
        return mean_distance_mm(self.passes[-1], self.passes[-2], pixel_spacing_mm)

    @property
    def raw_px(self) -> np.ndarray:
        return self.passes[-1]


def mean_distance_mm(points_px: np.ndarray, other_px: np.ndarray, pixel_spacing_mm: tuple[float, float]) -> float:
    """Mean distance (mm) between two (T, 2, 2) point tracks, over frames and points."""
    return float(np.linalg.norm(points_to_mm(points_px - other_px, pixel_spacing_mm), axis=-1).mean())


def stage1_points(cine: Cine, models) -> np.ndarray:
    stage1 = Stage1Map(cine.shape)
    predicted = models.network(cine.view, 1).predict(stage1.resize(cine.frames))
    return stage1.to_original(predicted)


def stage2_points(cine: Cine, network, std: Standardisation, shifts=((0.0, 0.0),),
                  coefficients: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2 on a standardised cine: (mean points (T, 2, 2) in stored pixels, spread SD in mm (T, 2)).

    ``network``: a stage-2 network of the cine's view (``predict(crops (N, 118, 162)) -> (N, 2, 2)``).

    Each shift moves the crop by a few standardised pixels; the predictions, mapped back to stored
    pixels, should agree when the network is sure of itself.
    """
    return stage2_points_batch(cine, network, [std], shifts, coefficients)[0]


def stage2_points_batch(cine: Cine, network, stds: list[Standardisation], shifts=((0.0, 0.0),),
                        coefficients: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`stage2_points` for several standardisations of one cine, in one network run (the start
    search's many starts cost a few large batches instead of many small ones)."""
    if not stds:
        return []
    out_shape = stds[0].out_shape
    crops = np.concatenate([shifted_crops(cine.frames, std, shifts, coefficients).reshape(-1, *out_shape) for std in stds])
    predicted = network.predict(crops).reshape(len(stds), len(shifts), cine.n_frames, 2, 2)
    mm = np.array([cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0]])
    results = []
    for std, per_shift in zip(stds, predicted):
        mapped = np.stack([Standardisation(translation(dx, dy) @ std.matrix, std.out_shape).to_original(p)
                           for (dx, dy), p in zip(shifts, per_shift)])  # (S, T, 2, 2)
        # Root-mean-square distance (mm) of the shifted predictions from their mean, per frame and point.
        deviation_mm = np.sqrt(((((mapped - mapped.mean(0)) * mm) ** 2).sum(-1)).mean(0))
        results.append((mapped.mean(0), deviation_mm if len(shifts) > 1 else np.zeros(mapped.shape[1:3])))
    return results


def shifted_crops(frames: np.ndarray, std: Standardisation, shifts, coefficients: np.ndarray | None = None) -> np.ndarray:
    """(S, T, 118, 162) standardised crops, each moved by a whole-pixel shift (dx, dy).

    The cine is resampled once onto a crop enlarged by the largest shift; every shifted crop is a
    slice of it (a crop moved by (dx, dy) shows at (x, y) what the plain crop shows at (x - dx, y - dy)).
    """
    shifts = np.asarray(shifts, dtype=float)
    if not np.allclose(shifts, np.round(shifts)):
        raise ValueError(f"test-time shifts must be whole pixels, got {shifts.tolist()}")
    margin = int(np.abs(shifts).max())
    rows, cols = std.out_shape
    enlarged = Standardisation(translation(margin, margin) @ std.matrix, (rows + 2 * margin, cols + 2 * margin))
    big = enlarged.warp(frames, coefficients)
    return np.stack([big[:, margin - int(dy):margin - int(dy) + rows, margin - int(dx):margin - int(dx) + cols]
                     for dx, dy in shifts])


def refine_over_time(points_px: np.ndarray, times_s: np.ndarray, rr_s: float) -> np.ndarray:
    """Periodic smoothing of each coordinate track (same spline weight as the velocity curve)."""
    refined = np.empty_like(points_px)
    relative = times_s - times_s[0]
    for k in range(2):
        for axis in range(2):
            refined[:, k, axis] = smoothed_curve(relative, points_px[:, k, axis], rr_s)(relative)
    return refined


def stage2_passes_from(cine: Cine, models, start_px: np.ndarray, n_passes: int, confidence: bool = True,
                       coefficients: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray, list[Standardisation]]:
    """``n_passes`` stage-2 passes from ``start_px`` (T, 2, 2): (points of each pass, spread (T, 2) mm of
    the last pass with test-time shifts when ``confidence``, else zeros, the standardisations).
    Raises ValueError when a pass's points cannot be standardised (their MV line collapsed)."""
    (result,) = stage2_passes_batch(cine, models, [start_px], n_passes, confidence, coefficients)
    if result is None:
        raise ValueError("the MV points collapsed onto one another: the cine cannot be standardised")
    return result


def stage2_passes_batch(cine: Cine, models, starts_px: list[np.ndarray], n_passes: int, confidence: bool = True,
                        coefficients: np.ndarray | None = None) -> list[tuple | None]:
    """:func:`stage2_passes_from` from several starts, each pass run for all of them at once; None for
    a start that cannot be standardised at some pass."""
    network = models.network(cine.view, 2)
    histories: list[tuple | None] = [([], np.zeros((cine.n_frames, 2)), []) for _ in starts_px]
    points = list(starts_px)
    for index in range(n_passes):
        shifts = TTA_SHIFTS_PX if (index == n_passes - 1 and confidence) else ((0.0, 0.0),)
        live, stds = [], []
        for k, history in enumerate(histories):
            if history is None:
                continue
            try:
                stds.append(standardisation_from_points(points[k], cine.pixel_spacing_mm))
                live.append(k)
            except ValueError:
                histories[k] = None
        for k, std, (moved, spread) in zip(live, stds, stage2_points_batch(cine, network, stds, shifts, coefficients)):
            passes, _, used = histories[k]
            histories[k] = ([*passes, moved], spread, [*used, std])
            points[k] = moved
    return histories


def critic_disagreement_mm(cine: Cine, critic, track: Track) -> np.ndarray | None:
    """(T,) mean distance (mm) over the two points, per frame, between a track's last stage-2 pass and a
    second stage-2 network (``critic``, an OnnxNetwork) run exactly as that pass was: on the same
    standardised crops, with the same test-time shifts. Order-free per frame (the track's points may
    have been put in anatomical order since). None when the track has no stage-2 pass."""
    if not track.standardisations:
        return None
    points, _ = stage2_points(cine, critic, track.standardisations[-1], TTA_SHIFTS_PX)
    return _order_free_distance_mm(points, track.passes[-1], cine.pixel_spacing_mm)


def members_disagreement_mm(cine: Cine, ensemble, track: Track) -> np.ndarray | None:
    """(T,) for an ensemble stage 2 (``EnsembleNetwork``): the mean distance (mm) over the two points, per
    frame, between its members' points, each run as the track's last pass ran (same crops, same
    test-time shifts); with more than two members, the mean over pairs. None without a stage-2 pass."""
    if not track.standardisations:
        return None
    points = [stage2_points(cine, ensemble.member(k), track.standardisations[-1], TTA_SHIFTS_PX)[0]
              for k in range(len(ensemble.members))]
    pairs = [_order_free_distance_mm(a, b, cine.pixel_spacing_mm)
             for i, a in enumerate(points) for b in points[i + 1:]]
    return np.mean(pairs, axis=0)


def view_disagreement_mm(cine: Cine, models, track: Track) -> np.ndarray | None:
    """(T,) the second opinion on a view's track (QC: ``qc.critic_flag``): the model's critic for the
    view against the track (:func:`critic_disagreement_mm`), else, where stage 2 is an ensemble, its
    members against each other (:func:`members_disagreement_mm`); None when the model has neither."""
    critic = models.critic(cine.view) if hasattr(models, "critic") else None
    if critic is not None:
        return critic_disagreement_mm(cine, critic, track)
    network = models.network(cine.view, 2)
    if len(getattr(network, "members", ())) > 1:
        return members_disagreement_mm(cine, network, track)
    return None


def _order_free_distance_mm(points_px: np.ndarray, other_px: np.ndarray, pixel_spacing_mm) -> np.ndarray:
    """(T,) per frame, the mean distance (mm) of two (T, 2, 2) point sets over their two points, in
    whichever pairing of the points is closer."""
    distances = [np.linalg.norm(points_to_mm(points_px - order, pixel_spacing_mm), axis=-1).mean(axis=1)
                 for order in (other_px, other_px[:, ::-1])]
    return np.minimum(*distances)


def track_cine(cine: Cine, models, stage2_passes: int = DEFAULT_STAGE2_PASSES, confidence: bool = True,
               smooth: bool = True, search: bool = True, first_guess_px: np.ndarray | None = None,
               axis_line_px: tuple[np.ndarray, np.ndarray] | None = None) -> Track:
    """Run stage 1, then ``stage2_passes`` stage-2 passes, on a cine whose view is 2CH, 4CH or 3CH.

    With ``search`` (and at least two passes with confidence), a cine on which stage 2 does not settle
    from stage 1 (QC's convergence or confidence limit) is tracked again from the start search
    (:mod:`mvtrack.pipeline.start_search`), and
    the better-settled of the two runs is kept; ``passes[0]`` stays the stage-1 output either way.
    ``first_guess_px`` (T, 2, 2) replaces stage 1 (for example points a reader clicked on one frame,
    repeated over the frames); it is then what ``passes[0]`` holds. ``axis_line_px`` (a point and a
    direction, stored pixels): the LV long axis from another view's plane; the search then also tries
    starts along it (``start_search.axis_line_starts``).
    """
    if cine.view not in VIEWS:
        raise ValueError(f"cine view must be one of {VIEWS}, got {cine.view!r}")
    first_guess = stage1_points(cine, models) if first_guess_px is None else np.asarray(first_guess_px, dtype=float)
    coefficients = spline_coefficients(cine.frames) if stage2_passes else None
    passes, spread, standardisations = stage2_passes_from(cine, models, first_guess, stage2_passes, confidence, coefficients)
    track = Track([first_guess, *passes], first_guess, spread, standardisations)
    change = track.convergence_mm(cine.pixel_spacing_mm)
    if search and confidence and change is not None and not is_settled(spread, change):
        from mvtrack.pipeline.start_search import retrack_from_search  # it builds on this module's passes
        track = retrack_from_search(cine, models, track, stage2_passes, confidence, coefficients, axis_line_px)
    track.points_px = refine_over_time(track.raw_px, cine.times_s, cine.rr_s) if smooth else track.raw_px.copy()
    return name_points(track, cine)


def name_points(track: Track, cine: Cine) -> Track:
    """Put the points in anatomical order (anterior/lateral first); see mvtrack.geometry.image_order."""
    index = first_point_index(track.points_px, cine.orientation, cine.view)
    if cine.view in IMAGE_ORDER_VIEWS:
        if index is None:
            track.naming = "image order: no usable DICOM orientation, first point assumed on the left with the apex down"
            return track
        track.naming = "from the DICOM orientation (anterior = further anterior-superior in the patient)"
        if index == 1:
            track.passes = [p[:, ::-1].copy() for p in track.passes]
            track.points_px = track.points_px[:, ::-1].copy()
            track.spread_mm = track.spread_mm[:, ::-1].copy()
        return track
    track.naming = "anatomical (network)"
    track.naming_conflict = index == 1
    return track
