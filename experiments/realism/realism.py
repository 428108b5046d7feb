"""How far synthetic frames are from real ones: a small CNN learns to tell 64 x 64 patches apart.

Issue 13, lever 2, first step: the yardstick for a more realistic generator. Real patches come from the
built-in MVnet sample only (the 3T exam in data/ is the tracking measurement and is not used here);
synthetic ones from generated subjects. Every frame is resampled to 1.4 mm pixels and normalised by its
cine's median and interquartile range (as the networks see it); patches are cut at random places.

Two folds, split by real view (train on the real 2CH and half the synthetic subjects, test on the real
4CH and the other half; then the other way round). Prints the balanced test accuracy per fold (0.5 =
indistinguishable, 1.0 = always told apart) and, with --figure, draws where the classifier sees
"synthetic" on a held-out real and synthetic frame.

    .venv/bin/python experiments/realism/realism.py [--subjects 16] [--busy 1.0] [--figure experiments/realism/realism.png]
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

import numpy as np

PATCH = 64
SPACING_MM = 1.4


def normalised_frames(cine) -> np.ndarray:
    """(T, H', W') frames at SPACING_MM pixels, (x - median) / IQR of the whole cine."""
    from scipy import ndimage

    zoom = (1.0, cine.pixel_spacing_mm[0] / SPACING_MM, cine.pixel_spacing_mm[1] / SPACING_MM)
    frames = ndimage.zoom(cine.frames.astype(np.float32), zoom, order=1)
    q25, median, q75 = np.percentile(frames, [25, 50, 75])
    return (frames - median) / max(q75 - q25, 1e-6)


def random_patches(frames: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, PATCH, PATCH) patches at random frames and places."""
    t = rng.integers(0, len(frames), n)
    y = rng.integers(0, frames.shape[1] - PATCH + 1, n)
    x = rng.integers(0, frames.shape[2] - PATCH + 1, n)
    return np.stack([frames[a, b:b + PATCH, c:c + PATCH] for a, b, c in zip(t, y, x)]).astype(np.float32)


def small_cnn():
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, 1))


def train_classifier(real: np.ndarray, synthetic: np.ndarray, steps: int, seed: int):
    import torch

    torch.manual_seed(seed)
    model = small_cnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.from_numpy(np.concatenate([real, synthetic]))[:, None]
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(synthetic))])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, len(images), (64,), generator=generator)
        x = images[batch]
        if torch.rand(1, generator=generator) < 0.5:
            x = x.flip(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def p_synthetic(model, patches: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(patches)[:, None])[:, 0]).numpy()


def balanced_accuracy(model, real: np.ndarray, synthetic: np.ndarray) -> float:
    return 0.5 * (float((p_synthetic(model, real) < 0.5).mean()) + float((p_synthetic(model, synthetic) >= 0.5).mean()))


def probability_map(model, frame: np.ndarray, stride: int = 8) -> np.ndarray:
    """P(synthetic) of the patch around each point of a stride grid over one frame."""
    rows = range(0, frame.shape[0] - PATCH + 1, stride)
    cols = range(0, frame.shape[1] - PATCH + 1, stride)
    patches = np.stack([frame[r:r + PATCH, c:c + PATCH] for r in rows for c in cols]).astype(np.float32)
    return p_synthetic(model, patches).reshape(len(rows), len(cols))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--patches", type=int, default=1200, help="patches per class and fold side")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=9100, help="synthetic subjects' seed (not a training seed)")
    parser.add_argument("--busy", type=float, default=0.0,
                        help="share of synthetic views with busy surroundings (generator's busy_probability)")
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from mvtrack.io import read_cines
    from mvtrack.synth.generator import generate_subject

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    real = {c.view: normalised_frames(c) for c in read_cines([sample])}
    halves = [[], []]
    for index in range(args.subjects):
        subject = generate_subject(args.seed, index, busy_probability=args.busy)
        halves[index % 2] += [normalised_frames(v.cine) for v in subject.views.values()]

    def synthetic_patches(half: int) -> np.ndarray:
        per_cine = int(np.ceil(args.patches / len(halves[half])))
        return np.concatenate([random_patches(f, per_cine, rng) for f in halves[half]])[: args.patches]

    rows = []
    models = []
    for fold, (train_view, test_view) in enumerate((("2CH", "4CH"), ("4CH", "2CH"))):
        model = train_classifier(random_patches(real[train_view], args.patches, rng), synthetic_patches(fold),
                                 args.steps, seed=fold)
        accuracy = balanced_accuracy(model, random_patches(real[test_view], args.patches, rng), synthetic_patches(1 - fold))
        rows.append((train_view, test_view, accuracy))
        models.append(model)
    print(f"real: MVnet sample ({', '.join(f'{v} {len(f)} frames' for v, f in real.items())}); synthetic: "
          f"{args.subjects} subjects (seed {args.seed}, busy {args.busy:g}); {args.patches} patches of {PATCH} px at {SPACING_MM} mm per class\n")
    print("| fold | real view trained on | real view tested on | balanced test accuracy |")
    print("|---:|---|---|---:|")
    for fold, (train_view, test_view, accuracy) in enumerate(rows):
        print(f"| {fold + 1} | {train_view} | {test_view} | {accuracy:.3f} |")
    print(f"\nmean {np.mean([r[2] for r in rows]):.3f} (0.5: indistinguishable; 1.0: always told apart)")
    if args.figure:
        draw(models[0], real["4CH"][len(real["4CH"]) // 2], halves[1][0][len(halves[1][0]) // 2], args.figure)
        print(f"figure: {args.figure}")


def draw(model, real_frame: np.ndarray, synthetic_frame: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
    for axis, frame, title in zip(axes, (real_frame, synthetic_frame), ("real 4CH (held out)", "synthetic (held out)")):
        heat = probability_map(model, frame)
        axis.imshow(frame, cmap="gray", vmin=-2, vmax=3)
        extent = (PATCH / 2, PATCH / 2 + 8 * (heat.shape[1] - 1), PATCH / 2 + 8 * (heat.shape[0] - 1), PATCH / 2)
        shown = axis.imshow(heat, cmap="coolwarm", vmin=0, vmax=1, alpha=0.45, extent=extent)
        axis.set_title(f"{title}: mean P(synthetic) {heat.mean():.2f}", fontsize=9)
        axis.axis("off")
    fig.colorbar(shown, ax=axes, shrink=0.7, label="P(synthetic) of the 64 px patch centred there")
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
