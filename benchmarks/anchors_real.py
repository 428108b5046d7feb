"""Reader anchors on real scans: how far do two (or three) corrected frames take the numbers?

For each reference view of each annotated real study under ``data/`` (``annotations.json``), the
view is analysed as ``mvtrack analyze`` analyses it, and then re-tracked from the reference's own
points on a few frames, as a reader would place them in ``mvtrack review``: end-diastole (frame 0)
only; ED and end-systole (the reference's frame of largest displacement); ED, ES and mid-diastole
(halfway from ES to the end of the cycle). The rule is the one ``--anchors`` applies
(``mvtrack.pipeline.anchors``: the correction interpolated linearly in time around the cycle). Rows:
point error (median, mean, worst) over every frame, the signed error along the long axis (toward the
apex +) at ED, ES, diastasis and late diastole (``mvtrack.evaluate.reference.signed_phase_errors_mm``),
MAPSE (reference, mvtrack, difference), e' (reference, mvtrack), the QC verdict of the view, and the
seconds the re-tracking took (the analysis itself not counted).

    .venv/bin/python benchmarks/anchors_real.py [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def anchor_frames(ref_view: dict, kind: str) -> list[int]:
    """Frames a reader anchors: "ED", "ED+ES", "ED+ES+MD" (ES from the reference's displacement)."""
    from mvtrack.pipeline.anchors import end_systolic_frame

    truth = np.asarray(ref_view["points_px"], dtype=float)
    es = end_systolic_frame(truth, tuple(ref_view["pixel_spacing_mm"]))
    frames = {"ED": [0], "ED+ES": [0, es], "ED+ES+MD": [0, es, es + (len(truth) - es) // 2]}[kind]
    return sorted(set(frames))


def reader_anchors(auto_px: np.ndarray, ref_view: dict, frames: list[int]) -> dict[int, np.ndarray]:
    """The reference's points on ``frames``, each pair in the automatic points' order (a reader drags
    each automatic point onto the hinge nearest it)."""
    truth = np.asarray(ref_view["points_px"], dtype=float)
    anchors = {}
    for f in frames:
        same = np.linalg.norm(auto_px[f] - truth[f], axis=1).sum()
        swapped = np.linalg.norm(auto_px[f] - truth[f][::-1], axis=1).sum()
        anchors[f] = truth[f] if same <= swapped else truth[f][::-1]
    return anchors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=REPO / "data")
    args = parser.parse_args()

    from mvtrack.evaluate.reference import (
        load_reference,
        reference_cines,
        reference_metrics,
        reference_studies,
        score_view,
        signed_phase_errors_mm,
    )
    from mvtrack.evaluate.points import align_point_order
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.anchors import review_result
    from mvtrack.pipeline.study import analyze_cines

    models = ModelSet(args.model)
    header = (f"{'study':<16} {'view':<4} {'anchors':<9} {'median':>7} {'mean':>6} {'worst':>6} "
              f"{'signed ED / ES / dias / late':>29} {'MAPSE ref':>9} {'mvtrack':>8} {'diff':>6} {'e_ ref':>6} {'mvtrack':>8} "
              f"{'QC':<12} {'s':>6}")
    print(header)
    print("-" * len(header))
    for folder in reference_studies(args.data):
        reference = load_reference(folder)
        views = tuple(v for v in ("2CH", "3CH", "4CH") if models.has(v, 1) and models.has(v, 2))
        cines = reference_cines(folder, reference, views)
        study = analyze_cines(list(cines.values()), reference["study"], models)
        for view in cines:
            ref_view = reference["views"][view]
            ref_metrics = reference_metrics(ref_view)
            ref_mapse = ref_metrics["mapse_mm"]
            auto_px = np.asarray(study.result["views"][view]["points_px"], dtype=float)
            for kind in ("none", "ED", "ED+ES", "ED+ES+MD"):
                start = time.perf_counter()
                if kind == "none":
                    result = study.result
                else:
                    anchors = reader_anchors(auto_px, ref_view, anchor_frames(ref_view, kind))
                    result = review_result(study.result, {view: anchors})
                seconds = time.perf_counter() - start
                entry = result["views"][view]
                score = score_view(np.asarray(entry["points_px"]), np.asarray(entry["times_s"]), ref_view)
                mapse = entry["metrics"]["mapse_mm"]
                own = [r for r in result["qc"]["reasons"] if r.startswith(f"{view}:")]
                verdict = ("withheld" if mapse is None else "confirmed" if view in (result.get("review") or {})
                           .get("reader_confirmed", []) else f"flagged ({len(own)})" if own else "ok")
                shown = "null" if mapse is None else f"{mapse:.1f}"
                # the error of the numbers behind a withheld MAPSE, to show what QC kept back
                raw = score_mapse(entry) if mapse is None else mapse
                # the points on the reference's frames in the reference's point order (as score_view compares them)
                ordered, _ = align_point_order(np.asarray(entry["points_px"], dtype=float),
                                               np.asarray(ref_view["points_px"], dtype=float))
                signed = signed_phase_errors_mm(ordered, ref_view)
                phases = " / ".join("n/a" if signed[p] is None else f"{signed[p]:+.1f}"
                                    for p in ("ed", "es", "diastasis", "late_diastole"))
                e_prime = entry["metrics"]["e_prime_cm_s"]
                print(f"{reference['study']:<16} {view:<4} {kind:<9} {score['median_mm']:7.2f} {score['mean_mm']:6.2f} "
                      f"{score['worst_mm']:6.1f} {phases:>29} {ref_mapse:9.1f} {shown:>8} {raw - ref_mapse:+6.1f} "
                      f"{ref_metrics['e_prime_cm_s']:6.1f} {'null' if e_prime is None else f'{e_prime:.1f}':>8} "
                      f"{verdict:<12} {seconds:6.3f}")


def score_mapse(entry: dict) -> float:
    """MAPSE of a view's points even where QC withheld it (for the table's difference column)."""
    from mvtrack.metrics import clinical_metrics, displacement_mm

    disp = displacement_mm(np.asarray(entry["points_px"], dtype=float), tuple(entry["pixel_spacing_mm"]))
    return clinical_metrics(np.asarray(entry["times_s"]), disp, float(entry["rr_s"])).to_dict()["mapse_mm"]


if __name__ == "__main__":
    main()
