"""The `mvtrack adapt-model` job: teach stage 2 shift consistency on unlabelled real studies, once.

``mvtrack analyze --adapt`` fine-tunes stage 2 on the one study it analyses; this does the same
fine-tuning (:func:`mvtrack.train.consistency.adapt_stage2`, with a synthetic anchor) on a set of
unlabelled real studies -- a site's own archive, or the built-in MVnet sample -- and writes a model
folder whose stage-2 networks are the adapted ones (stage 1 from the base model), for
``analyze --model``. No labels are needed: the crops are placed around the base model's own tracks.
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
    analyses = [analyze_study(folder, models=base) for folder in studies]
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
            pairs = [(study.cines[v], study.tracks[v].points_px) for study in analyses for v in study.tracks
                     if v == view or every_view]
            start = time.perf_counter()
            network_config, model, losses = adapted_stage2(
                base, view, pairs, config, seed, anchor=anchor_samples(view, anchor_subjects) if anchor_subjects else None,
                log=lambda line, v=view: log(f"{v}: {line}"))
            record["networks"][f"{view.lower()}_stage2"] = {
                "cines": len(pairs), "seconds": round(time.perf_counter() - start, 1), **disagreement_summary(losses)}
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
