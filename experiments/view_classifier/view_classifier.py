"""Can the image alone tell the view? A small CNN trained on synthetic 2CH, 3CH, 4CH and short-axis cines.

Issue 17, part 1 (the image side of view recognition; the plane geometry side is
``benchmarks/view_recognition.py``). Training: whole frames of synthetic cines of the four kinds
(long-axis views from ``mvtrack.synth.generator``, short-axis slices from
``mvtrack.synth.short_axis``), resized as stage 1 resizes them (160 x 160) and normalised as the
networks see them, turned and mirrored at random (any display orientation). The cine's view is the
mean of its frames' class probabilities. Measured on held-out synthetic cines (another seed) and on
every series of the real exams at hand; the RV and RVOT views of the 3T exam belong to none of the
four classes and show what the classifier does with a view it was not taught.

    .venv/bin/python experiments/view_classifier/view_classifier.py [--subjects 120] [--minutes 8] [--appearance] [--save DIR]
"""

from __future__ import annotations

import argparse
import time
import warnings
from importlib.resources import files
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("2CH", "3CH", "4CH", "SAX")
FRAMES_PER_CINE = 6
SIZE = 160


def frames_of(cine, rng: np.random.Generator, n: int = FRAMES_PER_CINE) -> np.ndarray:
    """(n, SIZE, SIZE) frames of a cine at random times, resized as stage 1 does."""
    from mvtrack.geometry import Stage1Map

    picked = np.sort(rng.choice(cine.n_frames, min(n, cine.n_frames), replace=False))
    return Stage1Map(cine.shape).resize(cine.frames[picked]).astype(np.float32)


def synthetic_set(n_subjects: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images and class indices of n subjects' 2CH, 3CH, 4CH and one short-axis cine each."""
    from mvtrack.synth.generator import generate_subject
    from mvtrack.synth.short_axis import render_short_axis

    images, labels = [], []
    for index in range(n_subjects):
        rng = np.random.default_rng([seed, index, 31])
        cines = list(generate_subject(seed, index, ("2CH", "4CH", "3CH")).views.values())
        cines = [v.cine for v in cines] + [render_short_axis(np.random.default_rng([seed, index, 32]))]
        for cine in cines:
            picked = frames_of(cine, rng)
            images.append(picked)
            labels += [CLASSES.index(cine.view)] * len(picked)
    return np.concatenate(images), np.array(labels)


def build_classifier(width: int = 16):
    from monai.networks.nets import ResNet

    return ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=[width, 2 * width, 4 * width, 8 * width],
                  spatial_dims=2, n_input_channels=1, conv1_t_size=7, conv1_t_stride=2, num_classes=len(CLASSES))


def train(images: np.ndarray, labels: np.ndarray, minutes: float, seed: int = 0, threads: int = 2,
          appearance: bool = False):
    import torch

    from mvtrack.models.preprocess import normalise_images
    from mvtrack.train.augment import AugmentConfig, augment

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    network = build_classifier()
    optimiser = torch.optim.AdamW(network.parameters(), lr=1e-3, weight_decay=1e-4)
    config = AugmentConfig(scale=0.25, rotation_deg=180.0, translation_px=12.0, right_angle_probability=1.0,
                           gin_probability=0.3 if appearance else 0.0, bigaug_probability=0.5 if appearance else 0.0)
    dummy = np.zeros((2, 2))
    start, step = time.perf_counter(), 0
    network.train()
    while time.perf_counter() - start < minutes * 60:
        batch = rng.choice(len(images), 16)
        x = np.stack([augment(images[i], dummy, config, rng)[0] for i in batch])
        x = torch.from_numpy(normalise_images(x)[:, None])
        loss = torch.nn.functional.cross_entropy(network(x), torch.from_numpy(labels[batch]), label_smoothing=0.05)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    network.eval()
    return network


def cine_probabilities(network, frames: np.ndarray) -> np.ndarray:
    """(len(CLASSES),) mean class probability over a cine's (N, SIZE, SIZE) frames."""
    import torch

    from mvtrack.models.preprocess import normalise_images

    with torch.no_grad():
        logits = network(torch.from_numpy(normalise_images(frames.astype(np.float32))[:, None]))
    return torch.softmax(logits, 1).mean(0).numpy()


def confusion_table(truth: list[str], predicted: list[str], rows=CLASSES) -> str:
    lines = ["| true \\ recognised | " + " | ".join(CLASSES) + " |", "|---|" + "---:|" * len(CLASSES)]
    for row in rows:
        counts = [sum(t == row and p == c for t, p in zip(truth, predicted)) for c in CLASSES]
        lines.append(f"| {row} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def real_series():
    """(exam, series name, what it is, cine) of every series of the real exams at hand."""
    from mvtrack.io import read_cines
    from mvtrack.pipeline.exam import series_name

    truth_3t = {"Se6": "4CH", "Se7": "3CH", "Se8": "2CH", "Se9": "RV 2-chamber", "Se10": "RVOT"}
    out = []
    for cine in read_cines([ROOT / "data" / "bivme-patient1" / "dicom"]):
        name = series_name(cine)
        tag = name[name.rfind("[") + 1:-1]
        out.append(("bivme-patient1", name, truth_3t.get(tag, "SAX"), cine))
    for cine in read_cines([Path(str(files("mvtrack") / "data" / "mvnet-sample"))]):
        out.append(("mvnet-sample", series_name(cine), cine.view, cine))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=120)
    parser.add_argument("--test-subjects", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--appearance", action="store_true", help="GIN and BigAug-like appearance randomisation")
    parser.add_argument("--cache", type=Path, default=None, help="keep the training frames in this .npz")
    parser.add_argument("--save", type=Path, default=None, help="save the trained network (state dict) here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    started = time.perf_counter()
    if args.cache and args.cache.exists():
        with np.load(args.cache) as data:
            images, labels = data["images"], data["labels"]
    else:
        images, labels = synthetic_set(args.subjects, seed=8100)
        if args.cache:
            np.savez(args.cache, images=images.astype(np.float16), labels=labels)
    print(f"training set: {len(images)} frames of {args.subjects} subjects x 4 cines ({time.perf_counter() - started:.0f} s)")
    network = train(images, labels, args.minutes, threads=args.threads, appearance=args.appearance)
    if args.save:
        import torch

        args.save.mkdir(parents=True, exist_ok=True)
        torch.save(network.state_dict(), args.save / "view_classifier.pt")

    from mvtrack.synth.generator import generate_subject
    from mvtrack.synth.short_axis import render_short_axis

    truth, predicted, confidence = [], [], []
    for index in range(args.test_subjects):
        rng = np.random.default_rng([9200, index, 31])
        cines = [v.cine for v in generate_subject(9200, index, ("2CH", "4CH", "3CH")).views.values()]
        cines.append(render_short_axis(np.random.default_rng([9200, index, 32])))
        for cine in cines:
            p = cine_probabilities(network, frames_of(cine, rng, 10))
            truth.append(cine.view)
            predicted.append(CLASSES[int(p.argmax())])
            confidence.append(float(p.max()))
    right = np.mean([t == p for t, p in zip(truth, predicted)])
    print(f"\n## Held-out synthetic cines (seed 9200, {args.test_subjects} subjects x 4): {right:.0%} right\n")
    print(confusion_table(truth, predicted))

    print("\n## Every real series at hand\n")
    print("| exam | series | what it is | recognised | probability | " + " | ".join(f"P({c})" for c in CLASSES) + " |")
    print("|---|---|---|---|---:|" + "---:|" * len(CLASSES))
    rng = np.random.default_rng(0)
    for exam, name, what, cine in real_series():
        p = cine_probabilities(network, frames_of(cine, rng, 10))
        print(f"| {exam} | {name} | {what} | {CLASSES[int(p.argmax())]} | {p.max():.2f} | "
              + " | ".join(f"{v:.2f}" for v in p) + " |")


if __name__ == "__main__":
    main()
