"""Write synthetic subjects to disk: the cines (DICOM, NIfTI or .npz) and ``truth.json``.

``truth.json`` follows the result contract (``mvtrack.results``): per view ``points_px`` [T][2][2],
``point_names``, ``times_s``, ``pixel_spacing_mm``, ``displacement_mm``, ``series_uid``; at study
level the clinical metrics computed by :mod:`mvtrack.metrics` from the truth points. It adds the
generator's own parameters (true MAPSE, s', e', a' of the motion model, acquisition settings).
"""

from __future__ import annotations

import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from mvtrack._version import __version__
from mvtrack.io.dicom_write import write_dicom_series
from mvtrack.io.nifti import write_nifti_cine
from mvtrack.io.npz import write_npz_cine
from mvtrack.results import ViewTrack, build_result, write_json_atomic
from mvtrack.synth.generator import SyntheticSubject, generate_subject

FORMATS = ("dicom", "nifti", "npz")


def truth_result(subject: SyntheticSubject, series_uids: dict[str, str]) -> dict:
    """The truth of a subject as a result-contract dictionary."""
    views = {
        name: ViewTrack(v.points_px, v.point_names, v.cine.times_s, v.cine.pixel_spacing_mm, v.cine.rr_s,
                        series_uids.get(name, ""), extra={"synthetic": _jsonable(v.params)})
        for name, v in subject.views.items()
    }
    motion = subject.motion
    return build_result(
        subject.subject_id, views, {"truth": "synthetic generator"}, __version__,
        extra={"synthetic": {
            "atrial_fibrillation": subject.atrial_fibrillation,
            "heart_rate_bpm": 60.0 / motion.rr_s,
            "model_mapse_mm": motion.mapse_mm,
            "model_s_prime_cm_s": motion.s_prime_cm_s,
            "model_e_prime_cm_s": motion.e_prime_cm_s,
            "model_a_prime_cm_s": None if subject.atrial_fibrillation else motion.a_prime_cm_s,
            "model_e_over_a": None if subject.atrial_fibrillation else motion.e_over_a,
        }},
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def write_subject(subject: SyntheticSubject, out_dir: Path | str, fmt: str = "dicom") -> Path:
    """Write one subject into ``out_dir/<subject_id>/``; returns that folder."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    folder = Path(out_dir) / subject.subject_id
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(subject.subject_id.encode()))
    study_uid = generate_uid(entropy_srcs=[subject.subject_id])  # same subject, same UIDs
    series_uids = {}
    for name, view in subject.views.items():
        uid = generate_uid(entropy_srcs=[subject.subject_id, name])
        series_uids[name] = uid
        cine = replace(view.cine, series_uid=uid)
        if fmt == "dicom":
            write_dicom_series(cine, folder / f"series_{name.lower()}", view.series_description, view.vendor,
                               study_uid=study_uid, rng=rng)
        elif fmt == "nifti":
            write_nifti_cine(cine, folder / f"{name.lower()}.nii.gz")
        else:
            write_npz_cine(cine, folder / f"{name.lower()}.npz")
    write_json_atomic(truth_result(subject, series_uids), folder / "truth.json")
    return folder


def _generate_and_write(job: tuple) -> str:
    seed, index, out_dir, fmt, views = job
    return str(write_subject(generate_subject(seed, index, views), out_dir, fmt))


def write_subjects(out_dir: Path | str, n_subjects: int, seed: int, fmt: str = "dicom", workers: int = 2,
                   start: int = 0, progress=None, views: tuple[str, ...] = ("2CH", "4CH")) -> list[Path]:
    """Generate and write subjects ``start .. start + n_subjects - 1`` of a seed, in parallel; each
    with the ``views`` (2CH, 4CH, 3CH; a subject's 2CH and 4CH are the same whatever else it has)."""
    jobs = [(seed, i, str(out_dir), fmt, tuple(views)) for i in range(start, start + n_subjects)]
    if workers <= 1:
        results = []
        for job in jobs:
            results.append(_generate_and_write(job))
            if progress:
                progress()
        return [Path(r) for r in results]
    results = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_generate_and_write, jobs):
            results.append(result)
            if progress:
                progress()
    return [Path(r) for r in results]
