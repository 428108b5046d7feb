"""Experiment (issue 13, lever 3 inside the network): a stage 2 that sees the motion around each frame.

The shipped stage 2 reads one frame of the standardised cine at a time. On the real 3T 4CH it locks,
in diastole and at end-systole, onto a static corner of the left atrium 8-17 mm from the hinge, where
the true hinge is the end of a wall that moves. Here stage 2 sees three frames of the standardised
cine as three channels: the frame itself and the frames ``CONTEXT_S`` before and after it (cyclic,
at least one frame away), so that where the image moves can tell it where the hinge is. It starts from
the shipped network (the middle channel gets its first convolution, the others zeros, so it starts
exactly as the shipped network) and is fine-tuned on new synthetic subjects with the shipped data mix.

    python experiments/temporal_context/temporal_context.py RUN --view 4CH [--subjects 160] [--minutes 40]
    python experiments/temporal_context/temporal_context.py RUN --view 4CH --evaluate   (real exam + 20 synthetic test subjects)
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CONTEXT_S = 0.08  # seconds before and after the frame (about 2 frames of a 25-30 frame cine)
TRAIN_SEED = 7300  # synthetic subjects for this experiment (v3: 3000; tests 9001; calibration 9700; anchor 9500)
TEST_SEED = 9001


def context_indices(times_s: np.ndarray, rr_s: float, offset_s: float = CONTEXT_S) -> np.ndarray:
    """(T,) frame times -> (T, 3) frame indices: the frame before, the frame itself, the frame after
    (``offset_s`` 0: the frame itself three times, the control without motion)."""
    if offset_s == 0:
        return np.repeat(np.arange(len(times_s))[:, None], 3, axis=1)
    times = np.asarray(times_s, dtype=float)
    n = len(times)
    interval = rr_s / n if n else 1.0
    step = max(1, int(round(offset_s / interval)))
    index = np.arange(n)
    return np.stack([(index - step) % n, index, (index + step) % n], axis=1)


def _subject_samples(job):
    from mvtrack.geometry import standardisation_from_points
    from mvtrack.synth.generator import generate_subject
    from mvtrack.train.data import PerturbationConfig, perturb_points

    seed, index, view, options, offset_s = job
    subject = generate_subject(seed, index, ("2CH", "4CH"), **options)
    synthetic = subject.views[view]
    cine, truth = synthetic.cine, synthetic.points_px
    rng = np.random.default_rng([seed, index, 99])
    scale = max(float(np.percentile(cine.frames, 99.5)), 1e-6)
    out = []
    for _ in range(2):
        noisy = perturb_points(truth, cine.pixel_spacing_mm, PerturbationConfig(), rng)
        try:
            std = standardisation_from_points(noisy, cine.pixel_spacing_mm)
        except ValueError:
            continue
        out.append(((std.warp(cine.frames) / scale).astype(np.float16), std.to_standard(truth).astype(np.float32),
                    context_indices(cine.times_s, cine.rr_s, offset_s)))
    return out


def build_samples(n_subjects: int, seed: int, view: str, options: dict, offset_s: float = CONTEXT_S) -> list:
    jobs = [(seed, i, view, options, offset_s) for i in range(n_subjects)]
    with ProcessPoolExecutor(2) as pool:
        return [cine for result in pool.map(_subject_samples, jobs, chunksize=4) for cine in result]


def expanded_state(state: dict) -> dict:
    """A one-channel network's weights for three input channels: the first convolution's kernel on the
    middle channel, zeros on the others (the network starts as the one-channel one)."""
    state = dict(state)
    key = next(k for k in state if k.endswith("conv1.weight") and state[k].shape[1] == 1)
    import torch

    kernel = state[key]
    state[key] = torch.cat([torch.zeros_like(kernel), kernel, torch.zeros_like(kernel)], dim=1)
    return state


def build(view: str):
    from monai.networks.nets import ResNet

    from mvtrack.models import network as net

    config = net.NetworkConfig(view=view, stage=2, depth=10, width=32, max_width=128, head="softargmax")
    original = ResNet.__init__

    def three_channels(self, *args, **kwargs):  # the experiment's only change to the architecture
        kwargs["n_input_channels"] = 3
        original(self, *args, **kwargs)

    ResNet.__init__ = three_channels
    try:
        return config, net.build_network(config)
    finally:
        ResNet.__init__ = original


def triplet_batch(cines, picks, rng, augment_config, training: bool):
    from mvtrack.geometry.affine import apply_affine, warp_frames
    from mvtrack.models.preprocess import normalise_images, points_to_targets
    from mvtrack.train.augment import random_affine, randomise_appearance

    images, points = [], []
    for cine_index, frame in picks:
        stack, truth, context = cines[cine_index]
        image = stack[context[frame]].astype(np.float32)  # (3, H, W)
        pts = truth[frame]
        if training:
            matrix = random_affine(image.shape[1:], augment_config, rng)
            image = warp_frames(image, matrix, image.shape[1:], order=1)
            low, span = float(image.min()), max(float(image.max() - image.min()), 1e-6)
            image = low + span * ((image - low) / span) ** np.exp(rng.uniform(-augment_config.intensity_gamma,
                                                                            augment_config.intensity_gamma))
            image = image + rng.normal(0, augment_config.noise * float(np.percentile(image, 99)), image.shape)
            if augment_config.gin_probability > 0 or augment_config.bigaug_probability > 0:
                state = rng.bit_generator.state  # one random look for the three frames
                channels = []
                for channel in image:
                    rng.bit_generator.state = state
                    channels.append(randomise_appearance(channel, augment_config, rng))
                image = np.stack(channels)
            pts = apply_affine(matrix, pts)
        images.append(image.astype(np.float32))
        points.append(pts)
    images = np.stack(images)
    n, c, h, w = images.shape
    images = normalise_images(images.reshape(n * c, h, w)).reshape(n, c, h, w)
    return images, points_to_targets(np.stack(points), (h, w))


def train(args) -> None:
    import torch

    from mvtrack.models.export import load_checkpoint
    from mvtrack.models.store import shipped_model_dir
    from mvtrack.train.run import augment_config_for

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cines = build_samples(args.subjects, TRAIN_SEED, args.view, {"random_contrast_probability": 0.15}, args.context_s)
    print(f"{len(cines)} standardised cines in {time.perf_counter() - t0:.0f} s", flush=True)
    order = np.random.default_rng(0).permutation(len(cines))
    n_val = max(4, len(cines) // 10)
    val, tr = order[:n_val], order[n_val:]
    config, model = build(args.view)
    start = load_checkpoint(shipped_model_dir() / f"{args.view.lower()}_stage2.pt")
    model.load_state_dict(expanded_state(start["state_dict"]))
    augment_config = augment_config_for(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(1)
    val_picks = [(i, f) for i in val for f in range(len(cines[i][1]))]

    def validate() -> float:
        from mvtrack.models.preprocess import targets_to_points

        model.eval()
        errors = []
        with torch.no_grad():
            for s in range(0, len(val_picks), 64):
                images, targets = triplet_batch(cines, val_picks[s:s + 64], rng, augment_config, False)
                predicted = targets_to_points(model(torch.from_numpy(images)).numpy(), images.shape[2:])
                truth = targets_to_points(targets, images.shape[2:])
                errors.append(np.linalg.norm(predicted - truth, axis=-1).ravel() * 0.75)
        model.train()
        return float(np.mean(np.concatenate(errors)))

    best = validate()
    print(f"start: val {best:.3f} mm", flush=True)
    args.run.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "network": config.to_dict(), "val_mm": best, "iteration": 0,
                "context_s": args.context_s},
               args.run / "best.pt")
    deadline, iteration = time.perf_counter() + 60 * args.minutes, 0
    model.train()
    while time.perf_counter() < deadline:
        picks = [(int(i), int(rng.integers(len(cines[i][1])))) for i in rng.choice(tr, args.batch_size)]
        images, targets = triplet_batch(cines, picks, rng, augment_config, True)
        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(images)), torch.from_numpy(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        iteration += 1
        if iteration % 500 == 0:
            current = validate()
            print(f"iteration {iteration}: loss {loss.item():.5f} val {current:.3f} mm", flush=True)
            if current < best:
                best = current
                torch.save({"state_dict": model.state_dict(), "network": config.to_dict(), "val_mm": best,
                            "iteration": iteration, "context_s": args.context_s}, args.run / "best.pt")
    print(json.dumps({"best_val_mm": best, "iterations": iteration}), flush=True)


class TemporalStage2:
    """Stands in for a model set's stage-2 network of one view: crops of a whole cine in, points out."""

    def __init__(self, model, context_s: float = CONTEXT_S, times_s=None, rr_s=None):
        self.model, self.context_s, self.times_s, self.rr_s = model, context_s, times_s, rr_s
        self.input_shape = (118, 162)

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        import torch

        from mvtrack.models.preprocess import normalise_images, targets_to_points

        n = len(self.times_s)
        context = context_indices(self.times_s, self.rr_s, self.context_s)
        runs = images.reshape(-1, n, *images.shape[1:])  # (S, T, H, W): one standardised cine per run
        stacks = np.concatenate([run[context] for run in runs])  # (S*T, 3, H, W)
        s, c, h, w = stacks.shape
        stacks = normalise_images(stacks.reshape(s * c, h, w)).reshape(s, c, h, w)
        with torch.no_grad():
            out = np.concatenate([self.model(torch.from_numpy(stacks[i:i + batch_size])).numpy()
                                  for i in range(0, s, batch_size)])
        return targets_to_points(out, self.input_shape)


def _tell_networks_the_cine() -> None:
    """Stage 2 runs on whole cines or, in the start search, on a subset of their frames: let a
    temporal network know which (its frame times) before each run."""
    from mvtrack.pipeline import track

    plain = track.stage2_points_batch

    def with_times(cine, network, *args, **kwargs):
        if isinstance(network, TemporalStage2):
            network.times_s, network.rr_s = cine.times_s, cine.rr_s
        return plain(cine, network, *args, **kwargs)

    track.stage2_points_batch = with_times


def evaluate(args) -> None:
    import sys

    import torch

    from mvtrack.evaluate.points import align_point_order, point_errors_mm
    from mvtrack.models.store import ModelSet, WithStage2
    from mvtrack.pipeline.track import track_cine
    from mvtrack.synth.generator import generate_subject

    torch.set_num_threads(args.threads)
    _tell_networks_the_cine()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    shipped = ModelSet(None)
    rows = {}
    candidates = {"shipped": shipped}
    if (args.run / "best.pt").exists():
        _, model = build(args.view)
        checkpoint = torch.load(args.run / "best.pt", map_location="cpu")
        model.load_state_dict(checkpoint["state_dict"])
        model.eval()
        candidates["temporal"] = WithStage2(shipped, {args.view: TemporalStage2(model, checkpoint.get("context_s", CONTEXT_S))},
                                            label=f"temporal-{args.view}", note="with temporal context")
        print(f"checkpoint: iteration {checkpoint['iteration']}, val {checkpoint['val_mm']:.3f} mm, "
              f"context {checkpoint.get('context_s', CONTEXT_S)} s", flush=True)
    if args.skip_shipped:
        candidates.pop("shipped")
    for name, models in candidates.items():
        errors, medians = [], []
        for index in range(args.test_subjects):
            synthetic = generate_subject(TEST_SEED, index).views[args.view]
            cine = synthetic.cine
            track = track_cine(cine, models)
            points, _ = align_point_order(track.points_px, synthetic.points_px)
            error = point_errors_mm(points, synthetic.points_px, cine.pixel_spacing_mm)
            errors.append(error.mean())
            medians.append(np.median(error))
        rows[name] = {"synthetic_mean_mm": float(np.mean(errors)), "synthetic_median_of_view_medians_mm": float(np.median(medians)),
                      "views_over_5mm": int(np.sum(np.array(errors) > 5))}
        rows[name].update(real_exam(models, args.view))
        rows[name].update(mvnet_sample(models, args.view))
        print(name, json.dumps(rows[name]), flush=True)


def real_exam(models, view: str) -> dict:
    """The real 3T exam's view against its reference: median / mean / worst point error (mm), with and
    without the start search; MAPSE, e' and the second-opinion disagreement with it."""
    from real_scans import REPO, run_reference_study

    from mvtrack.evaluate.reference import score_view

    out = {}
    for search in (True, False):
        reference, study, _ = run_reference_study(REPO / "data" / "bivme-patient1", models, 3, search)
        result = study.result["views"][view]
        score = score_view(np.asarray(result["points_px"]), np.asarray(result["times_s"]), reference["views"][view])
        key = "real" if search else "real_no_search"
        out[key] = f"{score['median_mm']:.1f} / {score['mean_mm']:.1f} / {score['worst_mm']:.1f}"
        if search:
            out["mapse_mm"], out["e_prime_cm_s"] = result["metrics"]["mapse_mm"], result["metrics"]["e_prime_cm_s"]
            out["critic_mm"] = result.get("critic_disagreement_mm")
    return out


def mvnet_sample(models, view: str) -> dict:
    """The built-in sample's view: distance at frame 8 to the by-eye points (mean / larger, mm)."""
    from importlib.resources import files

    from real_sample import BY_EYE_FRAME, BY_EYE_PX

    from mvtrack.geometry.standardise import points_to_mm
    from mvtrack.pipeline.study import analyze_study

    study = analyze_study(Path(str(files("mvtrack") / "data" / "mvnet-sample")), models=models)
    result, cine = study.result["views"][view], study.cines[view]
    distance = np.linalg.norm(points_to_mm(np.asarray(result["points_px"])[BY_EYE_FRAME] - np.array(BY_EYE_PX[view]),
                                           cine.pixel_spacing_mm), axis=-1)
    return {"mvnet_sample_by_eye_mm": f"{distance.mean():.1f} / {distance.max():.1f}",
            "mvnet_sample_mapse_mm": result["metrics"]["mapse_mm"], "mvnet_sample_critic_mm": result.get("critic_disagreement_mm")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--view", default="4CH", choices=["2CH", "4CH"])
    parser.add_argument("--subjects", type=int, default=160)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context-s", type=float, default=CONTEXT_S, help="0: the control (no motion)")
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--skip-shipped", action="store_true", help="evaluate only the run's network")
    parser.add_argument("--test-subjects", type=int, default=20)
    args = parser.parse_args()
    evaluate(args) if args.evaluate else train(args)


if __name__ == "__main__":
    main()
