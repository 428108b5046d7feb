"""Evaluate folders of results against reference annotations (both in the result-contract form).

Studies are matched by their ``study`` id (or folder name); frames by time. A reference view marked
``"point_order": "unordered"`` (one order over its frames, not an anatomical one) is scored in
whichever order of the predicted points fits it better over the whole view. With ``stages`` the
predicted ``passes_px`` (stage 1, 1+2, 1+2+2) are evaluated too, for the dual-stage ablation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.evaluate.agreement import agreement
from mvtrack.evaluate.points import (
    align_point_order,
    angular_errors_deg,
    displacement_errors_mm,
    match_frames,
    point_errors_mm,
    swapped_frames,
)
from mvtrack.metrics import clinical_metrics, combine_views, displacement_mm

REFERENCE_NAMES = ("annotations.json", "truth.json", "results.json")
CLINICAL = ("mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s")


def load_results(root: Path | str, names=("results.json",)) -> dict[str, dict]:
    """{study id: result dict} for every study folder under ``root`` holding one of ``names``."""
    root = Path(root)
    found = {}
    for name in names:
        for path in sorted(root.rglob(name)):
            data = json.loads(path.read_text())
            study = str(data.get("study") or path.parent.name)
            found.setdefault(study, data)
    if not found:
        raise MvtrackError(f"{root}: no {' / '.join(names)} found")
    return found


@dataclass
class Evaluation:
    """Per-frame spatial errors grouped by (stage, view), and per-study clinical values."""

    frames: dict[tuple[str, str], dict[str, list]] = field(default_factory=dict)
    clinical: dict[str, dict[str, list]] = field(default_factory=dict)  # stage -> metric -> [(test, ref)]
    swaps: dict[tuple[str, str], int] = field(default_factory=dict)
    studies: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _study_metrics(views: dict[str, tuple[np.ndarray, np.ndarray, tuple, float]], smooth: bool = True) -> dict:
    curves = [(t, displacement_mm(p, s), rr) for p, t, s, rr in views.values()]
    times, disp, rr = combine_views(curves)
    return clinical_metrics(times, disp, rr, smooth=smooth).to_dict()


def evaluate(predicted_root, reference_root, stages: bool = False, studies: set[str] | None = None) -> Evaluation:
    """Compare predictions with references; ``studies`` restricts to a subset of study ids."""
    predicted = load_results(predicted_root)
    reference = load_results(reference_root, REFERENCE_NAMES)
    if studies is not None:
        reference = {k: v for k, v in reference.items() if k in studies}
    result = Evaluation()
    for study, ref in sorted(reference.items()):
        pred = predicted.get(study)
        if pred is None:
            result.missing.append(study)
            continue
        result.studies.append(study)
        stage_names = ["final"]
        if stages:
            first_view = next(iter(pred["views"].values()))
            stage_names += list(first_view.get("passes_px", {}))
        for stage in stage_names:
            pred_views, ref_views = {}, {}
            for view, ref_view in ref["views"].items():
                pred_view = pred["views"].get(view)
                if pred_view is None:
                    continue
                points = np.asarray(pred_view["points_px"] if stage == "final" else pred_view["passes_px"][stage])
                spacing = tuple(ref_view["pixel_spacing_mm"])
                rr = float(ref_view.get("rr_s") or ref.get("rr_s"))
                points = match_frames(points, pred_view["times_s"], ref_view["times_s"], rr)
                truth = np.asarray(ref_view["points_px"])
                if ref_view.get("point_order") == "unordered":
                    points, _ = align_point_order(points, truth)
                bucket = result.frames.setdefault((stage, view), {"point_mm": [], "angle_deg": [], "disp_mm": [],
                                                                   "disp_ref_mm": []})
                bucket["disp_ref_mm"].append(displacement_mm(truth, spacing))
                bucket["point_mm"].append(point_errors_mm(points, truth, spacing))
                bucket["angle_deg"].append(angular_errors_deg(points, truth, spacing))
                bucket["disp_mm"].append(displacement_errors_mm(points, truth, spacing))
                result.swaps[(stage, view)] = result.swaps.get((stage, view), 0) + int(swapped_frames(points, truth).sum())
                times = np.asarray(ref_view["times_s"])
                pred_views[view] = (points, times, spacing, rr)
                ref_views[view] = (truth, times, spacing, rr)
            if not pred_views:
                continue
            # The final tracks are measured as the tool measured them (interpolated when already refined).
            smooth = bool(pred.get("curves_smoothed", True)) if stage == "final" else True
            test_metrics, ref_metrics = _study_metrics(pred_views, smooth), _study_metrics(ref_views)
            per_metric = result.clinical.setdefault(stage, {m: [] for m in CLINICAL})
            for metric in CLINICAL:
                per_metric[metric].append((_nan(test_metrics[metric]), _nan(ref_metrics[metric])))
    return result


def _nan(value):
    return np.nan if value is None else float(value)


def summarise(evaluation: Evaluation) -> dict:
    """Means and SDs of the spatial errors per (stage, view, point), and agreement per clinical metric."""
    spatial = {}
    for (stage, view), bucket in evaluation.frames.items():
        points = np.concatenate(bucket["point_mm"])
        angles = np.concatenate(bucket["angle_deg"])
        disp = np.concatenate(bucket["disp_mm"])
        spatial[f"{stage}/{view}"] = {
            "n_frames": int(len(angles)),
            "point0_mm": _ms(points[:, 0]), "point1_mm": _ms(points[:, 1]), "euclidean_mm": _ms(points.ravel()),
            "angle_deg": _ms(angles), "displacement_mm": _ms(disp), "swapped_frames": evaluation.swaps.get((stage, view), 0),
        }
    clinical = {stage: {metric: agreement(*np.array(pairs).T) if pairs else None for metric, pairs in metrics.items()}
                for stage, metrics in evaluation.clinical.items()}
    return {"studies": len(evaluation.studies), "missing": evaluation.missing, "spatial": spatial, "clinical": clinical}


def _ms(values) -> list[float]:
    values = np.asarray(values, dtype=float)
    return [float(values.mean()), float(values.std(ddof=1))] if len(values) > 1 else [float(values.mean()), 0.0]
