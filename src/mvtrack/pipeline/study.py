"""Analyse one study: find its 2CH / 4CH series, track both, compute the metrics, check quality."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvtrack._version import __version__
from mvtrack.errors import AnalysisError
from mvtrack.io import POINT_NAMES, VIEWS, Cine, read_cines
from mvtrack.io.dicom import LEFT_OUT_SERIES
from mvtrack.pipeline.exam import select_series
from mvtrack.pipeline.plane import has_geometry, patient_points, study_plane, study_rest_periods
from mvtrack.pipeline.qc import critic_flag, is_unreliable, study_flags, view_flags
from mvtrack.pipeline.track import DEFAULT_STAGE2_PASSES, Track, track_cine, view_disagreement_mm
from mvtrack.results import ViewTrack, build_result


@dataclass
class StudyResult:
    """Everything the report needs: the result-contract dict, the cines and their tracks."""

    result: dict
    cines: dict[str, Cine]
    tracks: dict[str, Track]
    selection: list[str] = field(default_factory=list)
    #: view -> why QC does not stand behind its tracking (its metrics are withheld)
    unreliable: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict:
        return self.result["metrics"]


def analyze_cines(cines: list[Cine], study_id: str, models=None, stage2_passes: int = DEFAULT_STAGE2_PASSES, smooth: bool = True,
                  timings: dict | None = None, search: bool = True, adapt=None,
                  distrusted: dict[str, str] | None = None, anchors: dict | None = None) -> StudyResult:
    """Track and measure a study already read into cines (``search``: see :func:`track_cine`).

    ``distrusted``: views (view -> why) that an earlier analysis of the same study did not stand
    behind; their metrics stay withheld whatever this analysis's own QC says (``--adapt``: the adapted
    networks have no second opinion of their own).

    ``adapt`` (a :class:`mvtrack.pipeline.adapt.AdaptConfig`, needs PyTorch): analyse once, adapt each
    view's stage 2 to its cine around that track, and analyse again with the adapted networks (several
    tries, the best kept: :func:`mvtrack.pipeline.adapt.adapted_study`); what the adaptation did is in
    ``result["adaptation"]``.

    ``anchors``: reader points ``{view or SeriesInstanceUID: {frame_index: [[x, y], [x, y]]}}``; the
    tracked views are re-tracked from them (:func:`mvtrack.pipeline.anchors.review_result`)."""
    from mvtrack.models.store import ModelSet

    models = models or ModelSet()
    if adapt is not None:
        from mvtrack.pipeline.adapt import adapted_study

        adapted = adapted_study(lambda chosen_models, distrusted=None: analyze_cines(
            cines, study_id, chosen_models, stage2_passes, smooth, timings, search, distrusted=distrusted), models, adapt)
        return with_anchors(adapted, anchors) if anchors else adapted
    trackable = tuple(view for view in VIEWS if models.has(view, 1) and models.has(view, 2))
    chosen, selection, selection_flags = select_series(cines, trackable)
    left_out = list(dict.fromkeys(note for cine in cines for note in cine.notes if note.startswith(LEFT_OUT_SERIES)))
    selection += left_out
    if not chosen:
        found = ", ".join(sorted({c.view for c in cines})) or "none"
        raise AnalysisError(f"{study_id}: no {' or '.join(trackable)} cine found (views found: {found}); force one with --view")
    tracks, views = {}, {}
    unreliable = {view: why for view, why in (distrusted or {}).items() if view in chosen}  # {view: why withheld}
    flags = [note for note in left_out if any(f", {view})" in note for view in trackable if view not in chosen)]
    flags += selection_flags
    flags += [f"{view}: {why}" for view, why in unreliable.items()]
    axis_lines = long_axis_lines(chosen)
    for view, cine in chosen.items():
        start = time.perf_counter()
        track = track_cine(cine, models, stage2_passes=stage2_passes, smooth=smooth, search=search,
                           axis_line_px=axis_lines.get(view))
        if timings is not None:
            timings[f"track_{view}"] = time.perf_counter() - start
        tracks[view] = track
        change_mm = track.convergence_mm(cine.pixel_spacing_mm)
        flags += view_flags(track.points_px, track.passes[0], track.spread_mm, cine.pixel_spacing_mm, view, change_mm)
        if is_unreliable(track.spread_mm, change_mm):
            unreliable.setdefault(view, "stage 2 unsure and not converged")
        critic_mm = view_disagreement_mm(cine, models, track)
        critic_median_mm = None if critic_mm is None else float(np.median(critic_mm))
        if critic_median_mm is not None and (reason := critic_flag(critic_median_mm, view)):
            flags.append(reason)
            unreliable.setdefault(view, "stage 2 and a second network disagree")
        flags += [f"{view}: {note}" for note in cine.notes if "frames may be missing" in note]
        if track.naming_conflict:
            flags.append(f"{view}: the point names from the network disagree with the DICOM orientation")
        if track.start_search is not None:
            found = track.start_search
            flags.append(f"{view}: stage 2 did not settle from stage 1; " + (
                f"tracked again from a searched start ({_describe_start(found)})"
                if found["kept"] else "a search around it found no better start"))
        points_mm, no_patient_reason = patient_points(cine, track.points_px)
        views[view] = ViewTrack(
            track.points_px, POINT_NAMES[view], cine.times_s, cine.pixel_spacing_mm, cine.rr_s, cine.series_uid,
            extra={
                "points_patient_mm": None if points_mm is None else np.round(points_mm, 3).tolist(),
                "points_patient_reason": no_patient_reason,
                "points_px_raw": np.round(track.raw_px, 4).tolist(),
                "passes_px": {name: np.round(p, 4).tolist() for name, p in zip(_pass_names(len(track.passes)), track.passes)},
                "confidence_spread_mm": np.round(track.spread_mm, 3).tolist(),
                "series_description": cine.series_description,
                "manufacturer": cine.manufacturer,
                "view_source": cine.view_source,
                "rr_source": cine.rr_source,
                "point_naming": track.naming,
                "start_search": track.start_search,
                "critic_disagreement_mm": None if critic_median_mm is None else round(critic_median_mm, 3),
                "standardisation": track.standardisations[-1].to_dict() if track.standardisations else None,
                "frame_shape_hw": list(cine.shape),
                "geometry": None if not has_geometry(cine) else {
                    "orientation": [float(v) for v in cine.orientation],
                    "position_mm": [float(v) for v in cine.position_mm]},
            },
        )
    # A view whose tracking failed by its own QC would drag the study curve with it: when another view
    # is trustworthy, the study curves and metrics come from that one (the view's own entry stays).
    measured = [v for v in views if v not in unreliable] or list(views)
    for view in sorted(set(views) - set(measured)):
        flags.append(f"{view} left out of the study curve and metrics (its tracking did not pass QC)")
    result = build_result(study_id, views, models.ids(), __version__,
                          extra={"series_selection": selection, "stage2_passes": stage2_passes, "start_search_enabled": search},
                          smooth_curves=not smooth, study_views=measured)
    flags += study_flags(result["metrics"], {v: result["views"][v]["metrics"] for v in result["views"]})
    # Numbers QC does not stand behind are not shown: a wrong MAPSE in a cohort table is worse than none.
    for view, why in unreliable.items():
        result["views"][view]["metrics"] = withheld_metrics(
            result["views"][view]["metrics"], f"this view's tracking did not pass QC ({why}): look at the overlay movie")
    if set(unreliable) == set(views):
        reason = ("no view's tracking passed QC (" + "; ".join(f"{v}: {why}" for v, why in unreliable.items())
                  + "): look at the overlay movies")
        result["metrics"] = withheld_metrics(result["metrics"], reason)
        if result["metrics_2ch_4ch"] is not None:
            result["metrics_2ch_4ch"] = withheld_metrics(result["metrics_2ch_4ch"], reason)
    result["mv_plane"], plane_flags = study_plane(chosen, {v: t.points_px for v, t in tracks.items()}, measured)
    flags += plane_flags
    result["rest_periods"] = study_rest_periods(result)
    result["qc"] = {"needs_review": bool(flags), "reasons": flags}
    result["withheld_views"] = dict(unreliable)
    study = StudyResult(result, chosen, tracks, selection, unreliable)
    return with_anchors(study, anchors) if anchors else study


def with_anchors(study: StudyResult, anchors: dict) -> StudyResult:
    """The study re-tracked from reader anchors (raw JSON entries keyed by view or SeriesInstanceUID)."""
    from dataclasses import replace

    from mvtrack.pipeline.anchors import anchors_for_views, review_result

    parsed = anchors_for_views(anchors, study.result["views"], f"{study.result['study']}: anchors")
    result = review_result(study.result, parsed, source="analyze --anchors")
    tracks = {view: replace(track, points_px=np.asarray(result["views"][view]["points_px"], dtype=float))
              for view, track in study.tracks.items()}
    return StudyResult(result, study.cines, tracks, study.selection, dict(result["withheld_views"]))


def withheld_metrics(metrics: dict, reason: str) -> dict:
    """The metrics dict with MAPSE, s', e', a' set to null and ``reason`` recorded for each."""
    keys = ("mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s")
    return {**metrics, **dict.fromkeys(keys), "reasons": {**metrics.get("reasons", {}), **dict.fromkeys(keys, reason)}}


def long_axis_lines(cines: dict[str, Cine]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{view: (point, direction) in its stored pixels} of the line where another chosen view's image
    plane cuts this one: the LV long axis, since long-axis views are planned through it. Only for
    views with DICOM geometry and another long-axis view at least 20 degrees apart."""
    from mvtrack.geometry.patient import patient_mm_to_pixels, plane_intersection

    lines = {}
    for view, cine in cines.items():
        if not has_geometry(cine):
            continue
        for other_view, other in cines.items():
            if other_view == view or not has_geometry(other):
                continue
            found = plane_intersection(cine.orientation, cine.position_mm, other.orientation, other.position_mm)
            if found is None:
                continue
            point, direction = found
            ends = patient_mm_to_pixels(np.stack([point, point + 10.0 * direction]), cine.orientation,
                                        cine.position_mm, cine.pixel_spacing_mm)
            lines[view] = (ends[0], ends[1] - ends[0])
            break
    return lines


def _describe_start(found: dict) -> str:
    if "along_axis_mm" in found:
        return f"on the long axis from the other view's plane, {found['along_axis_mm']:+.0f} mm along it"
    return f"({found['offset_mm'][0]:+.0f}, {found['offset_mm'][1]:+.0f}) mm from stage 1"


def _pass_names(n: int) -> list[str]:
    return ["stage1"] + ["stage1" + "+2" * k for k in range(1, n)]


def analyze_study(path, view: str | None = None, model_dir=None, stage2_passes: int = DEFAULT_STAGE2_PASSES, smooth: bool = True,
                  study_id: str | None = None, models=None, timings: dict | None = None, search: bool = True,
                  skip_unreadable: bool = False, adapt=None, pixel_spacing_mm: float | None = None, anchors: dict | None = None) -> StudyResult:
    """Read a study (folder or files) and analyse it. ``view`` forces the view of every cine read;
    ``skip_unreadable``, ``pixel_spacing_mm``: see :func:`mvtrack.io.read_cines`; ``adapt``, ``anchors``: see
    :func:`analyze_cines`."""
    from mvtrack.models.store import ModelSet

    paths = path if isinstance(path, (list, tuple)) else [path]
    start = time.perf_counter()
    cines = read_cines(paths, view=view, skip_unreadable=skip_unreadable, pixel_spacing_mm=pixel_spacing_mm)
    if timings is not None:
        timings["read"] = time.perf_counter() - start
    study_id = study_id or Path(paths[0]).name.split(".")[0]
    models = models or ModelSet(model_dir)
    return analyze_cines(cines, study_id, models, stage2_passes, smooth, timings, search, adapt, anchors=anchors)
