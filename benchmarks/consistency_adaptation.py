"""Issue 13, lever 5: stage 2 adapted to a study's own frames by shift consistency (no labels).

For every real reference view (the 3T exam in data/) and a few synthetic test subjects: the shipped
pipeline runs, its stage-2 network is fine-tuned on that cine so that two differently placed crops
of a frame give the same points (``mvtrack.train.consistency``; the pipeline's own track places the
crops; no reference point is used), and the pipeline runs again with the adapted network. The
adaptation sees only the cine being analysed, as a test-time method would. The table: point error
(median / mean / worst, mm), MAPSE and e' against the reference, the shift disagreement before and
after (mm), and the seconds the adaptation took.

    .venv/bin/python benchmarks/consistency_adaptation.py [--steps 150] [--lr 3e-5] [--subjects 3]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def torch_stage2(view: str):
    from mvtrack.models.export import load_checkpoint, network_from_checkpoint
    from mvtrack.models.store import read_manifest, shipped_model_dir

    entry = read_manifest(shipped_model_dir())["networks"][f"{view.lower()}_stage2"]
    config, model = network_from_checkpoint(load_checkpoint(shipped_model_dir() / entry["weights"], entry["weights_sha256"]))
    return config, model


def anchor_samples(view: str, subjects: int, cache_dir: Path) -> dict:
    """Stage-2 samples of ``subjects`` synthetic subjects (seed 9500: neither a training nor the test seed)."""
    from mvtrack.train.data import _synthetic_job, build_cache, synthetic_jobs
    from mvtrack.train.trainer import load_stage_samples

    path = cache_dir / f"{view}.npz"
    if not path.exists():
        build_cache(cache_dir, synthetic_jobs(subjects, 9500), _synthetic_job, workers=2)
    return load_stage_samples(path, 2)


def run_view(cines: list, view: str, models, config, seed: int, anchor: dict | None = None):
    """(baseline study, adapted study, losses, seconds) for the view ``view`` of a study of ``cines``."""
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.train.consistency import TorchStage2, WithStage2, adapt_stage2

    baseline = analyze_cines(cines, "study", models)
    cine = next(c for c in cines if c.view == view)
    track = np.asarray(baseline.result["views"][view]["points_px"], dtype=float)
    network_config, model = torch_stage2(view)
    start = time.perf_counter()
    losses = adapt_stage2(model, [(cine, track)], config, seed=seed, anchor=anchor)
    seconds = time.perf_counter() - start
    adapted = analyze_cines(cines, "study", WithStage2(models, {view: TorchStage2(model, network_config.input_shape)}))
    return baseline, adapted, losses, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--shift-mm", type=float, default=5.0,
                        help="SD of the crops' placement (whole MV; each point half as much again); default: the "
                             "perturbation stage 2 was trained with")
    parser.add_argument("--anchor", type=int, default=0,
                        help="also keep the supervised task on this many synthetic subjects (0: consistency alone)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(2)
    from mvtrack.evaluate.reference import load_reference, reference_metrics, reference_series_paths, reference_studies, score_view
    from mvtrack.io import read_cines
    from mvtrack.models.store import ModelSet
    from mvtrack.synth.generator import generate_subject
    from mvtrack.train.consistency import ConsistencyConfig
    from mvtrack.train.data import PerturbationConfig

    models = ModelSet()
    config = ConsistencyConfig(steps=args.steps, learning_rate=args.lr, perturbation=PerturbationConfig(
        shift_mm=args.shift_mm, per_point_mm=0.6 * args.shift_mm, per_frame_mm=0.7, copies=1))
    print(f"steps {config.steps}, lr {config.learning_rate:g}, {config.frames_per_step} frames x 2 crops per step, "
          f"placement SD {config.perturbation.shift_mm:g} mm (whole MV) + {config.perturbation.per_point_mm:g} mm (per point), "
          f"synthetic anchor: {args.anchor or 'none'} subjects\n")
    cache_dir = REPO / "runs" / "consistency_anchor"
    anchors = {view: anchor_samples(view, args.anchor, cache_dir) for view in ("2CH", "4CH")} if args.anchor else {}
    print("| cine | view | median / mean / worst (mm), shipped | adapted | MAPSE ref / shipped / adapted | "
          "e' ref / shipped / adapted | disagreement first / last 25 steps (mm) | s |")
    print("|---|---|---|---|---|---|---|---:|")

    def row(label, view, ref_view, baseline, adapted, losses, seconds):
        cells = [label, view]
        for study in (baseline, adapted):
            out = study.result["views"][view]
            s = score_view(np.asarray(out["points_px"]), np.asarray(out["times_s"]), ref_view)
            cells.append(f"{s['median_mm']:.1f} / {s['mean_mm']:.1f} / {s['worst_mm']:.1f}")
        ref = reference_metrics(ref_view)
        for key in ("mapse_mm", "e_prime_cm_s"):
            values = [ref[key]] + [study.result["views"][view]["metrics"][key] for study in (baseline, adapted)]
            cells.append(" / ".join("n/a" if v is None else f"{v:.1f}" for v in values))
        cells += [f"{np.mean(losses[:25]):.2f} / {np.mean(losses[-25:]):.2f}", f"{seconds:.0f}"]
        print("| " + " | ".join(cells) + " |", flush=True)

    for folder in reference_studies(REPO / "data"):
        reference = load_reference(folder)
        paths = reference_series_paths(folder, reference)
        cines = [read_cines([p], view=v)[0] for v, p in paths.items()]
        for view in paths:
            row(f"{folder.name}", view, reference["views"][view], *run_view(cines, view, models, config, seed=0, anchor=anchors.get(view)))
    for index in range(args.subjects):
        subject = generate_subject(9001, index)
        cines = [v.cine for v in subject.views.values()]
        for view, synthetic in subject.views.items():
            ref_view = {"points_px": synthetic.points_px.tolist(), "times_s": synthetic.cine.times_s.tolist(),
                        "rr_s": synthetic.cine.rr_s, "pixel_spacing_mm": list(synthetic.cine.pixel_spacing_mm),
                        "point_order": "ordered"}
            row(f"synthetic 9001/{index}", view, ref_view, *run_view(cines, view, models, config, seed=index, anchor=anchors.get(view)))


if __name__ == "__main__":
    main()
