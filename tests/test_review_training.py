"""Learning from reviews: a reviewed analysis output is training data (its anchored frames only)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cine

from mvtrack.errors import MvtrackError
from mvtrack.io.npz import read_npz_cine, write_npz_cine
from mvtrack.pipeline.anchors import review_result
from mvtrack.results import ViewTrack, build_result, write_result
from mvtrack.train.data import (
    ANCHORED_FRAME_COPIES,
    PerturbationConfig,
    _folder_job,
    folder_jobs,
    load_study_labels,
)


def _analysed_study(root, name: str, reviewed: bool):
    """An analysis output folder (results.json + cines/2CH.npz) with a plausible track, reviewed or not."""
    cine = make_cine(n_frames=12, shape=(64, 72), spacing=(1.5, 1.5))
    t = np.arange(12)
    points = np.zeros((12, 2, 2))
    points[:, 0] = np.stack([np.full(12, 20.0), 30 + 3 * np.sin(np.pi * t / 12) ** 2], axis=1)
    points[:, 1] = np.stack([np.full(12, 45.0), 32 + 3 * np.sin(np.pi * t / 12) ** 2], axis=1)
    views = {"2CH": ViewTrack(points, ("anterior", "inferior"), cine.times_s, cine.pixel_spacing_mm, cine.rr_s, "1.2.9",
                              extra={"frame_shape_hw": list(cine.shape)})}
    result = build_result(name, views, {}, "0.0", smooth_curves=False)
    result["qc"] = {"needs_review": False, "reasons": []}
    anchors = {0: points[0] + [[1.0, 1.0], [1.0, 1.0]], 6: points[6] + [[0.0, 2.0], [0.0, 2.0]]}
    if reviewed:
        result = review_result(result, {"2CH": anchors})
    folder = root / name
    (folder / "cines").mkdir(parents=True)
    write_result(result, folder / "results.json")
    write_npz_cine(cine, folder / "cines" / "2CH.npz")
    return folder, cine, anchors


def test_npz_round_trip_keeps_the_series_and_geometry(tmp_path):
    cine = make_cine()
    write_npz_cine(cine, tmp_path / "c.npz")
    back = read_npz_cine(tmp_path / "c.npz")
    np.testing.assert_array_equal(back.frames, cine.frames)  # whole numbers: stored as int16, read exactly
    np.testing.assert_array_equal(back.orientation, cine.orientation)
    np.testing.assert_array_equal(back.position_mm, cine.position_mm)
    assert back.view == cine.view


def test_a_reviewed_output_labels_only_its_anchored_frames(tmp_path):
    folder, _, anchors = _analysed_study(tmp_path, "reviewed", reviewed=True)
    [(_, points, frames)] = load_study_labels(folder)
    assert frames == [0, 6]
    np.testing.assert_allclose(points[[0, 6]], np.stack([anchors[0], anchors[6]]), atol=1e-4)
    samples = _folder_job((str(folder), 0, PerturbationConfig()))
    assert len(samples["2CH"]["s1_images"]) == 2  # stage 1: the two anchored frames
    assert len(samples["2CH"]["s2_images"]) <= 2 * ANCHORED_FRAME_COPIES
    assert len(samples["2CH"]["s2_images"]) >= 2 * ANCHORED_FRAME_COPIES - 4


def test_unreviewed_outputs_are_not_training_data(tmp_path):
    _analysed_study(tmp_path, "automatic", reviewed=False)
    with pytest.raises(MvtrackError, match="no reviewed analysis results"):
        folder_jobs(tmp_path)
    _analysed_study(tmp_path, "reviewed", reviewed=True)
    assert [job[0].split("/")[-1] for job in folder_jobs(tmp_path)] == ["reviewed"]


def test_training_on_one_reviewed_study_says_it_needs_two(tmp_path):
    from mvtrack.models.network import NetworkConfig
    from mvtrack.train.run import run_training

    _analysed_study(tmp_path / "out", "reviewed", reviewed=True)
    with pytest.raises(MvtrackError, match="training needs at least 2"):
        run_training(NetworkConfig(view="2CH", stage=2, depth=10, width=8, max_width=16, head="softargmax"),
                     tmp_path / "run", data=tmp_path / "out", workers=1, progress=False, threads=1)


def test_adapt_model_takes_the_anchored_frames_of_reviewed_studies(tmp_path):
    import json

    from typer.testing import CliRunner

    from mvtrack.cli import app

    folder, _, _ = _analysed_study(tmp_path / "out", "reviewed", reviewed=True)
    out = tmp_path / "site_model"
    outcome = CliRunner().invoke(app, ["adapt-model", str(folder), "--out", str(out), "--view", "2CH", "--steps", "2",
                                       "--anchor-subjects", "0", "--threads", "1"])
    assert outcome.exit_code == 0, outcome.output
    record = json.loads((out / "manifest.json").read_text())["shift_consistency"]["networks"]["2ch_stage2"]
    assert record["cines"] == 1
    assert 2 * ANCHORED_FRAME_COPIES - 4 <= record["reviewed_samples"] <= 2 * ANCHORED_FRAME_COPIES
