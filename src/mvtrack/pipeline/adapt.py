"""Test-time adaptation of stage 2 to the study's own frames (``mvtrack analyze --adapt``; issue 13).

The networks learnt from synthetic cines; on a real cine stage 2 may not read the image the same
way wherever its crop is put. For every tracked view, a copy of its stage-2 network is fine-tuned
on that cine alone so that two differently placed crops of a frame give the same points in the
stored frame (``mvtrack.train.consistency``; the crops are placed around the first analysis's
track), while a few synthetic subjects keep its supervised task; then the study is analysed again
with the adapted networks. No label and no other study is used. It needs PyTorch (``mvtrack[train]``)
and costs about 80 s per view and try on two CPU threads.

Where the adaptation lands depends on its random draws (real 3T 4CH: one seed of four at 4.3 mm
median, three at 7.1-7.2), so it runs several tries (seeds) and keeps the one whose views agree best
in space: the lowest median distance of the views' MV points from one plane (``mv_plane``, the
geometric check QC already uses; it owes nothing to the networks' own confidence). A study without
a plane (one view, or no DICOM geometry) keeps the try whose stage 2 disagrees least with itself.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from mvtrack.io import Cine
from mvtrack.models.store import WithStage2
from mvtrack.pipeline.plane import study_plane
from mvtrack.train.consistency import (
    ConsistencyConfig,
    TorchStage2,
    adapt_stage2,
    disagreement_summary,
)

#: Synthetic subjects that anchor the supervised task (seed 9500: neither a training nor a test seed).
ANCHOR_SEED = 9500


@dataclass(frozen=True)
class AdaptConfig:
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    anchor_subjects: int = 6
    seed: int = 0  # the first try's; try k uses seed + k
    tries: int = 3


def anchor_samples(view: str, subjects: int, seed: int = ANCHOR_SEED) -> dict[str, np.ndarray]:
    """Labelled stage-2 samples (``images`` (N, 118, 162) float32, ``points`` (N, 2, 2) crop pixels) of
    ``subjects`` synthetic subjects' ``view``, standardised from perturbed truth as in training."""
    from mvtrack.synth.generator import generate_subject
    from mvtrack.train.data import PerturbationConfig, cine_samples

    images, points = [], []
    for index in range(subjects):
        synthetic = generate_subject(seed, index, views=(view,)).views[view]
        samples = cine_samples(synthetic.cine, synthetic.points_px, np.random.default_rng([seed, index, 99]),
                               PerturbationConfig(copies=1))
        images.append(samples["s2_images"].astype(np.float32))
        points.append(samples["s2_points"])
    return {"images": np.concatenate(images), "points": np.concatenate(points)}


def torch_stage2(models, view: str):
    """(NetworkConfig, torch model) of the stage-2 network a model set uses for ``view``, from the fp16
    weights beside its ONNX file (checksummed)."""
    from mvtrack.models.export import load_checkpoint, network_from_checkpoint

    return network_from_checkpoint(load_checkpoint(models.weights_file(view, 2)))


def adapted_stage2(models, view: str, cines_and_tracks: list, consistency: ConsistencyConfig, seed: int,
                   anchor: dict[str, np.ndarray] | None = None, log=None):
    """(NetworkConfig, torch model, per-step losses): ``models``' stage 2 of ``view`` fine-tuned for shift
    consistency on ``cines_and_tracks`` [(Cine, (T, 2, 2) stored px)], seeded, with an optional anchor.
    The one step that ``--adapt`` (per study) and ``adapt-model`` (once, on many studies) share."""
    import torch

    network_config, model = torch_stage2(models, view)
    torch.manual_seed(seed)
    losses = adapt_stage2(model, cines_and_tracks, consistency, seed=seed, anchor=anchor, log=log)
    return network_config, model, losses


def study_anchors(views, config: AdaptConfig) -> dict[str, dict[str, np.ndarray]]:
    """{view: :func:`anchor_samples`} for the views of a study; empty without an anchor. The same for
    every try of a study (they do not depend on its seed), so made once."""
    return {view: anchor_samples(view, config.anchor_subjects) for view in views} if config.anchor_subjects else {}


def adapted_models(models, cines: dict[str, Cine], tracks_px: dict[str, np.ndarray],
                   config: AdaptConfig = AdaptConfig(),
                   anchors: dict[str, dict[str, np.ndarray]] | None = None) -> tuple[WithStage2, dict[str, dict]]:
    """The model set with every view's stage 2 adapted to its cine, around ``tracks_px[view]`` (T, 2, 2)
    stored pixels; and per view what the adaptation did (for results.json; ``seconds``: the fine-tuning).
    ``anchors``: :func:`study_anchors` when already made."""
    anchors = study_anchors(cines, config) if anchors is None else anchors
    replaced, notes = {}, {}
    for view, cine in cines.items():
        start = time.perf_counter()
        network_config, model, losses = adapted_stage2(models, view, [(cine, tracks_px[view])], config.consistency,
                                                       config.seed, anchor=anchors.get(view))
        replaced[view] = TorchStage2(model, network_config.input_shape)
        notes[view] = {
            "method": "stage 2 fine-tuned on this cine for shift consistency"
                      + (", with a synthetic anchor" if view in anchors else ""),
            **disagreement_summary(losses),
            "seconds": round(time.perf_counter() - start, 1),
            "config": {**asdict(config.consistency), "anchor_subjects": config.anchor_subjects, "seed": config.seed},
        }
    return WithStage2(models, replaced), notes


def try_score(study, notes: dict[str, dict]) -> tuple[str, float]:
    """(criterion, value; lower is better) by which the tries of one study (``StudyResult``) are
    compared: the median MV-plane residual (mm) of all its tracked views, whatever QC says of them
    (the study's ``mv_plane`` leaves out the views whose metrics are withheld), when they give a plane;
    else the mean shift disagreement (mm) after adaptation over its views."""
    plane, _ = study_plane(study.cines, {view: track.points_px for view, track in study.tracks.items()}, list(study.tracks))
    residual = plane.get("residual_median_mm")
    if residual is not None:
        return "MV-plane residual (median, mm)", float(residual)
    return "shift disagreement after adaptation (mean over views, mm)", float(
        np.mean([note["disagreement_after_mm"] for note in notes.values()]))


def adapted_study(analyse, models, config: AdaptConfig = AdaptConfig()):
    """Analyse with ``analyse(models, distrusted=None) -> StudyResult``, adapt every view's stage 2 around
    that analysis (``config.tries`` times, seeds ``config.seed ..``), analyse again with each, and return
    the try :func:`try_score` ranks best, with ``result["adaptation"]`` saying what was done and chosen.

    A view whose tracking QC did not stand behind before adapting keeps its metrics withheld after it:
    an adapted network has no second opinion of its own (a critic's threshold was set against the
    network it was trained beside; v5's 4CH ensemble is replaced by one adapted member), and the tries
    are chosen by how well the views agree in space, which a view off the valve can still do."""
    first = analyse(models)
    distrusted = {view: f"not trusted before the adaptation ({why}); the adapted network has no check of its own"
                  for view, why in first.unreliable.items()}
    tracks = {view: track.points_px for view, track in first.tracks.items()}
    anchors = study_anchors(first.cines, config)
    tries = []
    for k in range(max(config.tries, 1)):
        seeded = replace(config, seed=config.seed + k)
        adapted, notes = adapted_models(models, first.cines, tracks, seeded, anchors)
        study = analyse(adapted, distrusted)
        tries.append((try_score(study, notes), seeded.seed, study, notes))
    (criterion, _), seed, study, notes = min(tries, key=lambda item: item[0][1])
    study.result["adaptation"] = {
        "views": notes, "chosen_seed": seed, "chosen_by": criterion,
        "tries": [{"seed": s, "score": round(score, 3)} for (_, score), s, _, _ in tries],
    }
    return study
