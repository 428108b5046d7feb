"""One readable training loop for one network (view x stage), nanoGPT-style.

A checkpoint is a plain dict: ``{"network": NetworkConfig dict, "train": TrainConfig dict,
"state_dict", "optimizer", "iteration", "best_val_mm", "history"}``; ``best.pt`` keeps the lowest
validation error in mm, ``last.pt`` the latest state for resuming.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.geometry import STANDARD_SPACING_MM
from mvtrack.geometry.image_order import IMAGE_ORDER_VIEWS
from mvtrack.models.network import NetworkConfig
from mvtrack.models.preprocess import normalise_images, points_to_targets, targets_to_points
from mvtrack.train.augment import AugmentConfig, augment


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (saved in every checkpoint)."""

    epochs: float = 20.0  # passes over the training samples (paper: 20)
    batch_size: int = 8  # paper: 8
    learning_rate: float = 1e-4  # Adam (paper: 1e-4)
    cosine_decay: bool = True  # decay the rate to 10 % over the run (beyond the paper)
    augment: bool = True  # scale/rotation/translation as the paper, plus contrast and noise
    val_fraction: float = 0.1  # share of studies held out for validation
    val_samples: int = 600  # validation frames evaluated each time
    eval_every: int = 400  # iterations between validations
    max_minutes: float | None = None  # wall-clock budget; training stops (keeping the best) when spent
    seed: int = 0
    threads: int = 2
    device: str = "cpu"  # "cuda" trains on a GPU (bfloat16 autocast); results are exported the same way
    loader_workers: int = 0  # processes that augment batches ahead of the network (0: in the loop)
    # Weight averaging (SWA / SWAD-like: flat minima generalise better to unseen domains): from this
    # fraction of the run on, the weights (and BatchNorm statistics) are averaged every 10 iterations
    # into ``averaged.pt``; None: off.
    average_from: float | None = None
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)


def split_by_group(groups: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / validation sample indices with whole studies on one side only."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(len(unique) * val_fraction)))
    val_groups = rng.choice(unique, n_val, replace=False)
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def load_stage_samples(cache_file: Path | str, stage: int, image_order: bool = False) -> dict[str, np.ndarray]:
    """Images, points, groups and pixel size (mm, x then y) of one stage from a cache file.

    With ``image_order`` the two points of every stage-1 sample are put in image order (see
    :func:`mvtrack.geometry.image_order.order_by_image`) instead of anatomical order.
    """
    prefix = f"s{stage}_"
    with np.load(cache_file) as data:
        samples = {key[len(prefix):]: data[key] for key in data.files if key.startswith(prefix)}
    if "mm_per_px" not in samples:
        samples["mm_per_px"] = np.full((len(samples["points"]), 2), STANDARD_SPACING_MM, np.float32)
    if image_order and stage == 1:
        from mvtrack.geometry.image_order import order_by_image

        for group in np.unique(samples["group"]):
            rows = np.flatnonzero(samples["group"] == group)
            samples["points"][rows] = order_by_image(samples["points"][rows])
    return samples


def _batch(samples, indices, shape, rng, train_config: TrainConfig, training: bool):
    images, points = [], []
    for index in indices:
        image, pts = samples["images"][index].astype(np.float32), samples["points"][index]
        if training and train_config.augment:
            image, pts = augment(image, pts, train_config.augment_config, rng)
        images.append(image)
        points.append(pts)
    images = normalise_images(np.stack(images))[:, None]
    return images, points_to_targets(np.stack(points), shape)


def _training_batches(samples, train_idx, shape, train_config: TrainConfig, rng: np.random.Generator):
    """Endless augmented batches (images (B, 1, H, W), targets (B, 4)) as NumPy arrays.

    With ``loader_workers`` the batches come from worker processes (each with its own random
    stream), so the augmentation keeps up with a GPU; without, they are made in this process.
    """
    def make(generator):
        while True:
            batch_idx = generator.choice(train_idx, train_config.batch_size, replace=False)
            yield _batch(samples, batch_idx, shape, generator, train_config, training=True)

    if train_config.loader_workers <= 0:
        yield from make(rng)
        return
    import torch

    base_seed = int(rng.integers(2**31))

    class Batches(torch.utils.data.IterableDataset):
        def __iter__(self):
            worker = torch.utils.data.get_worker_info()
            return make(np.random.default_rng([base_seed, worker.id if worker else 0]))

    loader = torch.utils.data.DataLoader(Batches(), batch_size=None, num_workers=train_config.loader_workers,
                                         prefetch_factor=8, persistent_workers=True)
    for images, targets in loader:
        yield images.numpy(), targets.numpy()


def evaluate_mm(model, samples, indices, shape, batch_size: int = 32, device: str = "cpu") -> float:
    """Mean Euclidean point error in mm over the given samples (no augmentation)."""
    import torch

    errors = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            images = normalise_images(samples["images"][chunk].astype(np.float32))[:, None]
            output = model(torch.from_numpy(images).to(device)).float().cpu()
            predicted = targets_to_points(output.numpy(), shape)
            delta_mm = (predicted - samples["points"][chunk]) * samples["mm_per_px"][chunk][:, None, :]
            errors.append(np.linalg.norm(delta_mm, axis=2).ravel())
    model.train()
    return float(np.mean(np.concatenate(errors)))


def checkpoint_state_dict(path: Path | str, network_config: NetworkConfig) -> dict:
    """The weights of a checkpoint, checked to be of the same network (view, stage, architecture)."""
    from mvtrack.models.export import load_checkpoint

    checkpoint = load_checkpoint(path)
    if checkpoint.get("network") != network_config.to_dict():
        raise MvtrackError(f"{path}: checkpoint is of network {checkpoint.get('network')}, "
                           f"not {network_config.to_dict()}")
    return checkpoint["state_dict"]


def train_network(network_config: NetworkConfig, train_config: TrainConfig, cache_file: Path | str,
                  out_dir: Path | str, resume: bool = False, init_state: dict | None = None,
                  progress: bool = True, frozen: tuple[str, ...] | list[str] = ()) -> dict:
    """Train one network from a sample cache; returns the training summary.

    Writes ``out_dir/best.pt`` (lowest validation error) and ``out_dir/last.pt`` (for --resume); with
    ``average_from`` also ``out_dir/averaged.pt``, the weight average (its validation error in the
    summary as ``averaged_val_mm``; not kept across --resume). Parameters named in ``frozen`` are not
    learnt (their BatchNorm statistics still follow the training data).
    """
    import torch

    from mvtrack.models.network import build_network

    torch.set_num_threads(train_config.threads)
    torch.manual_seed(train_config.seed)
    rng = np.random.default_rng(train_config.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = load_stage_samples(cache_file, network_config.stage, image_order=network_config.view in IMAGE_ORDER_VIEWS)
    train_idx, val_idx = split_by_group(samples["group"], train_config.val_fraction, train_config.seed)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise MvtrackError(f"{cache_file}: samples of {len(np.unique(samples['group']))} study(ies): training needs at "
                           "least 2 (whole studies are held out for validation)")
    val_idx = np.sort(np.random.default_rng(1).choice(val_idx, min(len(val_idx), train_config.val_samples), replace=False))
    shape = network_config.input_shape
    if samples["images"].shape[1:] != shape:
        raise ValueError(f"cache images are {samples['images'].shape[1:]}, stage {network_config.stage} needs {shape}")

    device = torch.device(train_config.device)
    model = build_network(network_config)
    if init_state is not None:
        missing, unexpected = model.load_state_dict(init_state, strict=False)
    model = model.to(device, memory_format=torch.channels_last)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in set(frozen))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=train_config.learning_rate)
    total_iterations = int(math.ceil(train_config.epochs * len(train_idx) / train_config.batch_size))
    iteration, best_val, history = 0, float("inf"), []
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.exists():
        checkpoint = torch.load(last_path, weights_only=True, map_location=device)
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        iteration, best_val, history = checkpoint["iteration"], checkpoint["best_val_mm"], checkpoint["history"]
        rng = np.random.default_rng([train_config.seed, iteration])

    def checkpoint_dict(val_mm):
        return {"network": network_config.to_dict(), "train": asdict(train_config),
                "state_dict": {key: value.cpu() for key, value in model.state_dict().items()}, "optimizer": optimizer.state_dict(), "iteration": iteration,
                "best_val_mm": best_val, "val_mm": val_mm, "history": history,
                "n_train": int(len(train_idx)), "n_val": int(len(val_idx))}

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.time()
    columns = [TextColumn(f"{network_config.name}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.4f} val {task.fields[val]:.2f} mm"), TimeRemainingColumn()]
    loss_ema = float("nan")
    averaged = None
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=total_iterations, completed=iteration, loss=float("nan"),
                            val=best_val if math.isfinite(best_val) else float("nan"))
        model.train()
        batches = _training_batches(samples, train_idx, shape, train_config, rng)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
        while iteration < total_iterations:
            # progress through the run: by iterations, or by the time budget when that ends it sooner
            fraction = iteration / max(total_iterations, 1)
            if train_config.max_minutes:
                fraction = max(fraction, (time.time() - start) / (60 * train_config.max_minutes))
            fraction = min(fraction, 1.0)
            if train_config.average_from is not None and fraction >= train_config.average_from and iteration % 10 == 0:
                if averaged is None:
                    averaged = torch.optim.swa_utils.AveragedModel(model, use_buffers=True)
                else:
                    averaged.update_parameters(model)
            if train_config.cosine_decay:
                for group in optimizer.param_groups:
                    group["lr"] = train_config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * fraction)))
            images, targets = next(batches)
            images = torch.from_numpy(images).to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            with autocast:
                prediction = model(images)
            loss = torch.nn.functional.mse_loss(prediction.float(), torch.from_numpy(targets).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            loss_ema = loss.item() if math.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * loss.item()
            out_of_time = train_config.max_minutes is not None and time.time() - start > 60 * train_config.max_minutes
            if iteration % train_config.eval_every == 0 or iteration == total_iterations or out_of_time:
                val_mm = evaluate_mm(model, samples, val_idx, shape, device=device)
                history.append({"iteration": iteration, "loss": loss_ema, "val_mm": val_mm,
                                "minutes": (time.time() - start) / 60})
                if val_mm < best_val:
                    best_val = val_mm
                    torch.save(checkpoint_dict(val_mm), best_path)
                torch.save(checkpoint_dict(val_mm), last_path)
                bar.update(task, val=val_mm)
            bar.update(task, completed=iteration, loss=loss_ema)
            if out_of_time:
                break
    averaged_val = None
    if averaged is not None:
        averaged_val = evaluate_mm(averaged.module, samples, val_idx, shape, device=device)
        model.load_state_dict(averaged.module.state_dict())
        torch.save(checkpoint_dict(averaged_val), out_dir / "averaged.pt")
    summary = {"network": network_config.to_dict(), "train": asdict(train_config), "averaged_val_mm": averaged_val,
               "iterations": iteration, "best_val_mm": best_val, "minutes": (time.time() - start) / 60,
               "images_seen": iteration * train_config.batch_size, "n_train": int(len(train_idx)),
               "n_val": int(len(val_idx)), "history": history}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
