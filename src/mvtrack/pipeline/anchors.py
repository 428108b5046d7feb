"""Reader anchors: points a reader placed (or corrected) on some frames, and the track they imply.

A reader corrects the automatic points on a few frames (end-diastole and end-systole are enough);
every other frame keeps the tracker's *motion* and takes the reader's *position*: the correction
(reader minus automatic, per point) is interpolated linearly in time between the anchored frames,
around the cycle (the cine covers one heartbeat, so the frame after the last anchor is interpolated
toward the first anchor one RR later). One anchor shifts the whole cycle; ED + ES fix the excursion.
Anchored frames keep the reader's points exactly.

:func:`review_result` applies anchors to a results.json dictionary alone (no images, no network),
so the review app re-tracks a view on every drag in milliseconds, and ``analyze --anchors`` gives
the same result as a review saved with the same anchors.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.io.cine import VIEWS
from mvtrack.results import anchors_from_result  # noqa: F401 - part of this module's interface

#: An anchored frame within this fraction of the RR interval of end-diastole (t = 0, around the
#: cycle) or of end-systole (the reviewed track's largest displacement) counts as that phase's anchor.
PHASE_TOLERANCE_RR = 0.1

#: What the QC text says when a view's numbers rest on the reader's anchors.
READER_CONFIRMED_NOTE = "reader-confirmed (anchored at end-diastole and end-systole)"

Anchors = dict[int, np.ndarray]  # frame index -> (2, 2) points, (x, y) stored-frame pixels, results.json order


class AnchorError(MvtrackError):
    """Anchors that cannot be applied; the message names the file (or view) and the problem."""


# --------------------------------------------------------------------------------------------------
# The track from anchors (pure)


def anchored_points(auto_px: np.ndarray, anchors: Anchors, times_s: np.ndarray, rr_s: float) -> np.ndarray:
    """(T, 2, 2) points: ``auto_px`` shifted by the anchors' corrections interpolated in time.

    Args:
        auto_px: (T, 2, 2) automatic points, (x, y) pixels.
        anchors: frame index -> (2, 2) reader points (same order as ``auto_px``).
        times_s: (T,) frame times (s); the cine covers one cycle of ``rr_s`` seconds.
        rr_s: RR interval (s): the period of the interpolation.
    """
    auto_px = np.asarray(auto_px, dtype=float)
    if not anchors:
        return auto_px.copy()
    frames = sorted(anchors)
    offsets = np.stack([np.asarray(anchors[f], dtype=float) - auto_px[f] for f in frames])  # (K, 2, 2)
    anchor_times = np.asarray(times_s, dtype=float)[frames]
    flat = offsets.reshape(len(frames), 4)
    period = float(rr_s) if rr_s and rr_s > 0 else None
    if period is not None and np.ptp(times_s) >= period:  # times beyond one cycle: no wrap
        period = None
    shift = np.stack([np.interp(times_s, anchor_times, flat[:, k], period=period) for k in range(4)], axis=1)
    points = auto_px + shift.reshape(-1, 2, 2)
    for f in frames:
        points[f] = np.asarray(anchors[f], dtype=float)
    return points


def end_systolic_frame(points_px: np.ndarray, pixel_spacing_mm: tuple[float, float]) -> int:
    """Frame of the largest MV displacement from frame 0 (see :func:`mvtrack.metrics.displacement_mm`)."""
    from mvtrack.metrics import displacement_mm

    return int(np.argmax(displacement_mm(np.asarray(points_px, dtype=float), pixel_spacing_mm)))


def anchored_phases(anchor_frames, points_px: np.ndarray, times_s: np.ndarray, rr_s: float,
                    pixel_spacing_mm: tuple[float, float]) -> dict[str, bool]:
    """Which of end-diastole ("ed") and end-systole ("es") have an anchor within
    :data:`PHASE_TOLERANCE_RR` of the cycle; ES is taken on the reviewed track ``points_px``."""
    times_s = np.asarray(times_s, dtype=float)
    tolerance_s = PHASE_TOLERANCE_RR * rr_s
    es_time = times_s[end_systolic_frame(points_px, pixel_spacing_mm)]

    def near(time_s: float) -> bool:
        for frame in anchor_frames:
            gap = abs(times_s[frame] - time_s) % rr_s
            if min(gap, rr_s - gap) <= tolerance_s + 1e-9:
                return True
        return False

    return {"ed": near(times_s[0]), "es": near(es_time)}


# --------------------------------------------------------------------------------------------------
# Reading anchors (JSON file or the review app's request)


def parse_view_anchors(entry: object, n_frames: int, frame_shape_hw: tuple[int, int] | None, where: str) -> Anchors:
    """``{frame_index: [[x, y], [x, y]]}`` (keys may be strings) checked against the cine's size."""
    if not isinstance(entry, dict):
        raise AnchorError(f"{where}: expected {{frame_index: [[x, y], [x, y]]}}, got {type(entry).__name__}")
    anchors: Anchors = {}
    for key, value in entry.items():
        try:
            frame = int(key)
        except (TypeError, ValueError):
            raise AnchorError(f"{where}: frame index {key!r} is not a whole number") from None
        if not 0 <= frame < n_frames:
            raise AnchorError(f"{where}: frame {frame} is outside the cine's frames 0-{n_frames - 1}")
        try:
            points = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise AnchorError(f"{where}: frame {frame}: points must be [[x, y], [x, y]] numbers") from None
        if points.shape != (2, 2) or not np.isfinite(points).all():
            raise AnchorError(f"{where}: frame {frame}: points must be [[x, y], [x, y]] finite numbers")
        if frame_shape_hw is not None:
            height, width = frame_shape_hw
            if (points[:, 0] < -0.5).any() or (points[:, 0] > width - 0.5).any() or (points[:, 1] < -0.5).any() \
                    or (points[:, 1] > height - 0.5).any():
                raise AnchorError(f"{where}: frame {frame}: a point lies outside the {width} x {height} frame")
        anchors[frame] = points
    return anchors


def _is_view_key(key: str) -> bool:
    return key.upper() in VIEWS or all(part.isdigit() for part in key.split("."))


def read_anchors_file(path: Path | str) -> dict[str, dict]:
    """The anchors JSON: ``{view or SeriesInstanceUID: {frame: [[x, y], [x, y]]}}`` for one study, or
    ``{study_id: {...}}`` for several. Returns ``{study_id or "": {view key: raw entry}}``; the
    entries are checked against each study's cines by :func:`anchors_for_views`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnchorError(f"{path}: no such anchors file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnchorError(f"{path}: unreadable anchors file ({error.__class__.__name__}: {error})") from None
    if not isinstance(data, dict) or not data:
        raise AnchorError(f"{path}: expected a JSON object {{view: {{frame_index: [[x, y], [x, y]]}}}}")
    if all(_is_view_key(str(k)) for k in data):
        return {"": data}
    if any(not isinstance(v, dict) or not all(_is_view_key(str(k)) for k in v) for v in data.values()):
        raise AnchorError(f"{path}: keys must be views (2CH, 3CH, 4CH) or SeriesInstanceUIDs, or study ids holding those")
    return data


def anchors_for_views(entries: dict, views: dict[str, dict], where: str) -> dict[str, Anchors]:
    """Match raw anchor entries (keyed by view or SeriesInstanceUID) to a result's views (results.json
    ``views``) and check them against each view's frame count and size."""
    by_uid = {v.get("series_uid"): name for name, v in views.items() if v.get("series_uid")}
    matched: dict[str, Anchors] = {}
    for key, entry in entries.items():
        name = str(key).upper() if str(key).upper() in VIEWS else by_uid.get(str(key))
        if name not in views:
            raise AnchorError(f"{where}: anchors for {key}, but the study's tracked views are {', '.join(views)}")
        view = views[name]
        shape = view.get("frame_shape_hw")
        matched[name] = parse_view_anchors(entry, len(view["points_px"]), tuple(shape) if shape else None,
                                           f"{where}: {name}")
    return matched


# --------------------------------------------------------------------------------------------------
# A reviewed result


def automatic_points(view_entry: dict) -> np.ndarray:
    """(T, 2, 2) the tracker's own points of a results.json view, reviewed or not."""
    review = view_entry.get("review") or {}
    return np.asarray(review.get("points_px_auto", view_entry["points_px"]), dtype=float)


@dataclass
class _Geometry:
    """The header geometry of a view that the MV plane needs (duck-types :class:`mvtrack.io.Cine`)."""

    orientation: np.ndarray | None
    position_mm: np.ndarray | None
    pixel_spacing_mm: tuple[float, float]
    times_s: np.ndarray
    rr_s: float


def _geometry(view: dict) -> _Geometry:
    geometry = view.get("geometry") or {}
    orientation, position = geometry.get("orientation"), geometry.get("position_mm")
    return _Geometry(None if orientation is None else np.asarray(orientation, dtype=float),
                     None if position is None else np.asarray(position, dtype=float),
                     tuple(view["pixel_spacing_mm"]), np.asarray(view["times_s"], dtype=float), float(view["rr_s"]))


def _belongs_to(reason: str, view: str) -> bool:
    return reason.startswith((f"{view}:", f"{view} "))


def review_result(result: dict, anchors_by_view: dict[str, Anchors], when: str | None = None,
                  source: str = "reader") -> dict:
    """The results.json dictionary re-tracked from the reader's anchors (pure; no file, no network).

    Every view starts from its automatic points (``review.points_px_auto`` of a reviewed result, else
    ``points_px``); an anchored view takes :func:`anchored_points`. A view anchored at ED and ES is
    reader-confirmed: the automatic QC's doubts about it become notes (``qc.notes``) and its numbers
    enter the study metrics. Study curves, metrics, MV plane and rest periods are recomputed.
    ``anchors_by_view`` empty: the automatic result again (a reset), without ``review``.
    """
    from mvtrack.pipeline.plane import patient_points, study_plane, study_rest_periods
    from mvtrack.pipeline.qc import study_flags
    from mvtrack.pipeline.study import withheld_metrics
    from mvtrack.results import ViewTrack, build_result

    original = copy.deepcopy(result)
    auto_qc = (original.get("review") or {}).get("automatic_qc") or original.get("qc") or {}
    withheld_auto = dict(original.get("withheld_views") or _withheld_from_metrics(original))
    unknown = set(anchors_by_view) - set(original["views"])
    if unknown:
        raise AnchorError(f"{original['study']}: anchors for {', '.join(sorted(unknown))}, but the study's tracked "
                          f"views are {', '.join(original['views'])}")
    tracks, confirmed, view_reviews = {}, [], {}
    for name, view in original["views"].items():
        auto = automatic_points(view)
        anchors = anchors_by_view.get(name) or {}
        times_s, rr_s = np.asarray(view["times_s"], dtype=float), float(view["rr_s"])
        spacing = tuple(view["pixel_spacing_mm"])
        points = anchored_points(auto, anchors, times_s, rr_s)
        if anchors:
            phases = anchored_phases(anchors, points, times_s, rr_s, spacing)
            if phases["ed"] and phases["es"]:
                confirmed.append(name)
            view_reviews[name] = {"anchored_frames": sorted(anchors), "points_px_auto": np.round(auto, 4).tolist(),
                                  "anchored_phases": phases, "reader_confirmed": name in confirmed}
        extra = {k: v for k, v in view.items() if k not in _RECOMPUTED_VIEW_KEYS}
        extra.pop("review", None)
        tracks[name] = ViewTrack(points, tuple(view["point_names"]), times_s, spacing, rr_s,
                                 view.get("series_uid", ""), extra=extra)
    withheld = {v: why for v, why in withheld_auto.items() if v not in confirmed}
    measured = [v for v in tracks if v not in withheld] or list(tracks)
    kept = {k: v for k, v in original.items() if k not in _RECOMPUTED_STUDY_KEYS}
    new = build_result(original["study"], tracks, original.get("models", {}), original.get("tool_version", ""),
                       extra=kept, smooth_curves=bool(original.get("curves_smoothed", True)), study_views=measured)
    geometries = {v: _geometry(original["views"][v]) for v in tracks}
    for name, track in tracks.items():
        points_mm, no_patient_reason = patient_points(geometries[name], track.points_px)
        new["views"][name]["points_patient_mm"] = None if points_mm is None else np.round(points_mm, 3).tolist()
        new["views"][name]["points_patient_reason"] = no_patient_reason
        if name in view_reviews:
            new["views"][name]["review"] = view_reviews[name]
    # QC: the automatic reasons, those of reader-confirmed views as notes; study checks on the new numbers.
    reasons = [r for r in auto_qc.get("reasons", []) if not _is_study_check(r)]
    notes = [f"{r} (automatic track; {READER_CONFIRMED_NOTE})" for v in confirmed for r in reasons if _belongs_to(r, v)]
    reasons = [r for r in reasons if not any(_belongs_to(r, v) for v in confirmed)]
    reasons += [f"{v} left out of the study curve and metrics (its tracking did not pass QC)"
                for v in tracks if v not in measured]
    reasons += study_flags(new["metrics"], {v: new["views"][v]["metrics"] for v in new["views"]})
    for view, why in withheld.items():
        new["views"][view]["metrics"] = withheld_metrics(
            new["views"][view]["metrics"], f"this view's tracking did not pass QC ({why}): look at the overlay movie")
    if set(withheld) == set(tracks):
        reason = "no view's tracking passed QC: look at the overlay movies"
        new["metrics"] = withheld_metrics(new["metrics"], reason)
        if new.get("metrics_2ch_4ch") is not None:
            new["metrics_2ch_4ch"] = withheld_metrics(new["metrics_2ch_4ch"], reason)
    new["mv_plane"], plane_flags = study_plane(geometries, {v: t.points_px for v, t in tracks.items()}, measured)
    reasons += [r for r in plane_flags if r not in reasons]
    new["rest_periods"] = study_rest_periods(new)
    new["withheld_views"] = withheld
    new["qc"] = {"needs_review": bool(reasons), "reasons": reasons}
    if notes:
        new["qc"]["notes"] = notes
    if anchors_by_view and any(anchors_by_view.values()):
        new["review"] = {
            "anchors": {v: {str(f): np.round(np.asarray(p, dtype=float), 4).tolist() for f, p in sorted(a.items())}
                        for v, a in anchors_by_view.items() if a},
            "reader_confirmed": confirmed,
            "rule": "automatic points shifted by the anchors' corrections, interpolated linearly in time around the cycle",
            "numbers_rest_on_reader_anchors": bool(confirmed),
            "when": when or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": source,
            "tool_version": _tool_version(),
            "analysed_with": original.get("tool_version"),
            "models": original.get("models", {}),
            "automatic_qc": auto_qc,
        }
    return new


#: results.json keys of a view that :func:`review_result` recomputes from the points.
_RECOMPUTED_VIEW_KEYS = {"points_px", "point_names", "times_s", "pixel_spacing_mm", "rr_s", "displacement_mm",
                         "series_uid", "metrics", "points_patient_mm", "points_patient_reason"}
#: results.json study keys that :func:`review_result` recomputes.
_RECOMPUTED_STUDY_KEYS = {"schema_version", "study", "tool_version", "models", "rr_s", "times_s", "displacement_mm",
                          "velocity_cm_s", "curves_smoothed", "study_views", "metrics", "metrics_2ch_4ch", "views",
                          "mv_plane", "rest_periods", "qc", "review", "withheld_views"}


def _is_study_check(reason: str) -> bool:
    """QC reasons :func:`mvtrack.pipeline.qc.study_flags` and the plane fit make from the numbers
    (recomputed on review, so the automatic ones are dropped)."""
    return reason.startswith(("implausible MAPSE", "views disagree: MAPSE", "the views' MV points sit")) \
        or " left out of the study curve" in reason


def _withheld_from_metrics(result: dict) -> dict[str, str]:
    """{view: why} of views whose metrics QC withheld, read from a result written before
    ``withheld_views`` was recorded."""
    withheld = {}
    for name, view in result.get("views", {}).items():
        why = (view.get("metrics", {}).get("reasons") or {}).get("mapse_mm")
        if why and "did not pass QC" in why:
            withheld[name] = why
    return withheld


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mvtrack")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"
