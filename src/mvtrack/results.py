"""The result contract: ``OUT_DIR/<study>/results.json``, written atomically and validated.

Per view (``views.2CH`` / ``views.4CH`` / ``views.3CH``): ``points_px`` [T][2][2] (x then y, stored-frame pixels),
``point_names``, ``times_s``, ``pixel_spacing_mm`` (row, col), ``displacement_mm``, ``series_uid``.
Study level: ``metrics`` (``mapse_mm``, ``s_prime_cm_s``, ``e_prime_cm_s``, ``a_prime_cm_s``, with
``reasons`` for any null), ``displacement_mm``, ``velocity_cm_s``, ``times_s`` (the views averaged on a
common grid: the views of ``study_views``, those that passed QC), ``tool_version`` and ``models``;
``metrics_2ch_4ch``: the same from the 2CH and 4CH of ``study_views`` only, as in the paper (null when
neither passed QC). Extra keys are allowed; these are guaranteed.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.metrics import clinical_metrics, combine_views, displacement_mm, velocity_cm_s

SCHEMA_VERSION = "1.0"

_NUMBER_LIST = {"type": "array", "items": {"type": "number"}}
_NULLABLE_NUMBER = {"type": ["number", "null"]}

RESULT_SCHEMA = {
    "type": "object",
    "required": ["schema_version", "study", "tool_version", "models", "views", "metrics",
                 "displacement_mm", "velocity_cm_s", "times_s"],
    "properties": {
        "schema_version": {"type": "string"},
        "study": {"type": "string"},
        "tool_version": {"type": "string"},
        "models": {"type": "object"},
        "times_s": _NUMBER_LIST,
        "displacement_mm": _NUMBER_LIST,
        "velocity_cm_s": _NUMBER_LIST,
        "curves_smoothed": {"type": "boolean"},
        "study_views": {"type": "array", "items": {"type": "string"}},
        "metrics": {
            "type": "object",
            "required": ["mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s"],
            "properties": {k: _NULLABLE_NUMBER for k in ("mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s")},
        },
        "views": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"enum": ["2CH", "3CH", "4CH"]},
            "additionalProperties": {
                "type": "object",
                "required": ["points_px", "point_names", "times_s", "pixel_spacing_mm", "displacement_mm", "series_uid"],
                "properties": {
                    "points_px": {"type": "array", "items": {
                        "type": "array", "minItems": 2, "maxItems": 2,
                        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}}},
                    "point_names": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
                    "times_s": _NUMBER_LIST,
                    "pixel_spacing_mm": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
                    "displacement_mm": _NUMBER_LIST,
                    "series_uid": {"type": "string"},
                },
            },
        },
    },
}


class ResultError(MvtrackError):
    """A results.json does not follow the contract."""


@dataclass
class ViewTrack:
    """Tracked MV points of one view.

    Attributes:
        points_px: (T, 2, 2) (x, y) in stored-frame pixels; [:, 0] anterior/lateral, [:, 1] inferior/septal.
        point_names: names of the two points.
        times_s: (T,) frame times.
        pixel_spacing_mm: (row, col).
        rr_s: RR interval.
        series_uid: the series the points belong to.
        extra: more JSON-ready items kept in the view's entry (raw tracks, confidence, QC ...).
    """

    points_px: np.ndarray
    point_names: tuple[str, str]
    times_s: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    rr_s: float
    series_uid: str = ""
    extra: dict = field(default_factory=dict)

    def displacement_mm(self) -> np.ndarray:
        return displacement_mm(self.points_px, self.pixel_spacing_mm)


def build_result(study: str, views: dict[str, ViewTrack], models: dict, tool_version: str,
                 extra: dict | None = None, smooth_curves: bool = True, study_views: list[str] | None = None) -> dict:
    """Assemble the results.json dictionary: per-view tracks, combined curves, clinical metrics.

    ``smooth_curves`` False: the tracks were already smoothed over time, so the curve spline only
    interpolates them (smoothing twice would flatten e'); recorded as ``curves_smoothed``.
    ``study_views``: the views the study curves and metrics are made from (default all), recorded as
    ``study_views``; every view keeps its own curve and metrics.
    """
    if not views:
        raise ResultError(f"{study}: no view to report")
    study_views = list(views) if study_views is None else list(study_views)
    if not study_views or set(study_views) - set(views):
        raise ResultError(f"{study}: study views {study_views} must be among {list(views)}")
    times_s, displacement, rr_s = _study_curve(views, study_views)
    metrics = clinical_metrics(times_s, displacement, rr_s, smooth=smooth_curves)
    paper_views = [v for v in study_views if v in ("2CH", "4CH")]
    if paper_views == study_views:
        paper_metrics = metrics.to_dict()
    elif paper_views:
        paper_metrics = clinical_metrics(*_study_curve(views, paper_views), smooth=smooth_curves).to_dict()
    else:
        paper_metrics = None
    result = {
        "schema_version": SCHEMA_VERSION,
        "study": study,
        "tool_version": tool_version,
        "models": models,
        "rr_s": rr_s,
        "times_s": _floats(times_s),
        "displacement_mm": _floats(displacement),
        "velocity_cm_s": _floats(velocity_cm_s(times_s, displacement, rr_s, smooth=smooth_curves)),
        "curves_smoothed": smooth_curves,
        "study_views": study_views,
        "metrics": metrics.to_dict(),
        "metrics_2ch_4ch": paper_metrics,
        "views": {},
    }
    for name, view in views.items():
        view_metrics = clinical_metrics(view.times_s, view.displacement_mm(), view.rr_s, smooth=smooth_curves)
        result["views"][name] = {
            "points_px": np.round(np.asarray(view.points_px, dtype=float), 4).tolist(),
            "point_names": list(view.point_names),
            "times_s": _floats(view.times_s),
            "pixel_spacing_mm": [float(s) for s in view.pixel_spacing_mm],
            "rr_s": float(view.rr_s),
            "displacement_mm": _floats(view.displacement_mm()),
            "series_uid": view.series_uid,
            "metrics": view_metrics.to_dict(),
            **view.extra,
        }
    if extra:
        result.update(extra)
    return result


def _study_curve(views: dict[str, ViewTrack], names: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """(times_s, displacement_mm, rr_s) of the named views averaged on a common grid."""
    return combine_views([(views[v].times_s, views[v].displacement_mm(), views[v].rr_s) for v in names])


def _floats(values) -> list[float]:
    return [round(float(v), 6) for v in np.asarray(values).ravel()]


@functools.cache
def _result_validator():
    """RESULT_SCHEMA's validator, built (and the schema checked) once per process, not per result."""
    import jsonschema

    validator = jsonschema.validators.validator_for(RESULT_SCHEMA)
    validator.check_schema(RESULT_SCHEMA)
    return validator(RESULT_SCHEMA)


def validate_result(result: dict, source: object = "results") -> None:
    """Raise ResultError when ``result`` breaks the contract (schema and shape consistency)."""
    import jsonschema

    try:
        _result_validator().validate(result)
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        raise ResultError(f"{source}: {exc.message} (at {path or 'top level'})") from None
    for name, view in result["views"].items():
        n = len(view["times_s"])
        if len(view["points_px"]) != n or len(view["displacement_mm"]) != n:
            raise ResultError(f"{source}: view {name} has {n} times but "
                              f"{len(view['points_px'])} point frames / {len(view['displacement_mm'])} displacements")
    if not len(result["times_s"]) == len(result["displacement_mm"]) == len(result["velocity_cm_s"]):
        raise ResultError(f"{source}: study curves differ in length")


def anchors_from_result(result: dict) -> dict[str, dict[int, np.ndarray]]:
    """The reader anchors saved in a reviewed result (``review.anchors``: view -> frame -> (2, 2)
    points), empty when it was not reviewed."""
    saved = (result.get("review") or {}).get("anchors") or {}
    return {view: {int(f): np.asarray(p, dtype=float) for f, p in frames.items()} for view, frames in saved.items()}


def write_json_atomic(data: dict, path: Path | str) -> None:
    """Write JSON through a temporary file and a rename: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=1, allow_nan=False)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; results are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_result(result: dict, path: Path | str) -> None:
    """Validate, then write ``results.json`` atomically."""
    validate_result(result, path)
    write_json_atomic(result, path)


def read_result(path: Path | str) -> dict:
    """Read and validate a results.json."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultError(f"{path}: unreadable results file ({exc.__class__.__name__})") from None
    validate_result(result, path)
    return result
