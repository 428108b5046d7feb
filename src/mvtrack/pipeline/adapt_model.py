"""The `mvtrack adapt-model` job: teach stage 2 shift consistency on unlabelled real studies, once.

``mvtrack analyze --adapt`` fine-tunes stage 2 on the one study it analyses; this does the same
fine-tuning (:func:`mvtrack.train.consistency.adapt_stage2`, with a synthetic anchor) on a set of
unlabelled real studies -- a site's own archive, or the built-in MVnet sample -- and writes a model
folder whose stage-2 networks are the adapted ones (stage 1 from the base model), for
``analyze --model``. No labels are needed: the crops are placed around the base model's own tracks.
A study may also be a study folder of ``mvtrack analyze``'s output that a reader reviewed
(``results.json`` with ``review``, frames in ``cines/``): its crops are placed around the reviewed
track, and the reader's anchored frames join the supervised anchor (real labels beside the synthetic).
The shipped 2CH stage 2 (mvtrack-v4) was made this way from the MVnet sample's 2CH cine.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from mvtrack.errors import MvtrackError

#: v4's 2CH stage 2: `--adapt`'s settings (mvtrack.train.consistency.ConsistencyConfig) with 300 steps
SHIPPED_STEPS = 300


def learn_shift_consistency(studies: list[Path], out: Path, views: tuple[str, ...] | None = None,
                            consistency=None, anchor_subjects: int = 6, seed: int = 0, every_view: bool = False,
                            model_id: str | None = None, force: bool = False, log=print) -> Path:
    """Fine-tune the shipped model's stage 2 of each view (``views``: all the studies have; else those
    named) on the cines of that view in ``studies`` (``consistency``: a ConsistencyConfig, default
    ``--adapt``'s with :data:`SHIPPED_STEPS` steps) and write the model folder ``out``; returns its
    manifest. ``every_view``: each network also learns from the other views' cines. ``out`` is written
    whole or not at all, and an existing model folder there is kept unless ``force``."""
    import torch

    from mvtrack.models.export import export_model_dir
    from mvtrack.models.store import MANIFEST, ModelSet
    from mvtrack.pipeline.adapt import adapted_stage2, anchor_samples
    from mvtrack.pipeline.study import analyze_study
    from mvtrack.train.consistency import ConsistencyConfig, disagreement_summary

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MvtrackError(f"{out}: --out names an existing file, not a folder")
    if (out / MANIFEST).exists() and not force:
        raise MvtrackError(f"{out}: a model folder is already there (--force replaces it)")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise MvtrackError(f"{out}: the folder holds other files; give an empty or new folder")
    if not studies:
        raise MvtrackError("no study given to learn from")
    base = ModelSet()  # the shipped model: the output folder holds stage 2 only and falls back to it for stage 1
    config = consistency or replace(ConsistencyConfig(), steps=SHIPPED_STEPS)
    analyses = [analyze_study(_frames_of(folder), models=base) for folder in studies]
    reviews = [_reviewed(folder) for folder in studies]  # each study's reviewed results.json, or None
    found = sorted({view for study in analyses for view in study.tracks})
    wanted = sorted(views) if views else found
    missing = [view for view in wanted if view not in found]
    if missing:
        raise MvtrackError(f"{', '.join(map(str, studies))}: no {' or '.join(missing)} cine to learn from")
    settings = {**asdict(config), "anchor_subjects": anchor_subjects, "seed": seed, "every_view": every_view}
    record = {"studies": [str(s) for s in studies], "base_model": base.model_id, "config": settings, "networks": {}}
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoints, work = {}, Path(tempfile.mkdtemp(prefix=".adapt-model-", dir=out.parent))
    try:
        for view in wanted:
            pairs = [(study.cines[v], _track(review, v, study.tracks[v].points_px))
                     for review, study in zip(reviews, analyses) for v in study.tracks if v == view or every_view]
            start = time.perf_counter()
            reviewed = _reviewed_anchor(studies, reviews, view, seed)
            anchor = _joined(anchor_samples(view, anchor_subjects) if anchor_subjects else None, reviewed)
            network_config, model, losses = adapted_stage2(
                base, view, pairs, config, seed, anchor=anchor, log=lambda line, v=view: log(f"{v}: {line}"))
            record["networks"][f"{view.lower()}_stage2"] = {
                "cines": len(pairs), "reviewed_samples": 0 if reviewed is None else len(reviewed["points"]),
                "seconds": round(time.perf_counter() - start, 1), **disagreement_summary(losses)}
            path = work / f"{view.lower()}_stage2.pt"
            torch.save({"network": network_config.to_dict(), "state_dict": model.state_dict(),
                        "train": {"shift_consistency": settings}}, path)
            checkpoints[network_config.name] = path
        staged = work / "model"
        manifest = export_model_dir(checkpoints, staged, model_id or f"{base.model_id}+site-consistency",
                                    notes={"shift_consistency": record})
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(staged), str(out))
        return out / manifest.name
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _is_output_study(folder: Path) -> bool:
    """Whether ``folder`` is a study folder of ``mvtrack analyze``'s output (results.json, frames in cines/)."""
    return (Path(folder) / "cines").is_dir() and (Path(folder) / "results.json").exists()


def _reviewed(folder: Path) -> dict | None:
    """The reviewed results.json of an analysis output study folder, else None."""
    from mvtrack.train.data import reviewed_result

    return reviewed_result(Path(folder) / "results.json") if _is_output_study(folder) else None


def _frames_of(folder: Path) -> Path:
    """What to read of a study: an analysis output folder's saved frames, else the folder itself."""
    return Path(folder) / "cines" if _is_output_study(folder) else folder


def _track(review: dict | None, view: str, automatic_px):
    """The reviewed track of ``view`` where a reader reviewed the study (``review``: its results.json),
    else the base model's."""
    import numpy as np

    if review is None or view not in review["views"]:
        return automatic_px
    points = np.asarray(review["views"][view]["points_px"], dtype=float)
    return points if points.shape == np.shape(automatic_px) else automatic_px


def _reviewed_anchor(studies: list[Path], reviews: list[dict | None], view: str, seed: int) -> dict | None:
    """Labelled stage-2 samples (as :func:`mvtrack.pipeline.adapt.anchor_samples`) of the anchored
    frames of ``view`` in the reviewed studies, or None where none was reviewed."""
    import numpy as np

    from mvtrack.train.data import ANCHORED_FRAME_COPIES, PerturbationConfig, cine_samples, load_study_labels

    images, points = [], []
    for index, (folder, review) in enumerate(zip(studies, reviews)):
        if review is None:
            continue
        for cine, labels, frames in load_study_labels(Path(folder)):
            if cine.view != view or not frames:
                continue
            samples = cine_samples(cine, labels, np.random.default_rng([seed, index, 98]),
                                   PerturbationConfig(copies=ANCHORED_FRAME_COPIES), labelled_frames=frames)
            images.append(samples["s2_images"].astype(np.float32))
            points.append(samples["s2_points"])
    return {"images": np.concatenate(images), "points": np.concatenate(points)} if images else None


def _joined(*anchors: dict | None) -> dict | None:
    """Labelled samples of several sources in one anchor (None where there are none)."""
    import numpy as np

    given = [a for a in anchors if a is not None]
    if not given:
        return None
    return {key: np.concatenate([a[key] for a in given]) for key in ("images", "points")}
