"""Cost of the second-opinion QC check (a critic network, or an ensemble stage 2's networks run
separately) and of the model itself: the analysis of the built-in sample (no start search) with and
without the check, and with another model folder (``--baseline``, e.g. the previous model), alternating
in one process, median of 3 (2 ONNX Runtime threads).

    .venv/bin/python experiments/critic_speed/critic_speed.py [--repeats 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import time
from importlib.resources import files
from pathlib import Path

import numpy as np


class WithoutCritics:
    """The same model set, the same points, without the second opinion: no critic, and an ensemble
    stage 2 that does not show its members."""

    def __init__(self, models):
        self.models = models

    def __getattr__(self, name):
        return getattr(self.models, name)

    def critic(self, view: str):
        return None

    def network(self, view: str, stage: int):
        network = self.models.network(view, stage)
        return _Opaque(network) if hasattr(network, "members") else network


class _Opaque:
    """A network's predictions, without its members."""

    def __init__(self, network):
        self.predict, self.input_shape = network.predict, network.input_shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another model folder to time alongside")
    args = parser.parse_args()

    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.study import analyze_study

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    models = ModelSet(threads=2)
    configurations = {f"{models.model_id}, with the check": models, f"{models.model_id}, without": WithoutCritics(models)}
    if args.baseline:
        baseline = ModelSet(args.baseline, threads=2)
        configurations[f"{baseline.model_id} ({args.baseline}), with its check"] = baseline
    for chosen in configurations.values():
        analyze_study(sample, models=chosen, search=False)  # load every network once
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
    first = next(iter(medians.values()))
    print()
    for name, value in medians.items():
        print(f"{name}: x{value / first:.2f} of the first row")


if __name__ == "__main__":
    main()
