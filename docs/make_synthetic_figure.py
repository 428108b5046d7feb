"""Draw docs/synthetic-vs-real.png: the real sample (ED and ES, both views) beside synthetic frames.

Run: .venv/bin/python docs/make_synthetic_figure.py
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mvtrack.io import read_cines
from mvtrack.synth.generator import generate_subject


def _show(ax, frame, title, points=None):
    lo, hi = np.percentile(frame, [1, 99.5])
    ax.imshow(frame, cmap="gray", vmin=lo, vmax=hi)
    if points is not None:
        ax.plot(points[:, 0], points[:, 1], "o", ms=3, mfc="none", mec="#ff3030", mew=0.8)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def main(out: Path = Path(__file__).parent / "synthetic-vs-real.png", n_synthetic: int = 3, seed: int = 7) -> None:
    real = {c.view: c for c in read_cines(Path(str(files("mvtrack") / "data" / "mvnet-sample")))}
    subjects = [generate_subject(seed, i) for i in range(n_synthetic)]
    fig, axes = plt.subplots(4, 1 + n_synthetic, figsize=(2.6 * (1 + n_synthetic), 10.5))
    for row, (view, phase) in enumerate([("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES")]):
        cine = real[view]
        es_real = 10  # by eye: the frame of smallest LV in the real sample (~0.45 s)
        _show(axes[row, 0], cine.frames[0 if phase == "ED" else es_real], f"REAL {view} {phase}")
        for col, subject in enumerate(subjects, start=1):
            synth = subject.views[view]
            t_es = subject.motion.end_systole_s
            index = 0 if phase == "ED" else int(np.argmin(np.abs(synth.cine.times_s - t_es)))
            _show(axes[row, col], synth.cine.frames[index],
                  f"synthetic {view} {phase} ({synth.vendor.split()[0]})", synth.points_px[index])
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:2]))
