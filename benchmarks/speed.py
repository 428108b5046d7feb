"""Seconds per patient (both views, DICOM to results.json) and per stage, peak memory.

Runs in one process with 2 ONNX Runtime threads on the real sample (two 30-frame cines): the
paper's 1+2+2, the default 1+2+2+2 without and with the start search (which the real 4CH needs);
DICOM reading alone is timed as the floor. The per-stage columns time stage 1 and the stage-2
passes from the stage-1 points, without the search.

    .venv/bin/python benchmarks/speed.py [--repeats 5] [--model DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from mvtrack.io import read_cines
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.study import analyze_study
    from mvtrack.geometry.affine import spline_coefficients
    from mvtrack.pipeline.track import stage1_points, stage2_passes_from
    from mvtrack.results import write_result

    real = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    models = ModelSet(args.model, threads=args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, study, passes, search in [("real sample, 1+2+2 (paper)", real, 2, False),
                                             ("real sample, 1+2+2+2, no search", real, 3, False),
                                             ("real sample, 1+2+2+2 (default)", real, 3, True)]:
            read_times, total_times, stage_times = [], [], {"stage 1": [], f"stage 2 (x{passes}, with confidence)": []}
            analyze_study(study, models=models, stage2_passes=passes, search=search)  # warm-up: loads the networks
            for _ in range(args.repeats):
                start = time.perf_counter()
                cines = read_cines(study)
                read_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = analyze_study(study, models=models, stage2_passes=passes, search=search)
                write_result(result.result, Path(tmp) / "results.json")
                total_times.append(time.perf_counter() - start)
                for cine in cines:
                    t0 = time.perf_counter()
                    points = stage1_points(cine, models)
                    t1 = time.perf_counter()
                    stage2_passes_from(cine, models, points, passes, True, spline_coefficients(cine.frames))
                    t2 = time.perf_counter()
                    stage_times["stage 1"].append(t1 - t0)
                    stage_times[f"stage 2 (x{passes}, with confidence)"].append(t2 - t1)
            rows.append((label, np.median(read_times), np.median(total_times),
                         {k: 2 * np.median(v) for k, v in stage_times.items()}))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {models.model_id}, ONNX Runtime threads={args.threads}, median of {args.repeats} runs")
    print(f"{'study':34s} {'DICOM read (s)':>15s} {'total (s)':>10s} {'x read':>7s}  per stage (both views)")
    for label, read, total, stages in rows:
        per_stage = ", ".join(f"{k} {v:.3f} s" for k, v in stages.items())
        print(f"{label:34s} {read:15.3f} {total:10.3f} {total / read:7.1f}  {per_stage}")
    print(f"peak resident memory of the process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
