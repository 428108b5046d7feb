"""An OUT_DIR of analysed studies for the review app's tests, made in milliseconds (no tracker run):
results.json with a plausible track per view, cines/<VIEW>.npz, results.csv, report.html and summary.csv."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from conftest import make_cine

N_FRAMES = 16
SHAPE = (64, 72)


def track(n: int = N_FRAMES, x0: float = 22.0, y0: float = 30.0, excursion: float = 6.0) -> np.ndarray:
    """(n, 2, 2) points that move ``excursion`` px toward +y and back over the cycle."""
    y = y0 + excursion * np.sin(np.pi * np.arange(n) / n) ** 2
    points = np.zeros((n, 2, 2))
    points[:, 0] = np.stack([np.full(n, x0), y], axis=1)
    points[:, 1] = np.stack([np.full(n, x0 + 24.0), y + 2.0], axis=1)
    return points


def write_study(root: Path, name: str, needs_review: bool = False, excursion: float = 6.0) -> Path:
    from mvtrack.io.npz import write_npz_cine
    from mvtrack.pipeline.batch import csv_row, write_csv_atomic
    from mvtrack.report.html import write_html
    from mvtrack.results import ViewTrack, build_result, write_result

    folder = root / name
    (folder / "cines").mkdir(parents=True)
    views = {}
    for view, seed in (("2CH", 1), ("4CH", 2)):
        cine = replace(make_cine(n_frames=N_FRAMES, shape=SHAPE, spacing=(1.5, 1.5), seed=seed, view=view),
                       series_uid=f"1.2.{seed}")
        write_npz_cine(cine, folder / "cines" / f"{view}.npz")
        views[view] = ViewTrack(track(excursion=excursion + seed), ("anterior", "inferior") if view == "2CH"
                                else ("lateral", "septal"), cine.times_s, cine.pixel_spacing_mm, cine.rr_s,
                                cine.series_uid, extra={"frame_shape_hw": list(SHAPE)})
    result = build_result(name, views, {"2ch_stage2": "test"}, "0.0", smooth_curves=False)
    reasons = ["views disagree: MAPSE 10.5 vs 12.0 mm (2CH, 4CH)"] if needs_review else []
    result["qc"] = {"needs_review": needs_review, "reasons": reasons}
    write_result(result, folder / "results.json")
    write_csv_atomic([csv_row(result)], folder / "results.csv")
    write_html(result, folder, {})
    return folder


def write_out_dir(root: Path) -> Path:
    """Three studies (the last one QC-flagged) and the summary.csv of a batch that wrote them
    (as written before the ``reviewed`` column existed)."""
    import csv

    from mvtrack.pipeline.batch import csv_row
    from mvtrack.results import read_result

    root.mkdir(parents=True, exist_ok=True)
    names = ["alpha", "bravo", "charlie"]
    for index, name in enumerate(names):
        write_study(root, name, needs_review=name == "charlie", excursion=4.0 + index)
    header = [f for f in csv_row(read_result(root / "alpha" / "results.json")) if f != "reviewed"]
    header += ["status", "seconds", "error"]
    with open(root / "summary.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for name in names:
            writer.writerow({**csv_row(read_result(root / name / "results.json")), "status": "done", "seconds": 1.0,
                             "error": ""})
    return root
