"""Cost of the critic QC check: the analysis of the built-in sample (no start search) with and without it,
alternating in one process, median of 3 (2 ONNX Runtime threads).

    .venv/bin/python benchmarks/critic_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from importlib.resources import files
from pathlib import Path

import numpy as np


class WithoutCritics:
    """The same model set with no critic (the check skipped)."""

    def __init__(self, models):
        self.models = models

    def __getattr__(self, name):
        return getattr(self.models, name)

    def critic(self, view: str):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.study import analyze_study

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    models = ModelSet(threads=2)
    configurations = {"with the critic check": models, "without": WithoutCritics(models)}
    analyze_study(sample, models=models, search=False)  # load every network once
    seconds = {name: [] for name in configurations}
    for _ in range(args.repeats):
        for name, chosen in configurations.items():
            start = time.perf_counter()
            analyze_study(sample, models=chosen, search=False)
            seconds[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(values)) for name, values in seconds.items()}
    print("| analysis of the sample, no search | seconds (median) |\n|---|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.3f} |")
    print(f"\nwith / without: {medians['with the critic check'] / medians['without']:.2f}")


if __name__ == "__main__":
    main()
