"""Training samples for both stages, built from annotated cines and cached as .npz.

A training source is a folder of studies, each holding cines plus an annotation file in the
result-contract form (``truth.json`` written by ``mvtrack synth``, or ``annotations.json`` from a
reader): ``views.<2CH|4CH>.points_px`` [T][2][2] in stored-frame pixels, with ``times_s`` matching
the cine frames. An ``mvtrack analyze`` output folder is a source too: its *reviewed* studies
(``results.json`` with a ``review``, frames in ``cines/<VIEW>.npz``) give the frames the reader
anchored as labels (the automatic and re-tracked frames are never labels); unreviewed studies are
skipped. The synthetic generator can also feed the cache directly.

Stage 1 samples: every frame resized to 160 x 160 and its points mapped there.
Stage 2 samples: every frame standardised from *perturbed* truth points that mimic stage-1 errors
(a shift of the whole MV, a different error per point), with the truth mapped into the crop.
"""

from __future__ import annotations

import json
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError
from mvtrack.geometry import Stage1Map, standardisation_from_points
from mvtrack.io import Cine, read_cines
from mvtrack.results import anchors_from_result

ANNOTATION_NAMES = ("annotations.json", "truth.json", "results.json")
#: Stage-2 standardisations per cine when only a few frames are labelled (a review's anchored frames),
#: so that two anchored frames still give the network many placements of the crop to learn from.
ANCHORED_FRAME_COPIES = 16


@dataclass(frozen=True)
class PerturbationConfig:
    """Errors applied to the truth before standardising stage-2 training cines (mm, 1 SD)."""

    shift_mm: float = 5.0  # the whole MV moved (stage-1 localisation error)
    per_point_mm: float = 3.0  # each point moved on its own (changes the angle and the length)
    per_frame_mm: float = 0.7  # frame-to-frame jitter (changes the motion direction estimate)
    copies: int = 2  # standardisations per cine


def perturb_points(points_px: np.ndarray, spacing_mm: tuple[float, float], config: PerturbationConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """(T, 2, 2) truth -> perturbed copy, errors drawn in mm and converted to pixels."""
    to_px = 1.0 / np.array([spacing_mm[1], spacing_mm[0]])
    shift = rng.normal(0, config.shift_mm, 2)
    per_point = rng.normal(0, config.per_point_mm, (2, 2))
    jitter = rng.normal(0, config.per_frame_mm, points_px.shape)
    return points_px + (shift[None, None] + per_point[None] + jitter) * to_px


def cine_samples(cine: Cine, points_px: np.ndarray, rng: np.random.Generator,
                 perturbation: PerturbationConfig = PerturbationConfig(),
                 labelled_frames: list[int] | None = None) -> dict[str, np.ndarray]:
    """Stage-1 and stage-2 images (float16) and points (float32) of one annotated cine.

    ``labelled_frames``: only these frames are samples (a review's anchored frames); the whole track
    ``points_px`` still places the stage-2 crops, as the tracker's standardisation does."""
    frames = cine.frames if labelled_frames is None else cine.frames[labelled_frames]
    labels = points_px if labelled_frames is None else points_px[labelled_frames]
    stage1 = Stage1Map(cine.shape)
    s1_images = stage1.resize(frames)
    s1_points = stage1.to_stage1(labels)
    s2_images, s2_points = [], []
    for _ in range(perturbation.copies):
        noisy = perturb_points(points_px, cine.pixel_spacing_mm, perturbation, rng)
        try:
            std = standardisation_from_points(noisy, cine.pixel_spacing_mm)
        except ValueError:
            continue
        s2_images.append(std.warp(frames))
        s2_points.append(std.to_standard(labels))
    scale = max(float(np.percentile(cine.frames, 99.5)), 1e-6)  # keep float16 in range
    height, width = cine.shape
    mm_per_px = np.array([width * cine.pixel_spacing_mm[1], height * cine.pixel_spacing_mm[0]]) / stage1.size
    return {
        "s1_images": (s1_images / scale).astype(np.float16),
        "s1_points": s1_points.astype(np.float32),
        "s1_mm_per_px": np.tile(mm_per_px.astype(np.float32), (len(frames), 1)),
        "s2_images": (np.concatenate(s2_images) / scale).astype(np.float16),
        "s2_points": np.concatenate(s2_points).astype(np.float32),
    }


def _synthetic_job(job) -> dict[str, dict[str, np.ndarray]]:
    from mvtrack.synth.generator import generate_subject

    seed, index, perturbation, *rest = job
    views = rest[0] if rest else ("2CH", "4CH")  # job lists written before 3CH views have no views
    generator_options = rest[1] if len(rest) > 1 else {}
    subject = generate_subject(seed, index, views, **generator_options)
    rng = np.random.default_rng([seed, index, 99])
    return {view: cine_samples(v.cine, v.points_px, rng, perturbation) for view, v in subject.views.items()}


def load_annotated_study(folder: Path) -> list[tuple[Cine, np.ndarray]]:
    """Cines of one study folder paired with their annotated points (T, 2, 2) (all frames labelled;
    see :func:`load_study_labels` for reviewed analysis outputs)."""
    return [(cine, points) for cine, points, _ in load_study_labels(folder)]


def load_study_labels(folder: Path) -> list[tuple[Cine, np.ndarray, list[int] | None]]:
    """(cine, points (T, 2, 2), labelled frames or None for all) of one study folder: an annotated
    study, or a reviewed ``mvtrack analyze`` output (its anchored frames only; empty when unreviewed)."""
    annotation = next((folder / n for n in ANNOTATION_NAMES if (folder / n).exists()), None)
    if annotation is None:
        raise MvtrackError(f"{folder}: no annotation file ({' / '.join(ANNOTATION_NAMES)})")
    content = json.loads(annotation.read_text())
    if annotation.name == "results.json":
        return _reviewed_labels(folder, content)
    views = content.get("views", {})
    pairs = []
    for cine in read_cines(folder):
        entry = views.get(cine.view)
        if entry is None:
            continue
        points = np.asarray(entry["points_px"], dtype=np.float64)
        if points.shape != (cine.n_frames, 2, 2):
            raise MvtrackError(f"{annotation}: view {cine.view} has {len(points)} annotated frames, "
                               f"the cine has {cine.n_frames}")
        pairs.append((cine, points, None))
    return pairs


def _reviewed_labels(folder: Path, result: dict) -> list[tuple[Cine, np.ndarray, list[int] | None]]:
    """The anchored frames of a reviewed analysis output (none when it was not reviewed): the
    reviewed track places the crops, the reader's points are the labels."""
    anchors = anchors_from_result(result)
    labels = []
    for view, frames in anchors.items():
        path = folder / "cines" / f"{view}.npz"
        if not frames or not path.exists():
            continue
        cine = read_cines([path], view=view)[0]
        points = np.asarray(result["views"][view]["points_px"], dtype=np.float64)
        if points.shape != (cine.n_frames, 2, 2):
            raise MvtrackError(f"{folder / 'results.json'}: view {view} has {len(points)} frames, {path.name} {cine.n_frames}")
        for frame, anchor in frames.items():
            points[frame] = anchor
        labels.append((cine, points, sorted(frames)))
    return labels


def _folder_job(job) -> dict[str, dict[str, np.ndarray]]:
    from dataclasses import replace

    folder, seed, perturbation = job
    rng = np.random.default_rng([seed, zlib.crc32(str(folder).encode())])
    samples = {}
    for cine, points, frames in load_study_labels(Path(folder)):
        config = perturbation if frames is None else replace(perturbation, copies=ANCHORED_FRAME_COPIES)
        samples[cine.view] = cine_samples(cine, points, rng, config, labelled_frames=frames)
    return samples


def build_cache(out_dir: Path | str, jobs: list, worker, workers: int = 2, progress=None) -> dict[str, Path]:
    """Run ``worker`` over ``jobs`` (in parallel) and write one ``<view>.npz`` per view.

    Each file holds s1_images (N, 160, 160), s1_points (N, 2, 2), s1_mm_per_px (N, 2) (x, y pixel size
    of the stage-1 image), s1_group (N,) and s2_images, s2_points, s2_group (0.75 mm pixels);
    ``group`` is the study index, so validation splits never mix a study into both sides.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    collected: dict[str, dict[str, list]] = {}
    executor = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    results = executor.map(worker, jobs) if executor else map(worker, jobs)
    for group, result in enumerate(results):
        for view, samples in result.items():
            bucket = collected.setdefault(view, {})
            for key, value in samples.items():
                bucket.setdefault(key, []).append(value)
            for stage in ("s1", "s2"):
                bucket.setdefault(f"{stage}_group", []).append(np.full(len(samples[f"{stage}_points"]), group))
        if progress:
            progress()
    if executor:
        executor.shutdown()
    paths = {}
    for view, bucket in collected.items():
        path = out_dir / f"{view}.npz"
        np.savez(path, **{key: np.concatenate(values) for key, values in bucket.items()})
        paths[view] = path
    return paths


def synthetic_jobs(n_subjects: int, seed: int, perturbation: PerturbationConfig = PerturbationConfig(), start: int = 0,
                   views: tuple[str, ...] = ("2CH", "4CH"), generator_options: dict | None = None):
    """Jobs for :func:`build_cache` with :func:`_synthetic_job`: subjects ``start ..`` of ``seed``, each
    rendering ``views``; ``generator_options``: keyword arguments of :func:`generate_subject`."""
    return [(seed, i, perturbation, tuple(views), dict(generator_options or {})) for i in range(start, start + n_subjects)]


def reviewed_result(results_path: Path) -> dict | None:
    """The results.json at ``results_path`` when a reader reviewed it (it has ``review``), else None
    (also when it is missing or unreadable)."""
    try:
        result = json.loads(Path(results_path).read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get("review") else None


def folder_jobs(root: Path | str, seed: int = 0, perturbation: PerturbationConfig = PerturbationConfig()):
    root = Path(root)
    studies = sorted({p.parent for name in ANNOTATION_NAMES for p in root.rglob(name)
                      if name != "results.json" or reviewed_result(p) is not None})
    if not studies:
        raise MvtrackError(f"{root}: no annotated studies ({' / '.join(ANNOTATION_NAMES[:2])}) and no reviewed "
                           "analysis results (results.json saved by mvtrack review) found")
    return [(str(study), seed, perturbation) for study in studies]
