"""Point error (mm) after stage 1, 1+2 and 1+2+2 on 20 synthetic test subjects the model never saw.

A shorter view of benchmarks/accuracy.py (same test seed), for the model card.

    .venv/bin/python benchmarks/model_accuracy.py [--subjects 20] [--model DIR] [--relaxed-base P] [--hinge-look P] [--dark-wall P] [--dark-groove P] [--diastolic-groove P] [--diastolic-wall P]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accuracy import add_variant_flags, generator_options, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--model", type=Path, default=None)
    add_variant_flags(parser)
    args = parser.parse_args()
    summary = run(args.subjects, args.model, None, generator_options=generator_options(args))
    print(f"{'stage':12s} {'view':5s} {'Euclidean mm':>14s} {'angle deg':>12s} {'displacement mm':>16s}")
    for key, row in sorted(summary["spatial"].items()):
        stage, view = key.split("/")
        print(f"{stage:12s} {view:5s} {row['euclidean_mm'][0]:7.2f} ± {row['euclidean_mm'][1]:4.2f} "
              f"{row['angle_deg'][0]:6.2f} ± {row['angle_deg'][1]:4.2f} "
              f"{row['displacement_mm'][0]:8.2f} ± {row['displacement_mm'][1]:4.2f}")


if __name__ == "__main__":
    main()
