"""Shift-consistency adaptation of a stage-2 network on unlabelled cines (issue 13, lever 5).

Stage 2 is meant to read the image: wherever its crop is put (within its pull-in range), the points
it finds, mapped back to the stored frame, should be the same. On synthetic cines they are (slope
about 0, ``experiments/crop_anchoring/crop_anchoring.py``); on the real 3T 4CH in systole they partly move with the
crop (slope up to 1). This module fine-tunes a stage-2 network so that two crops of one frame,
standardised from two independently perturbed versions of a track, give the same points in the
stored frame: no labels, only the cine and a rough track of it (the pipeline's own output).

Loss per frame: the mean over both points of the distance (mm) between the two crops' predictions
mapped back to the stored frame. BatchNorm layers stay in inference mode (their statistics are the
synthetic ones; one cine is too few frames to re-estimate them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.geometry import standardisation_from_points
from mvtrack.geometry.standardise import CROP_SHAPE, STANDARD_SPACING_MM
from mvtrack.io import Cine
from mvtrack.models.preprocess import normalise_images, targets_to_points
from mvtrack.train.augment import AugmentConfig, randomise_appearance
from mvtrack.train.data import PerturbationConfig, perturb_points


@dataclass(frozen=True)
class ConsistencyConfig:
    steps: int = 150
    frames_per_step: int = 8  # frames of one cine per step; two crops each
    learning_rate: float = 3e-5
    #: where the two crops of a step are put (mm, 1 SD, around the track): by default the perturbation
    #: stage 2 was trained with, i.e. the range of starts it is meant to pull in from
    perturbation: PerturbationConfig = PerturbationConfig(copies=1)
    #: weight of the anchor's supervised loss (mm) against the shift disagreement (mm)
    anchor_weight: float = 1.0
    #: parameter-name prefixes of the layers that learn (e.g. ``("backbone.conv1", "backbone.bn1",
    #: "backbone.layer1")``: the first block only, "surgical fine-tuning" for a shift in the input's look,
    #: Lee et al., ICLR 2023); empty: every layer
    trainable_prefixes: tuple[str, ...] = ()
    #: also a random appearance (GIN / BigAug-like, :func:`mvtrack.train.augment.randomise_appearance`)
    #: drawn for each crop on its own, so that the two crops must agree across looks as well as
    #: placements; None: the crops as they are
    appearance: AugmentConfig | None = None


class TorchStage2:
    """A torch stage-2 network with :class:`mvtrack.models.store.OnnxNetwork`'s ``predict``."""

    def __init__(self, model, input_shape: tuple[int, int]):
        self.model, self.input_shape = model, input_shape

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        import torch

        normalised = normalise_images(images)[:, None]
        self.model.eval()
        with torch.no_grad():
            out = [self.model(torch.from_numpy(normalised[i:i + batch_size])).numpy()
                   for i in range(0, len(normalised), batch_size)]
        return targets_to_points(np.concatenate(out), self.input_shape)


def _crops_and_inverse(cine: Cine, track_px: np.ndarray, frames: np.ndarray, config: ConsistencyConfig,
                       rng: np.random.Generator):
    """Crops (F, 118, 162) of the given frames from one perturbed standardisation, and its inverse 3x3."""
    noisy = perturb_points(track_px, cine.pixel_spacing_mm, config.perturbation, rng)
    std = standardisation_from_points(noisy, cine.pixel_spacing_mm)
    crops = std.warp(cine.frames[frames])
    if config.appearance is not None:
        crops = np.stack([randomise_appearance(crop, config.appearance, rng) for crop in crops])
    return crops, np.linalg.inv(std.matrix)


def adapt_stage2(model, cines_and_tracks: list[tuple[Cine, np.ndarray]], config: ConsistencyConfig = ConsistencyConfig(),
                 seed: int = 0, log=None, anchor: dict[str, np.ndarray] | None = None):
    """Fine-tune ``model`` (torch, stage 2) in place for shift consistency on the given cines, each with a
    rough track (T, 2, 2) in stored pixels. Returns the per-step consistency losses (mm).

    ``anchor``: labelled stage-2 samples (``images`` (N, 118, 162), ``points`` (N, 2, 2) crop pixels, e.g.
    a synthetic training cache from :func:`mvtrack.train.trainer.load_stage_samples`); each step then also
    takes as many of them with their supervised loss (mean point distance, mm), so the network keeps
    its task while it learns to agree with itself on the new cines."""
    import torch

    rng = np.random.default_rng(seed)
    scale = torch.tensor([CROP_SHAPE[1], CROP_SHAPE[0]], dtype=torch.float32)

    def crop_points(images: np.ndarray):
        """(N, 118, 162) crops -> (N, 2, 2) predicted points in crop pixels (torch, differentiable;
        :func:`mvtrack.models.preprocess.targets_to_points` in torch)."""
        inputs = torch.from_numpy(normalise_images(images)[:, None])
        return (model(inputs).view(-1, 2, 2) + 1.0) / 2.0 * scale - 0.5

    prefixes = tuple(config.trainable_prefixes)
    learning = [p for name, p in model.named_parameters() if not prefixes or name.startswith(prefixes)]
    if not learning:
        raise ValueError(f"no parameter of the network starts with {prefixes}")
    optimiser = torch.optim.Adam(learning, lr=config.learning_rate)
    model.train()
    for module in model.modules():  # BatchNorm keeps the statistics it was trained with
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    losses = []
    for step in range(config.steps):
        cine, track = cines_and_tracks[step % len(cines_and_tracks)]
        frames = rng.choice(cine.n_frames, min(config.frames_per_step, cine.n_frames), replace=False)
        crops_a, inverse_a = _crops_and_inverse(cine, track, frames, config, rng)
        crops_b, inverse_b = _crops_and_inverse(cine, track, frames, config, rng)
        points = crop_points(np.concatenate([crops_a, crops_b]))  # (2F, 2, 2)
        mm = torch.tensor([cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0]], dtype=torch.float32)
        mapped = []
        for half, inverse in ((points[:len(frames)], inverse_a), (points[len(frames):], inverse_b)):
            inv = torch.from_numpy(inverse.astype(np.float32))
            mapped.append((half @ inv[:2, :2].T + inv[:2, 2]) * mm)
        loss = torch.linalg.norm(mapped[0] - mapped[1], dim=-1).mean()
        total = loss
        if anchor is not None:
            rows = rng.choice(len(anchor["points"]), config.frames_per_step, replace=False)
            predicted = crop_points(anchor["images"][rows].astype(np.float32))
            truth = torch.from_numpy(anchor["points"][rows].astype(np.float32))
            supervised = torch.linalg.norm(predicted - truth, dim=-1).mean() * STANDARD_SPACING_MM
            total = loss + config.anchor_weight * supervised
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % 25 == 0:
            log(f"step {step + 1}: shift disagreement {np.mean(losses[-25:]):.2f} mm")
    model.eval()
    return losses


def disagreement_summary(losses: list[float], window: int = 25) -> dict[str, float]:
    """The shift disagreement (mm) over the first and the last ``window`` steps of an adaptation."""
    window = min(window, len(losses))
    return {"disagreement_before_mm": round(float(np.mean(losses[:window])), 3),
            "disagreement_after_mm": round(float(np.mean(losses[-window:])), 3)}
