"""Learning from reviews: how the unreviewed studies' error falls as a site's reviewed studies are learnt.

A site whose scans the shipped model reads wrongly is simulated with synthetic studies of a look the
shipped model never saw (``hinge_look_probability`` 1: no LV-LA waist, faint LA wall, leaflets that
come and go) whose hinge is, by the site's reference, ``SHIFT_MM`` toward the apex from where the
generator draws the junction (the real-scan bias is of this kind: the model's points sit toward the
atrium); with ``--bias diastolic`` the shift is full at end-diastole and where the valve is back
at its end-diastolic level (late diastole) and none at end-systole, as on the real scans, so that a
network must learn it from the look of the frames rather than as one offset. For each study of a review pool, a simulated reader anchors the reference points at ED and
ES (``mvtrack.pipeline.anchors``, as ``mvtrack review`` saves them); then both views' stage 2 is
fine-tuned from the shipped model on the anchored frames of the first 5, 10 and 20 reviewed studies
(``mvtrack.train.data``: the anchored frames are the only labels) with the same small budget, and
held-out test studies of the same site are tracked without any review. Rows: point error (median,
mean) against the site's reference, the signed error along the long axis (toward the apex +) over
all frames and at end-diastole, and the MAPSE error; and what a review costs (re-tracking seconds per view) and a fine-tune (seconds).

    .venv/bin/python benchmarks/review.py [--pool 20] [--test 8] [--iterations 300] [--threads 2] [--bias diastolic]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SHIFT_MM = 4.0  # the site's hinge, toward the apex from the generator's junction
SEED_POOL, SEED_TEST = 9800, 9850  # neither a training nor a test seed of the shipped model
GENERATOR = {"hinge_look_probability": 1.0}


def site_reference(points_px: np.ndarray, spacing_mm: tuple[float, float], bias: str = "constant") -> np.ndarray:
    """(T, 2, 2) the generator's points moved toward the apex (the site's reference): ``SHIFT_MM`` in
    every frame ("constant"), or ``SHIFT_MM`` scaled by how far the valve is from its end-systolic
    position (1 at ED and wherever the valve is back at its ED level, 0 at ES: "diastolic")."""
    from mvtrack.geometry.standardise import apex_normal_mm
    from mvtrack.metrics import displacement_mm

    normal_mm = apex_normal_mm(points_px, spacing_mm)
    weight = np.ones(len(points_px))
    if bias == "diastolic":
        displacement = displacement_mm(points_px, spacing_mm)
        weight = np.clip(1.0 - displacement / max(float(displacement.max()), 1e-6), 0.0, 1.0)
    shift_px = normal_mm * SHIFT_MM / np.array([spacing_mm[1], spacing_mm[0]])
    return points_px + weight[:, None, None] * shift_px


def site_study(seed: int, index: int, bias: str = "constant"):
    """(cines, {view: reference points}) of one synthetic study of the site."""
    from mvtrack.synth.generator import generate_subject

    subject = generate_subject(seed, index, **GENERATOR)
    cines = [v.cine for v in subject.views.values()]
    truth = {view: site_reference(v.points_px, v.cine.pixel_spacing_mm, bias) for view, v in subject.views.items()}
    return subject.subject_id, cines, truth


def ed_es_anchors(truth: np.ndarray, spacing_mm) -> dict[int, np.ndarray]:
    from mvtrack.pipeline.anchors import end_systolic_frame

    es = end_systolic_frame(truth, spacing_mm)
    return {0: truth[0], es: truth[es]}


def errors(result: dict, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per view: point errors (T, 2) mm, signed errors along the long axis (T, 2) mm, MAPSE error mm."""
    from mvtrack.geometry.standardise import apex_normal_mm
    from mvtrack.metrics import clinical_metrics, displacement_mm

    out = {}
    for view, ref in truth.items():
        entry = result["views"][view]
        spacing = tuple(entry["pixel_spacing_mm"])
        points = np.asarray(entry["points_px"], dtype=float)
        mm = np.array([spacing[1], spacing[0]])
        diff_mm = (points - ref) * mm
        normal = apex_normal_mm(ref, spacing)
        times, rr = np.asarray(entry["times_s"]), float(entry["rr_s"])
        mapse = [clinical_metrics(times, displacement_mm(p, spacing), rr).to_dict()["mapse_mm"] for p in (points, ref)]
        out[view] = {"point_mm": np.linalg.norm(diff_mm, axis=2), "signed_mm": diff_mm @ normal,
                     "mapse_mm": mapse[0] - mapse[1]}
    return out


def fine_tune(reviewed_root: Path, out: Path, iterations: int, threads: int) -> tuple[Path, float]:
    """Both views' stage 2 fine-tuned from the shipped model on the reviewed studies under
    ``reviewed_root``; returns (model folder, seconds)."""
    from mvtrack.models.export import export_model_dir
    from mvtrack.models.store import shipped_network
    from mvtrack.train.data import _folder_job, build_cache, folder_jobs
    from mvtrack.train.run import augment_config_for
    from mvtrack.train.trainer import TrainConfig, checkpoint_state_dict, train_network

    start = time.perf_counter()
    cache = build_cache(out / "cache", folder_jobs(reviewed_root), _folder_job, workers=1)
    checkpoints = {}
    for view in ("2CH", "4CH"):
        weights, network = shipped_network(f"{view.lower()}_stage2")
        n_samples = int(np.load(cache[view])["s2_points"].shape[0])
        config = TrainConfig(epochs=iterations * 16 / max(1, n_samples), batch_size=16, learning_rate=5e-5,
                             val_fraction=0.2, eval_every=50, threads=threads, seed=0,
                             augment_config=augment_config_for(network))
        train_network(network, config, cache[view], out / network.name, init_state=checkpoint_state_dict(weights, network),
                      progress=False)
        checkpoints[network.name] = out / network.name / "best.pt"
    folder = out / "model"
    export_model_dir(checkpoints, folder, model_id=f"reviewed-{reviewed_root.name}")
    return folder, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=20, help="reviewed studies available (the largest n)")
    parser.add_argument("--test", type=int, default=8, help="unreviewed test studies")
    parser.add_argument("--iterations", type=int, default=300, help="fine-tuning iterations (x 16) per network")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bias", choices=["constant", "diastolic"], default="constant",
                        help="the site's reference: shifted in every frame, or at ED and late diastole only")
    args = parser.parse_args()

    from mvtrack.io.npz import write_npz_cine
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.anchors import review_result
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.results import write_result

    work = Path(tempfile.mkdtemp(prefix="mvtrack_review_bench_"))
    shipped = ModelSet(threads=args.threads)
    review_seconds = []
    for index in range(args.pool):  # analyse and review the pool, as a site would
        study_id, cines, truth = site_study(SEED_POOL, index, args.bias)
        study = analyze_cines(cines, study_id, shipped)
        anchors = {view: ed_es_anchors(truth[view], cine.pixel_spacing_mm) for view, cine in study.cines.items()}
        start = time.perf_counter()
        reviewed = review_result(study.result, anchors)
        review_seconds.append((time.perf_counter() - start) / len(anchors))
        folder = work / "pool" / f"{index:03d}" / study_id
        (folder / "cines").mkdir(parents=True)
        write_result(reviewed, folder / "results.json")
        for view, cine in study.cines.items():
            write_npz_cine(cine, folder / "cines" / f"{view}.npz")
    tests = [site_study(SEED_TEST, index, args.bias) for index in range(args.test)]

    def measure(models) -> dict[str, dict[str, float]]:
        found: dict[str, list] = {}
        seconds = []
        for study_id, cines, truth in tests:
            start = time.perf_counter()
            result = analyze_cines(cines, study_id, models).result
            seconds.append(time.perf_counter() - start)
            for view, e in errors(result, truth).items():
                found.setdefault(view, []).append(e)
        rows = {}
        for view, es in found.items():
            point = np.concatenate([e["point_mm"].ravel() for e in es])
            signed = np.concatenate([e["signed_mm"].ravel() for e in es])
            signed_ed = np.concatenate([e["signed_mm"][0] for e in es])
            rows[view] = {"median": float(np.median(point)), "mean": float(point.mean()), "signed": float(signed.mean()),
                          "signed_ed": float(signed_ed.mean()),
                          "mapse": float(np.mean([abs(e["mapse_mm"]) for e in es])), "s": float(np.mean(seconds))}
        return rows

    header = f"{'reviewed studies learnt':<24} {'view':<4} {'median mm':>9} {'mean mm':>8} {'signed mm':>9} {'signed ED':>9} {'|MAPSE err| mm':>14} {'fine-tune s':>11}"
    print(f"site: hinge look 1.0, reference {SHIFT_MM:g} mm toward the apex ({args.bias}); {args.test} unreviewed test studies; "
          f"{args.iterations} iterations x 16 per network, {args.threads} threads")
    print(header)
    print("-" * len(header))

    def show(label: str, rows: dict, seconds: float | None) -> None:
        for view, r in rows.items():
            print(f"{label:<24} {view:<4} {r['median']:9.2f} {r['mean']:8.2f} {r['signed']:+9.2f} {r['signed_ed']:+9.2f} {r['mapse']:14.2f} "
                  f"{'' if seconds is None else f'{seconds:11.0f}'}")

    show("0 (shipped model)", measure(shipped), None)
    for n in (5, 10, 20):
        if n > args.pool:
            break
        subset = work / f"reviewed_{n}"
        subset.mkdir()
        for index in range(n):
            for study_folder in (work / "pool" / f"{index:03d}").iterdir():
                shutil.copytree(study_folder, subset / study_folder.name)
        folder, seconds = fine_tune(subset, work / f"run_{n}", args.iterations, args.threads)
        show(str(n), measure(ModelSet(folder, threads=args.threads)), seconds)
    print(f"re-tracking one view from its anchors (review_result): median {np.median(review_seconds) * 1000:.1f} ms, "
          f"max {np.max(review_seconds) * 1000:.1f} ms over {len(review_seconds)} studies")


if __name__ == "__main__":
    main()
