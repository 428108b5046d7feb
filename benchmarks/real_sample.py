"""What the tracker does on the one real study we have (Siemens 2CH + 4CH, no annotations).

There is no ground truth for this study. The table gives what a reader checks by eye:
MAPSE / s' / e' / a' against normal adult ranges, per view the excursion of each point, the MV line
length, the QC flags, and the distance at one systolic frame (frame 8) from points a developer
placed by eye on the zoomed frame (uncertain by about 2-3 px = 4-5 mm; a sanity check of where the
points are, not a measurement of accuracy). With ``--figure`` it draws the points on six frames of
each view (docs/results/real-sample-frames.png).

    .venv/bin/python benchmarks/real_sample.py [--model DIR] [--figure PATH]
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

import numpy as np

#: Points placed by eye at frame 8 (mid-systole, valve shut), stored pixels (x, y), first-named first.
#: The 4CH pair was placed again on 2026-11-27 (0ab7e46) on a pixel grid of frame 8 zoomed to 42 x 40 px (the
#: lateral hinge where the dark lateral wall meets the LA, the septal one at the crux); the first pair,
#: (95, 114) / (90, 91), placed on a smaller view, sat on the AV-groove vessel and inside the LV.
BY_EYE_FRAME = 8
BY_EYE_PX = {"2CH": [(94.0, 90.0), (89.0, 113.0)], "4CH": [(95.0, 104.0), (82.0, 89.0)]}
NORMAL_RANGES = {"mapse_mm": (10, 18), "s_prime_cm_s": (5, 12), "e_prime_cm_s": (6, 16), "a_prime_cm_s": (4, 14)}


def show_points(ax, frame, points_px, centre_px, half_px, title: str, marked_px=None) -> None:
    """One zoomed frame: the tracked MV line (first-named point red, second cyan) and, if given,
    other points (reference or by eye) as green circles; a window of 2 * half_px around centre_px."""
    ax.imshow(frame, cmap="gray", vmin=np.percentile(frame, 1), vmax=np.percentile(frame, 99.5))
    if marked_px is not None:
        marked = np.asarray(marked_px)
        ax.plot(marked[:, 0], marked[:, 1], "o", mfc="none", mec="#40ff40", ms=8, mew=1.2)
    ax.plot(points_px[:, 0], points_px[:, 1], "-", color="#ffd400", lw=0.8)
    ax.plot(*points_px[0], "+", color="#ff3030", ms=9, mew=1.5)
    ax.plot(*points_px[1], "+", color="#30d0ff", ms=9, mew=1.5)
    ax.set_xlim(centre_px[0] - half_px, centre_px[0] + half_px)
    ax.set_ylim(centre_px[1] + half_px, centre_px[1] - half_px)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def draw(study, path: Path, frames=(0, 4, 8, 12, 16, 24)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = sorted(study.tracks)
    fig, axes = plt.subplots(len(views), len(frames), figsize=(3.0 * len(frames), 3.1 * len(views)), squeeze=False)
    for row, view in enumerate(views):
        cine, track = study.cines[view], study.tracks[view]
        centre = np.median(track.points_px.mean(1), axis=0)
        half = 40.0 / cine.pixel_spacing_mm[0]
        for col, t in enumerate(frames):
            show_points(axes[row, col], cine.frames[t], track.points_px[t], centre, half, f"{view} frame {t}",
                        BY_EYE_PX[view] if t == BY_EYE_FRAME else None)
    fig.suptitle("real sample: first-named point red (2CH anterior, 4CH lateral), second cyan; "
                 "green circles at frame 8: placed by eye", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    from mvtrack.geometry.standardise import points_to_mm
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.study import analyze_study

    study = analyze_study(Path(str(files("mvtrack") / "data" / "mvnet-sample")), models=ModelSet(args.model))
    result = study.result
    print(f"model {result['models']}")
    print(f"{'metric':16s} {'value':>8s}  normal adult range")
    for key, (low, high) in NORMAL_RANGES.items():
        value = result["metrics"].get(key)
        text = "   n/a" if value is None else f"{value:8.1f}"
        inside = "" if value is None else ("inside" if low <= value <= high else "OUTSIDE")
        print(f"{key:16s} {text}  {low}-{high} {inside}")
    print(f"\n{'view':5s} {'excursion pt1/pt2 (mm)':>24s} {'line length (mm)':>17s} "
          f"{'frame-8 distance to by-eye pt1/pt2 (mm)':>40s}")
    for view, track in sorted(study.tracks.items()):
        cine = study.cines[view]
        points_mm = points_to_mm(track.points_px, cine.pixel_spacing_mm)
        excursion = np.linalg.norm(points_mm - points_mm[:1], axis=-1).max(0)
        length = np.linalg.norm(points_mm[:, 1] - points_mm[:, 0], axis=-1)
        eye = np.linalg.norm(points_to_mm(track.points_px[BY_EYE_FRAME] - np.array(BY_EYE_PX[view]),
                                          cine.pixel_spacing_mm), axis=-1)
        print(f"{view:5s} {excursion[0]:11.1f} / {excursion[1]:<10.1f} {np.median(length):11.1f} "
              f"(range {length.min():.0f}-{length.max():.0f}) {eye[0]:13.1f} / {eye[1]:<.1f}")
    flags = result["qc"]["reasons"]
    print(f"\nQC flags: {flags if flags else 'none'}")
    if args.figure:
        draw(study, args.figure)


if __name__ == "__main__":
    main()
