"""What does stage 2 read where it goes wrong on the real 4CH? (issue 13 diagnostic, occlusion)

The real exam's 4CH is tracked with the shipped model; on the last pass's standardised crops a patch
(``--patch`` pixels of 0.75 mm) set to the crop's median slides over the image (step ``--step``),
and stage 2 (the PyTorch weights of a network of the view's stage 2, v3's by default) is run on every
occluded crop. Per frame and point: how far the point moves at most (mm) when a patch is hidden, the
share of that move along the MV-line normal (+ = toward the apex), and where that patch lies
(distance from the point and from the reference point, mm). A point that reads the hinge itself
moves most for a patch on it; one that reads a structure elsewhere moves for that structure.

    .venv/bin/python experiments/occlusion_real/occlusion_real.py [--frames 5 19 21] [--weights PT] [--figure PNG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # real_scans, real_sample


def occluded_points(model, crop: np.ndarray, patch: int, step: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(points of the plain crop (2, 2), points of each occluded crop (N, 2, 2), patch corners [(row, col)]),
    stage pixels (x, y)."""
    import torch

    from mvtrack.models.preprocess import normalise_images, targets_to_points

    height, width = crop.shape
    fill = float(np.median(crop))
    corners = [(r, c) for r in range(0, height - patch + 1, step) for c in range(0, width - patch + 1, step)]
    images = [crop]
    for r, c in corners:
        hidden = crop.copy()
        hidden[r:r + patch, c:c + patch] = fill
        images.append(hidden)
    with torch.no_grad():
        out = model(torch.from_numpy(normalise_images(np.stack(images)))[:, None]).numpy()
    points = targets_to_points(out, (height, width))
    return points[0], points[1:], corners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[5, 19, 21])
    parser.add_argument("--weights", type=Path, default=None, help="a stage-2 .pt (default: the shipped 4CH stage 2's)")
    parser.add_argument("--patch", type=int, default=12)
    parser.add_argument("--step", type=int, default=6)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    import torch
    from real_scans import run_reference_study

    from mvtrack.evaluate.points import align_point_order
    from mvtrack.geometry.standardise import STANDARD_SPACING_MM as mm
    from mvtrack.models.export import load_checkpoint, network_from_checkpoint
    from mvtrack.models.store import ModelSet

    torch.set_num_threads(2)
    models = ModelSet()
    _, model = network_from_checkpoint(load_checkpoint(args.weights or models.weights_file("4CH", 2)))
    reference, study, _ = run_reference_study(REPO / "data" / "bivme-patient1", models, 3, True)
    cine, track = study.cines["4CH"], study.tracks["4CH"]
    std = track.standardisations[-1]
    reference_px, _ = align_point_order(np.asarray(reference["views"]["4CH"]["points_px"], dtype=float), track.passes[-1])
    crops = std.warp(cine.frames)
    print(f"model {models.model_id}; network {args.weights or 'shipped 4CH stage 2'}; patch {args.patch} px "
          f"({args.patch * mm:.0f} mm), step {args.step} px")
    print("| frame | point (x of the crop) | error of the plain crop's point (mm) | largest move (mm) | of it toward the apex (mm) "
          "| patch centre from the point / from the reference (mm) |")
    print("|---|---|---|---|---|---|")
    shown = []
    for frame in args.frames:
        plain, hidden, corners = occluded_points(model, crops[frame], args.patch, args.step)
        ref = std.to_standard(reference_px[frame])
        pairs = [(k, int(np.argmin(np.linalg.norm(ref - plain[k], axis=1)))) for k in range(2)]
        moves = hidden - plain
        shown.append((frame, plain, ref, moves, corners))
        for k, j in pairs:
            size = np.linalg.norm(moves[:, k], axis=1)
            best = int(np.argmax(size))
            centre = np.array(corners[best][::-1]) + args.patch / 2  # (x, y)
            print(f"| {frame} | {plain[k, 0]:.0f} | {np.linalg.norm(plain[k] - ref[j]) * mm:.1f} | {size[best] * mm:.1f} "
                  f"| {moves[best, k, 1] * mm:+.1f} | {np.linalg.norm(centre - plain[k]) * mm:.0f} / "
                  f"{np.linalg.norm(centre - ref[j]) * mm:.0f} |")
    if args.figure:
        draw(crops, shown, args.patch, args.figure)


def draw(crops, shown, patch: int, path: Path) -> None:
    import matplotlib

    from mvtrack.geometry.standardise import STANDARD_SPACING_MM

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(shown), figsize=(5 * len(shown), 6.5), squeeze=False)
    height, width = crops.shape[1:]
    for column, (frame, plain, ref, moves, corners) in enumerate(shown):
        left = int(np.argmin(plain[:, 0]))
        shift, count = np.zeros((height, width)), np.zeros((height, width))
        for (r, c), move in zip(corners, moves[:, left, 1]):
            shift[r:r + patch, c:c + patch] += move * STANDARD_SPACING_MM
            count[r:r + patch, c:c + patch] += 1
        axes[0, column].imshow(crops[frame], cmap="gray")
        axes[1, column].imshow(shift / np.maximum(count, 1), cmap="bwr", vmin=-6, vmax=6)
        for ax in axes[:, column]:
            ax.plot(*ref.T, "g+", ms=12, mew=2)
            ax.plot(*plain.T, "x", color="r" if ax is axes[0, column] else "k", ms=10, mew=2)
            ax.axis("off")
        axes[0, column].set_title(f"frame {frame}: stage 2 (x), reference (+)")
        axes[1, column].set_title("left point's move toward the apex when hidden (mm)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
