"""The real-scan yardstick: the shipped pipeline on every real study in the repository.

For each study under ``data/`` that has reference points (``annotations.json``), the study's 2CH and
4CH series are analysed exactly as ``mvtrack analyze`` analyses a study (``analyze_study``, the
CLI's code path), once with the defaults, once with the start search off and once as the paper's
1+2+2 (two stage-2 passes, no search). One table row per study, configuration and view: point error
(mean, median, worst single point and its frame), stage 1's median error (how far the full-frame
network lands), angle between the MV lines, displacement error bias and SD, the signed error along the
long axis (toward the apex +, both points) at end-diastole (frame 0), end-systole, over diastasis and
late diastole (the last tenth of the cycle; ``evaluate.reference.phase_frames``), the MAPSE error
measured from the tracked points alone (also for a view QC withholds), MAPSE and e' (reference,
mvtrack, difference), the QC verdict and the seconds the study took.

The built-in MVnet sample has no reference: its rows give the distance at one frame to points a
developer placed by eye (``benchmarks/real_sample.py``), a check of where the points are, not a
measurement of accuracy.

    .venv/bin/python benchmarks/real_scans.py [--model DIR] [--figure docs/results/real-scans.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
CONFIGS = {  # name: (stage-2 passes, start search, AdaptConfig to adapt stage 2 to the study or None)
    "default": (3, True, None),
    "no search": (3, False, None),
    "paper 1+2+2": (2, False, None),
}
ADAPTED = "default + adapt"  # with --adapt (needs PyTorch; about 80 s per view and try, 3 tries)


def run_reference_study(folder: Path, models, passes: int, search: bool, adapt=None):
    from mvtrack.evaluate.reference import load_reference, reference_series_paths
    from mvtrack.io import VIEWS, read_cines
    from mvtrack.pipeline.study import analyze_cines

    reference = load_reference(folder)
    # every reference view the model can track (3CH only with a model folder that has 3CH networks),
    # each read from the series it was drawn on as that view (recognition: benchmarks/view_recognition.py)
    series = reference_series_paths(folder, reference, tuple(v for v in VIEWS if models.has(v, 1) and models.has(v, 2)))
    start = time.perf_counter()
    cines = [read_cines([path], view=view)[0] for view, path in series.items()]
    study = analyze_cines(cines, reference["study"], models, stage2_passes=passes, search=search, adapt=adapt)
    return reference, study, time.perf_counter() - start


def view_verdict(result: dict, view: str) -> str:
    """QC for one view: "flagged (n)" with the number of its own QC reasons, else "ok"; "left out"
    when the study metrics do not use it."""
    own = [r for r in result["qc"]["reasons"] if r.startswith(f"{view}:")]
    text = f"flagged ({len(own)})" if own else "ok"
    return text + ("" if view in result.get("study_views", [view]) else ", left out")


def fmt(value, spec=".1f"):
    return "n/a" if value is None else format(value, spec)


def reference_rows(models, configs: dict) -> tuple[list[str], dict]:
    from mvtrack.evaluate.reference import reference_metrics, reference_studies, score_view

    rows, kept = [], {}
    for folder in reference_studies(REPO / "data"):
        for config, (passes, search, adapt) in configs.items():
            reference, study, seconds = run_reference_study(folder, models, passes, search, adapt)
            if config == "default":
                kept[folder.name] = (reference, study)
            for view in sorted(study.result["views"]):
                verdict = view_verdict(study.result, view)
                ref_view = reference["views"][view]
                out = study.result["views"][view]
                score = score_view(np.asarray(out["points_px"]), np.asarray(out["times_s"]), ref_view)
                stage1 = score_view(np.asarray(out["passes_px"]["stage1"]), np.asarray(out["times_s"]), ref_view)
                ref_metrics = reference_metrics(ref_view)
                cells = [folder.name, config, view, fmt(score["mean_mm"]), fmt(score["median_mm"]),
                         f"{score['worst_mm']:.1f} (f{score['worst_frame']})", fmt(stage1["median_mm"]),
                         fmt(score["angle_deg"]),
                         f"{score['displacement_bias_mm']:+.2f} ± {score['displacement_sd_mm']:.2f}",
                         signed_cell(score["signed_mm"]), fmt(score["mapse_error_mm"], "+.1f")]
                cells += [*metric_cells(out["metrics"], ref_metrics), verdict, f"{seconds:.1f}"]
                rows.append("| " + " | ".join(cells) + " |")
            rows += study_rows(folder.name, config, reference, study.result)
    return rows, kept


def signed_cell(signed: dict) -> str:
    """"ED / ES / diastasis / late diastole" signed long-axis errors (mm, toward the apex +)."""
    from mvtrack.evaluate.reference import PHASES

    return " / ".join(fmt(signed[phase], "+.1f") for phase in PHASES)


def metric_cells(ours: dict, theirs: dict) -> list[str]:
    """The MAPSE and e' cells: "reference / mvtrack / difference"."""
    cells = []
    for key in ("mapse_mm", "e_prime_cm_s"):
        diff = None if ours[key] is None or theirs[key] is None else ours[key] - theirs[key]
        cells.append(f"{fmt(theirs[key])} / {fmt(ours[key])} / {fmt(diff, '+.1f')}")
    return cells


def study_rows(name: str, config: str, reference: dict, result: dict) -> list[str]:
    """The study metrics (from the views QC let in) against the reference's from the same views; and,
    when a 3CH is among them, the paper's 2CH + 4CH metrics against the reference's 2CH + 4CH."""
    from mvtrack.evaluate.reference import reference_metrics

    used = result["study_views"]
    entries = [("+".join(used), used, result["metrics"])]
    if "3CH" in used and result.get("metrics_2ch_4ch"):
        paper = [v for v in used if v != "3CH"]
        entries.append(("+".join(paper) + " (metrics_2ch_4ch)", paper, result["metrics_2ch_4ch"]))
    rows = []
    for label, views, ours in entries:
        theirs = reference_metrics(*(reference["views"][v] for v in views))
        cells = [name, config, f"study: {label}", *["-"] * 8, *metric_cells(ours, theirs), "-", "-"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def sample_rows(models, configs: dict) -> tuple[list[str], object]:
    from real_sample import BY_EYE_FRAME, BY_EYE_PX

    from mvtrack.geometry.standardise import points_to_mm
    from mvtrack.pipeline.study import analyze_study

    rows, study = [], None
    for config, (passes, search, adapt) in configs.items():
        start = time.perf_counter()
        result = analyze_study(Path(str(files("mvtrack") / "data" / "mvnet-sample")), models=models,
                               stage2_passes=passes, search=search, adapt=adapt)
        seconds = time.perf_counter() - start
        study = result if config == "default" else study
        for view in sorted(result.result["views"]):
            verdict = view_verdict(result.result, view)
            cine, out = result.cines[view], result.result["views"][view]
            eye = np.array(BY_EYE_PX[view])
            final = np.linalg.norm(points_to_mm(np.asarray(out["points_px"])[BY_EYE_FRAME] - eye, cine.pixel_spacing_mm), axis=-1)
            first = np.linalg.norm(points_to_mm(np.asarray(out["passes_px"]["stage1"])[BY_EYE_FRAME] - eye,
                                                cine.pixel_spacing_mm), axis=-1)
            cells = ["mvnet-sample (by eye, frame 8 only)", config, view, fmt(final.mean()), "-",
                     f"{final.max():.1f} (f{BY_EYE_FRAME})", fmt(np.median(first)), "-", "-", "-", "-",
                     f"- / {fmt(out['metrics']['mapse_mm'])} / -", f"- / {fmt(out['metrics']['e_prime_cm_s'])} / -",
                     verdict, f"{seconds:.1f}"]
            rows.append("| " + " | ".join(cells) + " |")
    return rows, study


HEADER = ("| study | pipeline | view | mean (mm) | median (mm) | worst point (mm, frame) | stage 1 median (mm) "
          "| angle (°) | displacement error (mm) | signed ED / ES / diastasis / late diastole (mm, apex +) | MAPSE diff from the points (mm) | MAPSE ref / mvtrack / diff (mm) | e' ref / mvtrack / diff (cm/s) "
          "| QC of the view | s |")


def draw(kept: dict, path: Path, n_frames: int = 6) -> None:
    """A few frames per view, zoomed on the valve: reference (green circles) and tracked points (crosses)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from real_sample import show_points

    from mvtrack.evaluate.reference import score_view

    rows = [(name, view, reference, study) for name, (reference, study) in kept.items() for view in sorted(study.tracks)]
    fig, axes = plt.subplots(len(rows), n_frames, figsize=(2.6 * n_frames, 2.8 * len(rows)), squeeze=False)
    for row, (name, view, reference, study) in enumerate(rows):
        cine, ref_view = study.cines[view], reference["views"][view]
        tracked = study.tracks[view].points_px
        truth = np.asarray(ref_view["points_px"])
        errors = score_view(tracked, cine.times_s, ref_view)["point_errors_mm"]
        centre = np.median(truth.mean(1), axis=0)
        half = 35.0 / cine.pixel_spacing_mm[0]
        for col, t in enumerate(np.linspace(0, cine.n_frames - 1, n_frames).round().astype(int)):
            show_points(axes[row, col], cine.frames[t], tracked[t], centre, half,
                        f"{name} {view} f{t}: {errors[t].mean():.1f} mm", truth[t])
    fig.suptitle("real scans: reference points green circles; mvtrack first-named point red, second cyan "
                 "(70 mm wide windows around the reference valve; title: mean point error of the frame)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--no-sample", action="store_true", help="Leave out the MVnet sample rows.")
    parser.add_argument("--adapt", action="store_true", help="Add the configuration 'default + adapt' (stage 2 adapted "
                                                             "to each study's own frames; needs PyTorch).")
    parser.add_argument("--only-adapt", action="store_true", help="Run only 'default' and 'default + adapt'.")
    parser.add_argument("--adapt-seed", type=int, default=0)
    parser.add_argument("--adapt-tries", type=int, default=3, help="1: one seed's result, without the choice")
    parser.add_argument("--config", action="append", default=None, choices=[*CONFIGS, ADAPTED],
                        help="run only these configurations (repeatable)")
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet

    models = ModelSet(args.model)
    print(f"model {models.model_id}")
    configs = dict(CONFIGS)
    if args.adapt or args.only_adapt:
        from mvtrack.pipeline.adapt import AdaptConfig

        configs[ADAPTED] = (3, True, AdaptConfig(seed=args.adapt_seed, tries=args.adapt_tries))
    if args.only_adapt:
        configs = {name: configs[name] for name in ("default", ADAPTED)}
    if args.config:
        configs = {name: configs[name] for name in args.config if name in configs}
    rows, kept = reference_rows(models, configs)
    if not args.no_sample:
        sample, _ = sample_rows(models, configs)
        rows += sample
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    print("\n".join(rows))
    if args.figure:
        draw(kept, args.figure)


if __name__ == "__main__":
    main()
