"""Cross-dataset table in the manner of the paper's Fig. 6: configurations x test-set families.

Rows: the passes the pipeline kept (stage 1 only, 1+2, 1+2+2, 1+2+2+2 with the default three
stage-2 passes). Columns: families of the fixed synthetic test set (seed 9001) that
differ in appearance or acquisition: all, low SNR, high SNR, zero-filled, mirrored display,
remodelled hearts (dilated or hypertrophied), atrial fibrillation. Cells: mean point error (mm) and
MAPSE ICC(A,1); written as two heatmaps and printed as tables.

    .venv/bin/python benchmarks/cross_dataset.py --from OUT   # OUT made by benchmarks/accuracy.py --out OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FAMILIES = {
    "all": lambda t: True,
    "SNR<25": lambda t: min(v["synthetic"]["snr"] for v in t["views"].values()) < 25,
    "SNR>=25": lambda t: min(v["synthetic"]["snr"] for v in t["views"].values()) >= 25,
    "zero-filled": lambda t: any(v["synthetic"]["acq_spacing_mm"][0] > 1.1 * v["synthetic"]["spacing_mm"][0]
                                 for v in t["views"].values()),
    "mirrored": lambda t: any(v["synthetic"]["mirrored"] for v in t["views"].values()),
    "remodelled": lambda t: any(v["synthetic"]["dilated"] or v["synthetic"]["hypertrophy"] for v in t["views"].values()),
    "AF": lambda t: t["synthetic"]["atrial_fibrillation"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="root", type=Path, required=True)
    args = parser.parse_args()
    from mvtrack.evaluate.study import evaluate, load_results, summarise

    truths = load_results(args.root / "truth", ("truth.json",))
    families = {name: {s for s, t in truths.items() if rule(t)} for name, rule in FAMILIES.items()}
    # One row per kept pass (stage 1, 1+2, ...), in the order the pipeline ran them.
    first = json.loads(next((args.root / "pred").glob("*/results.json")).read_text())
    rows = list(next(iter(first["views"].values()))["passes_px"])
    error = np.full((len(rows), len(families)), np.nan)
    icc = np.full_like(error, np.nan)
    for j, (family, studies) in enumerate(families.items()):
        if len(studies) < 3:
            continue
        summary = summarise(evaluate(args.root / "pred", args.root / "truth", stages=True, studies=studies))
        for i, stage in enumerate(rows):
            spatial = [summary["spatial"][f"{stage}/{v}"]["euclidean_mm"][0] for v in ("2CH", "4CH")
                       if f"{stage}/{v}" in summary["spatial"]]
            error[i, j] = np.mean(spatial)
            agreement = summary["clinical"][stage]["mapse_mm"]
            icc[i, j] = np.nan if agreement["icc"] is None else agreement["icc"]
    header = f"{'configuration':14s}" + "".join(f"{f'{k} (n={len(v)})':>18s}" for k, v in families.items())
    for title, table, fmt in (("mean point error (mm)", error, "{:18.2f}"), ("MAPSE ICC(A,1)", icc, "{:18.2f}")):
        print(f"\n{title}\n{header}")
        for i, row in enumerate(rows):
            print(f"{row:14s}" + "".join(fmt.format(v) for v in table[i]))
    _heatmaps(rows, list(families), error, icc, args.root / "cross_dataset.png")
    (args.root / "cross_dataset.json").write_text(json.dumps(
        {"rows": rows, "families": {k: sorted(v) for k, v in families.items()}, "error_mm": error.tolist(),
         "mapse_icc": icc.tolist()}, indent=1))
    print(f"\nwrote {args.root / 'cross_dataset.png'}")


def _heatmaps(rows, columns, error, icc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 3.2))
    for ax, table, title, cmap in ((axes[0], error, "mean point error (mm)", "viridis_r"),
                                   (axes[1], icc, "MAPSE ICC(A,1)", "viridis")):
        image = ax.imshow(table, cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        for (i, j), value in np.ndenumerate(table):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
