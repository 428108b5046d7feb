"""Issue 13, lever 4: stage 1 inside a region of interest found from the cine's temporal variation.

The heart is what moves: the per-pixel SD over the cycle, smoothed (15 mm), peaks inside it. Stage 1
then sees a square of SIDE mm around that peak (resized to 160 x 160) instead of the whole frame, so
distant clutter (arms, bowel, liver) is out of its view. No training. Prints stage 1's median point
error (order-free: the 2CH stage 1 works in image order) on the 3T exam (reference points), the MVnet
sample (distance to the by-eye points at one frame) and synthetic test subjects, for the whole frame
and for several ROI sizes, and how far the ROI centre lies from the valve.

    .venv/bin/python experiments/stage1_roi/stage1_roi.py [--subjects 8]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from functools import partial
from importlib.resources import files
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # real_scans, real_sample
SIDES_MM = (None, 200, 240, 280, 320)  # None: the whole frame (the shipped stage 1)


def motion_peak_px(cine, sigma_mm: float = 15.0) -> np.ndarray:
    """(x, y) pixel where the smoothed per-pixel SD over the frames peaks."""
    from scipy import ndimage

    frames = cine.frames.astype(np.float32)
    variation = frames.std(0) / max(float(np.percentile(frames, 99)), 1e-6)
    smooth = ndimage.gaussian_filter(variation, sigma_mm / np.asarray(cine.pixel_spacing_mm))
    row, col = np.unravel_index(np.argmax(smooth), smooth.shape)
    return np.array([col, row], dtype=float)


def stage1_points(cine, models, side_mm: float | None) -> np.ndarray:
    """(T, 2, 2) stage-1 points in stored pixels, from the whole frame or an ROI of side_mm."""
    from scipy import ndimage

    from mvtrack.geometry.affine import apply_affine, scaling, translation, warp_frames
    from mvtrack.pipeline import track

    if side_mm is None:
        return track.stage1_points(cine, models)
    network = models.network(cine.view, 1)
    size = 160
    centre = motion_peak_px(cine)
    row_mm, col_mm = cine.pixel_spacing_mm
    to_roi = (translation(size / 2 - 0.5, size / 2 - 0.5) @ scaling(size * col_mm / side_mm, size * row_mm / side_mm)
              @ translation(-centre[0], -centre[1]))
    sigma = [0, 0.35 * max(side_mm / row_mm / size - 1, 0), 0.35 * max(side_mm / col_mm / size - 1, 0)]
    images = warp_frames(ndimage.gaussian_filter(cine.frames.astype(np.float32), sigma), to_roi, (size, size), order=3)
    return apply_affine(np.linalg.inv(to_roi), network.predict(images))


def order_free_errors_mm(points: np.ndarray, truth: np.ndarray, spacing) -> np.ndarray:
    """(T, 2) point errors with each frame's points paired the better way round."""
    from mvtrack.evaluate.points import point_errors_mm

    straight, swapped = point_errors_mm(points, truth, spacing), point_errors_mm(points[:, ::-1], truth, spacing)
    return np.where(straight.mean(1, keepdims=True) <= swapped.mean(1, keepdims=True), straight, swapped)


def load_yardsticks(n_subjects: int, busy: float = 0.0):
    """What stage 1 is scored on: the 3T exam's cines and reference, the MVnet sample's cines and
    synthetic test subjects (seed 9001, never trained on; ``busy``: their share of busy surroundings)."""
    from mvtrack.evaluate.reference import load_reference, reference_series_paths
    from mvtrack.io import read_cines
    from mvtrack.synth.generator import generate_subject

    folder = ROOT / "data" / "bivme-patient1"
    reference = load_reference(folder)
    real = {view: read_cines([path], view=view)[0] for view, path in reference_series_paths(folder, reference).items()}
    sample = {c.view: c for c in read_cines([Path(str(files("mvtrack") / "data" / "mvnet-sample"))])}
    subjects = [generate_subject(9001, i, busy_probability=busy) for i in range(n_subjects)]
    return real, reference, sample, subjects


def stage1_cells(predict, real, reference, sample, subjects) -> list[float]:
    """Stage 1's median point error (mm, order-free) with ``predict(cine) -> (T, 2, 2)`` on the 3T
    exam's views, at the by-eye frame of the MVnet sample's views, and on the synthetic subjects
    (median over subjects of their per-view medians)."""
    from real_sample import BY_EYE_FRAME, BY_EYE_PX

    cells = []
    for view, cine in real.items():
        truth = np.asarray(reference["views"][view]["points_px"], dtype=float)
        cells.append(np.median(order_free_errors_mm(predict(cine), truth, cine.pixel_spacing_mm)))
    for view, cine in sample.items():
        eye = np.array(BY_EYE_PX[view])[None]
        cells.append(order_free_errors_mm(predict(cine)[BY_EYE_FRAME][None], eye, cine.pixel_spacing_mm).mean())
    for view in ("2CH", "4CH"):
        cells.append(np.median([np.median(order_free_errors_mm(predict(s.views[view].cine), s.views[view].points_px,
                                                               s.views[view].cine.pixel_spacing_mm))
                                for s in subjects]))
    return cells


STAGE1_HEADER = "| 3T 2CH | 3T 4CH | MVnet 2CH (by eye) | MVnet 4CH (by eye) | synthetic 2CH | synthetic 4CH |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=8)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from mvtrack.models.store import ModelSet

    models = ModelSet()
    real, reference, sample, subjects = load_yardsticks(args.subjects)
    for view, cine in real.items():
        truth = np.asarray(reference["views"][view]["points_px"], dtype=float)
        off = np.linalg.norm((motion_peak_px(cine) - truth.mean(axis=(0, 1))) * np.asarray(cine.pixel_spacing_mm)[::-1])
        print(f"3T {view}: the ROI centre lies {off:.0f} mm from the mean MV centre")
    print("\n| stage-1 input " + STAGE1_HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|")
    for side in SIDES_MM:
        cells = stage1_cells(partial(stage1_points, models=models, side_mm=side), real, reference, sample, subjects)
        label = "whole frame (shipped)" if side is None else f"ROI {side} mm"
        print(f"| {label} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
