"""Speed per study and per cohort: the per-stage split, the outputs, the CLI end to end, batch throughput.

1. In one process, ONNX Runtime with --threads threads, the real built-in sample (two 30-frame
   cines): DICOM reading (the floor every ratio is against), stage 1, the stage-2 passes, and the whole
   analysis for the paper's 1+2+2, the default 1+2+2+2 without and with the start search (which the
   real 4CH needs); then the outputs (results, curves, MP4 movies; and with GIFs too).
2. The CLI end to end on the sample (a fresh process: imports, model loading, analysis, outputs).
3. Batch throughput of `mvtrack analyze --workers 1` and `--workers 2` on --studies synthetic DICOM
   studies, and the peak resident memory of the largest process.

    .venv/bin/python benchmarks/speed.py [--repeats 3] [--studies 6] [--model DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _cli(args: list[str]) -> float:
    """Seconds of one `mvtrack ...` run in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mvtrack", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def in_process(models, sample: Path, repeats: int) -> None:
    from mvtrack.geometry.affine import spline_coefficients
    from mvtrack.io import read_cines
    from mvtrack.pipeline.batch import write_study_outputs
    from mvtrack.pipeline.study import analyze_study
    from mvtrack.pipeline.track import stage1_points, stage2_passes_from

    analyze_study(sample, models=models)  # warm-up: loads the networks
    read_s = _median_seconds(lambda: read_cines(sample), repeats)
    cines = read_cines(sample)
    stage1_s = _median_seconds(lambda: [stage1_points(c, models) for c in cines], repeats)
    starts = [stage1_points(c, models) for c in cines]
    stage2_s = _median_seconds(lambda: [stage2_passes_from(c, models, s, 3, True, spline_coefficients(c.frames))
                                        for c, s in zip(cines, starts)], repeats)
    print(f"## In one process (real sample, both views; median of {repeats})\n")
    print("| part | seconds | x DICOM read |")
    print("|---|---:|---:|")
    print(f"| DICOM read | {read_s:.3f} | 1.0 |")
    print(f"| stage 1 | {stage1_s:.3f} | {stage1_s / read_s:.1f} |")
    print(f"| stage 2, 3 passes with test-time shifts | {stage2_s:.3f} | {stage2_s / read_s:.1f} |")
    results = {}
    for label, passes, search in (("analysis, 1+2+2 (paper)", 2, False), ("analysis, 1+2+2+2, no search", 3, False),
                                  ("analysis, 1+2+2+2 (default: with the start search)", 3, True)):
        seconds = _median_seconds(lambda: results.setdefault(label, analyze_study(
            sample, models=models, stage2_passes=passes, search=search)), repeats)
        print(f"| {label} | {seconds:.3f} | {seconds / read_s:.1f} |")
    default = results["analysis, 1+2+2+2 (default: with the start search)"]
    for label, movies in (("outputs: results, curves, MP4 movies (default)", ("mp4",)),
                          ("outputs with GIF movies too (--gif)", ("mp4", "gif"))):
        def write():
            with tempfile.TemporaryDirectory() as out:
                write_study_outputs(default, Path(out), movies)
        write()  # warm-up: matplotlib and the encoder
        seconds = _median_seconds(write, repeats)
        print(f"| {label} | {seconds:.3f} | {seconds / read_s:.1f} |")


def end_to_end(sample: Path, repeats: int, model: list[str]) -> None:
    with tempfile.TemporaryDirectory() as out:
        seconds = [_cli(["analyze", str(sample), "--out", out, "--force", *model]) for _ in range(repeats)]
        bare = [_cli(["--help"]) for _ in range(repeats)]
    print(f"\n## The CLI, a fresh process per run (median of {repeats})\n")
    print(f"`mvtrack analyze` on the sample, defaults: {np.median(seconds):.2f} s per study "
          f"(of which {np.median(bare):.2f} s is starting Python and the CLI)")


def throughput(n_studies: int, model: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        studies = Path(tmp) / "studies"
        subprocess.run([sys.executable, "-m", "mvtrack", "synth", str(studies), "--subjects", str(n_studies),
                        "--seed", "4242"], check=True, capture_output=True)
        rows = []
        for workers in (1, 2):
            out = Path(tmp) / f"out{workers}"
            seconds = _cli(["analyze", str(studies), "--out", str(out), "--batch", *model, "--workers", str(workers)])
            rows.append((workers, seconds))
            shutil.rmtree(out)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n## Batch throughput ({n_studies} synthetic DICOM studies, the CLI with defaults)\n")
    print("| workers | seconds | studies per minute | x 1 worker |")
    print("|---:|---:|---:|---:|")
    for workers, seconds in rows:
        print(f"| {workers} | {seconds:.1f} | {60 * n_studies / seconds:.1f} | {rows[0][1] / seconds:.2f} |")
    print(f"\npeak resident memory of the largest process (a worker or the CLI): {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    models = ModelSet(args.model, threads=args.threads)
    model = ["--model", str(args.model)] if args.model else []
    print(f"model {models.model_id}; ONNX Runtime threads {args.threads}\n")
    in_process(models, sample, args.repeats)
    end_to_end(sample, args.repeats, model)
    throughput(args.studies, model)


if __name__ == "__main__":
    main()
