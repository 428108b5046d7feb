from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import with_critics, with_ensemble
from typer.testing import CliRunner

from mvtrack.cli import app
from mvtrack.models.store import ModelSet
from mvtrack.pipeline.batch import Study, discover_studies, run_study
from mvtrack.pipeline.cohort import StudyOutcome, write_summary
from mvtrack.pipeline.study import analyze_study
from mvtrack.pipeline.track import refine_over_time, track_cine
from mvtrack.results import read_result
from mvtrack.synth.generator import generate_subject

runner = CliRunner()


def test_track_cine_keeps_every_pass(tiny_model_dir):
    view = generate_subject(1, 0).views["4CH"]
    track = track_cine(view.cine, ModelSet(tiny_model_dir), stage2_passes=2)
    assert len(track.passes) == 3
    assert all(p.shape == (view.cine.n_frames, 2, 2) for p in track.passes)
    assert track.points_px.shape == (view.cine.n_frames, 2, 2) and track.spread_mm.shape == (view.cine.n_frames, 2)
    assert len(track_cine(view.cine, ModelSet(tiny_model_dir), stage2_passes=0).passes) == 1


def test_temporal_refinement_removes_jitter_but_keeps_motion():
    times = np.arange(30) / 30
    truth = np.zeros((30, 2, 2))
    truth[:, :, 1] = 50 + 6 * np.sin(np.pi * times)[:, None] ** 2
    noisy = truth + np.random.default_rng(0).normal(0, 0.4, truth.shape)
    refined = refine_over_time(noisy, times, 1.0)
    # mild on purpose (the e' peak must survive): 10 % less error, the excursion kept within 5 %
    assert np.abs(refined - truth).mean() < 0.9 * np.abs(noisy - truth).mean()
    excursion = refined[:, :, 1].max(0) - refined[:, :, 1].min(0)
    np.testing.assert_allclose(excursion, 6.0, rtol=0.05 + 0.4 / 6)


def test_discover_studies(synthetic_root, tmp_path):
    studies = discover_studies([synthetic_root])
    assert [s.study_id for s in studies] == sorted(p.name for p in synthetic_root.iterdir() if p.is_dir())
    single = discover_studies([synthetic_root / studies[0].study_id])
    assert len(single) == 1 and single[0].study_id == studies[0].study_id


def test_cli_analyze_writes_the_contract_and_report(tiny_model_dir, synthetic_root, tmp_path):
    study = sorted(p for p in synthetic_root.iterdir() if p.is_dir())[0]
    result = runner.invoke(app, ["analyze", str(study), "--out", str(tmp_path), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / study.name
    data = read_result(folder / "results.json")  # validates the schema
    assert set(data["views"]) == {"2CH", "4CH"}
    assert set(data["views"]["2CH"]["passes_px"]) == {"stage1", "stage1+2", "stage1+2+2", "stage1+2+2+2"}
    for name in ("results.csv", "curves.png", "report.html", "overlay_2ch.mp4", "overlay_4ch.mp4"):
        assert (folder / name).exists(), name
    assert "MAPSE" in result.output


def test_cli_broken_study_writes_error_json_and_fails(tiny_model_dir, tmp_path):
    broken = tmp_path / "broken_study"
    broken.mkdir()
    (broken / "IM0001.dcm").write_bytes(b"\0" * 300)
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(broken), "--out", str(out), "--model", str(tiny_model_dir)])
    assert result.exit_code != 0
    error = json.loads((out / "broken_study" / "error.json").read_text())
    assert "IM0001.dcm: not a readable DICOM file" in error["error"]
    assert "Traceback" not in result.output


def test_batch_interrupted_then_resumed(tiny_model_dir, synthetic_root, tmp_path):
    models = ModelSet(tiny_model_dir)
    studies = discover_studies([synthetic_root])
    calls = []

    def analyze(study: Study):
        calls.append(study.study_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user kills the batch during the second study
        return analyze_study(study.paths, study_id=study.study_id, models=models)

    with pytest.raises(KeyboardInterrupt):
        for study in studies:
            run_study(study, tmp_path, analyze, movies=False)
    assert (tmp_path / studies[0].study_id / "results.json").exists()
    assert not (tmp_path / studies[1].study_id).exists()  # nothing half-written
    first = (tmp_path / studies[0].study_id / "results.json").read_bytes()
    outcomes = [run_study(s, tmp_path, lambda s: analyze_study(s.paths, study_id=s.study_id, models=models), movies=False)
                for s in studies]
    assert outcomes == ["skipped", "done", "done"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert (tmp_path / studies[0].study_id / "results.json").read_bytes() == first
    summary = write_summary(tmp_path, [StudyOutcome(s.study_id, o, 1.0) for s, o in zip(studies, outcomes)])
    assert len(summary.read_text().splitlines()) == 1 + len(studies)


def test_shifted_crops_are_slices_of_one_enlarged_warp():
    from scipy import ndimage

    from mvtrack.geometry import standardisation_from_points
    from mvtrack.geometry.affine import translation
    from mvtrack.geometry.standardise import Standardisation
    from mvtrack.pipeline.track import shifted_crops

    frames = ndimage.gaussian_filter(np.random.default_rng(0).random((2, 90, 110)), (0, 2, 2)).astype(np.float32)
    std = standardisation_from_points(np.array([[[40.0, 35.0], [52.0, 58.0]]] * 2), (1.6, 1.6))
    shifts = ((0, 0), (3, -3), (-2, 1))
    crops = shifted_crops(frames, std, shifts)
    for crop, (dx, dy) in zip(crops, shifts):
        expected = Standardisation(translation(dx, dy) @ std.matrix, std.out_shape).warp(frames)
        np.testing.assert_allclose(crop, expected, atol=1e-5)
    with pytest.raises(ValueError, match="whole pixels"):
        shifted_crops(frames, std, ((0.5, 0),))


class _WindowDetector:
    """Stand-in stage-2 network with a limited capture range: it finds the two bright dots (left and
    right half) only within a window around the crop centre; elsewhere it answers at random."""

    def __init__(self, half_window_px=(36, 16)):
        self.half_window_px = half_window_px
        self.rng = np.random.default_rng(0)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        rows, cols = crops.shape[1:]
        cx, cy = (cols - 1) / 2, (rows - 1) / 2
        wx, wy = self.half_window_px
        out = np.empty((len(crops), 2, 2))
        for i, crop in enumerate(crops):
            window = crop[int(cy - wy):int(cy + wy), int(cx - wx):int(cx + wx)]
            halves = (window[:, :wx], window[:, wx:])
            if min(h.max() for h in halves) < 0.5:
                out[i] = self.rng.uniform([0, 0], [cols, rows], (2, 2))
                continue
            for k, half in enumerate(halves):
                r, c = np.unravel_index(np.argmax(half), half.shape)
                out[i, k] = (int(cx - wx) + c + k * wx, int(cy - wy) + r)
        return out


class _Models:
    def network(self, view, stage):
        assert stage == 2
        return self.detector

    detector = _WindowDetector()


def test_start_search_recovers_from_a_far_stage1_guess():
    from mvtrack.io import Cine

    spacing, n_frames = 1.5, 6
    times = np.arange(n_frames) / n_frames
    truth = np.array([[50.0, 60.0], [70.0, 60.0]])[None].repeat(n_frames, 0)
    truth[:, :, 1] += 4 * np.sin(np.pi * times)[:, None]  # the annulus moves toward the apex (down)
    rows, cols = np.mgrid[0:130, 0:130]
    frames = np.stack([sum(np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / 4.0) for x, y in points) for points in truth])
    cine = Cine(frames.astype(np.float32), (spacing, spacing), times, 1.0, view="4CH")
    far_guess = truth + np.array([25.0, 0.0]) / spacing  # 25 mm off: outside the stand-in's reach

    plain = track_cine(cine, _Models(), stage2_passes=3, search=False, smooth=False, first_guess_px=far_guess)
    assert np.abs(plain.points_px - truth).max() * spacing > 10
    searched = track_cine(cine, _Models(), stage2_passes=3, smooth=False, first_guess_px=far_guess)
    assert searched.start_search["kept"] and searched.start_search["offset_mm"] == [-30.0, 0.0]
    assert np.abs(searched.points_px - truth).max() * spacing < 1.0
    np.testing.assert_array_equal(searched.passes[0], far_guess)  # stage 1 is still reported as it was


def test_numbers_qc_does_not_stand_behind_are_withheld(tiny_model_dir, monkeypatch):
    """A view both unsure and unconverged gives no metrics of its own; with no view passing QC the
    study gives none either (null with the reason), while the curves and points stay for review."""
    from mvtrack.pipeline import study as study_module
    from mvtrack.pipeline.batch import csv_row
    from mvtrack.pipeline.study import analyze_cines

    subject = generate_subject(77, 0)
    cines = [v.cine for v in subject.views.values()]
    models = ModelSet(tiny_model_dir)
    monkeypatch.setattr(study_module, "is_unreliable", lambda spread, change: True)
    result = analyze_cines(cines, "s", models, stage2_passes=2, search=False).result
    for metrics in (result["metrics"], *(v["metrics"] for v in result["views"].values())):
        assert metrics["mapse_mm"] is None and metrics["e_prime_cm_s"] is None
        assert "did not pass QC" in metrics["reasons"]["mapse_mm"] or "passed QC" in metrics["reasons"]["mapse_mm"]
    assert len(result["displacement_mm"]) == len(result["times_s"]) and result["qc"]["needs_review"]
    row = csv_row(result)  # the cohort table: empty cells, and why
    assert row["mapse_mm"] == "" and "passed QC" in row["metrics_withheld_because"]
    monkeypatch.setattr(study_module, "is_unreliable", lambda spread, change: bool(spread.shape[0] == len(cines[1].times_s)))
    result = analyze_cines(cines, "s", models, stage2_passes=2, search=False).result
    assert result["metrics"]["mapse_mm"] is not None and result["study_views"] == [cines[0].view]


def test_a_critic_that_disagrees_withholds_the_view_and_one_that_agrees_does_not(tiny_model_dir, tmp_path):
    """Confident but wrong is what the other flags miss: a second stage-2 network that reads the frames
    differently (the manifest's critics) must agree with stage 2, or the view gives no metrics."""
    from mvtrack.pipeline.qc import MAX_CRITIC_DISAGREEMENT_MM, critic_flag
    from mvtrack.pipeline.study import analyze_cines

    assert ModelSet(tiny_model_dir).critic("4CH") is None  # no critics, no check
    cines = [v.cine for v in generate_subject(77, 1).views.values()]
    agreeing = with_critics(tiny_model_dir, tmp_path / "same", {"2CH": "2ch_stage2.onnx", "4CH": "4ch_stage2.onnx"})
    result = analyze_cines(cines, "s", agreeing, stage2_passes=2, search=False).result
    for view in result["views"].values():
        assert view["critic_disagreement_mm"] == pytest.approx(0.0, abs=1e-3)
    assert not any("second network" in reason for reason in result["qc"]["reasons"])
    # the 4CH's critic: another network (the 2CH's stage 2: other random weights, another head)
    other = with_critics(tiny_model_dir, tmp_path / "other", {"4CH": "2ch_stage2.onnx"})
    result = analyze_cines(cines, "s", other, stage2_passes=2, search=False).result
    disagreement = result["views"]["4CH"]["critic_disagreement_mm"]
    assert disagreement > MAX_CRITIC_DISAGREEMENT_MM and result["views"]["2CH"]["critic_disagreement_mm"] is None
    assert result["views"]["4CH"]["metrics"]["mapse_mm"] is None
    assert "second network" in result["views"]["4CH"]["metrics"]["reasons"]["mapse_mm"]
    assert any(r.startswith("4CH: a second network") for r in result["qc"]["reasons"])
    assert critic_flag(MAX_CRITIC_DISAGREEMENT_MM, "2CH") is None
    assert "2CH" in critic_flag(9.0, "2CH")


def test_an_ensemble_stage2_averages_its_networks_and_its_disagreement_is_the_check(tiny_model_dir, tmp_path):
    """An ensemble's points are the mean of its members'; its members' disagreement on the last pass
    is the second opinion QC checks (no critic needed): identical members agree, others do not."""
    from mvtrack.geometry import CROP_SHAPE
    from mvtrack.pipeline.qc import MAX_CRITIC_DISAGREEMENT_MM
    from mvtrack.pipeline.study import analyze_cines

    plain = ModelSet(tiny_model_dir)
    mixed = with_ensemble(tiny_model_dir, tmp_path / "mixed", "4CH", "2ch_stage2.onnx")
    crops = np.random.default_rng(0).random((3, *CROP_SHAPE)).astype(np.float32)
    expected = (plain.network("4CH", 2).predict(crops) + plain.network("2CH", 2).predict(crops)) / 2
    ensemble = mixed.network("4CH", 2)
    np.testing.assert_allclose(ensemble.predict(crops), expected, atol=1e-4)
    # each member on its own, from the ensemble's memory of these crops, and not stale on others
    np.testing.assert_allclose(ensemble.member(1).predict(crops), plain.network("2CH", 2).predict(crops), atol=1e-4)
    others = crops[::-1].copy()
    np.testing.assert_allclose(ensemble.member(0).predict(others), plain.network("4CH", 2).predict(others), atol=1e-4)
    assert "+" in mixed.ids()["4ch_stage2"] and "+" not in mixed.ids()["2ch_stage2"]

    cines = [v.cine for v in generate_subject(77, 1).views.values()]
    same = with_ensemble(tiny_model_dir, tmp_path / "same", "4CH", "4ch_stage2.onnx")
    result = analyze_cines(cines, "s", same, stage2_passes=2, search=False).result
    assert result["views"]["4CH"]["critic_disagreement_mm"] == pytest.approx(0.0, abs=1e-3)
    assert result["views"]["2CH"]["critic_disagreement_mm"] is None  # a single network, no critic: no check
    result = analyze_cines(cines, "s", mixed, stage2_passes=2, search=False).result
    assert result["views"]["4CH"]["critic_disagreement_mm"] > MAX_CRITIC_DISAGREEMENT_MM
    assert result["views"]["4CH"]["metrics"]["mapse_mm"] is None


def test_a_live_runs_staging_is_left_alone_and_a_dead_ones_removed(tmp_path):
    import os
    import subprocess
    import sys

    from mvtrack.pipeline.batch import _abandoned, _owner

    live = tmp_path / f".s1.{_owner()}.abc"
    live.mkdir()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    dead = tmp_path / f".s1.{_owner().rsplit('-', 1)[0]}-{dead_pid}.xyz"
    dead.mkdir()
    other_host = tmp_path / f".s1.some_other_host-{os.getpid()}.q"
    other_host.mkdir()
    assert not _abandoned(live, "s1") and _abandoned(dead, "s1") and not _abandoned(other_host, "s1")


def _model_with_3ch_networks(folder) -> ModelSet:
    """A model folder whose 3CH networks are the shipped 2CH ones under 3CH names (the same
    architecture): exercises the 3CH plumbing of analyze, not 3CH accuracy."""
    import shutil

    from mvtrack.models.store import MANIFEST, read_manifest, shipped_model_dir

    shipped = read_manifest(shipped_model_dir())["networks"]
    networks = {}
    for stage in (1, 2):
        entry = dict(shipped[f"2ch_stage{stage}"])
        for key in ("onnx", "weights"):
            shutil.copy(shipped_model_dir() / entry[key], folder / entry[key].replace("2ch", "3ch"))
            entry[key] = entry[key].replace("2ch", "3ch")
        entry["network"] = {**entry["network"], "view": "3CH"}
        networks[f"3ch_stage{stage}"] = entry
    (folder / MANIFEST).write_text(json.dumps({"model_id": "test-3ch", "networks": networks}))
    return ModelSet(folder)


def test_a_model_with_3ch_networks_tracks_the_3ch_and_keeps_the_papers_metrics(tmp_path):
    from mvtrack.metrics import clinical_metrics, combine_views
    from mvtrack.synth.writer import write_subject

    study = write_subject(generate_subject(78, 0, views=("2CH", "4CH", "3CH")), tmp_path / "studies", "dicom")
    (tmp_path / "model").mkdir()
    with_3ch = analyze_study(study, models=_model_with_3ch_networks(tmp_path / "model")).result
    assert set(with_3ch["views"]) == {"2CH", "4CH", "3CH"}
    assert with_3ch["views"]["3CH"]["point_names"] == ["anterior", "inferolateral"]
    assert any(line.startswith("3CH: series") for line in with_3ch["series_selection"])
    assert "3CH" in with_3ch["study_views"], with_3ch["qc"]
    # the paper's metrics are those of the 2CH and 4CH curves alone, and differ from all three views'
    views = with_3ch["views"]
    paper = clinical_metrics(*combine_views([(np.asarray(views[v]["times_s"]), np.asarray(views[v]["displacement_mm"]),
                                              views[v]["rr_s"]) for v in ("2CH", "4CH")]), smooth=False)
    assert with_3ch["metrics_2ch_4ch"]["mapse_mm"] == pytest.approx(paper.mapse_mm, abs=1e-6)
    assert with_3ch["metrics"]["mapse_mm"] != pytest.approx(paper.mapse_mm, abs=1e-3)
    # evaluate scores the 3CH against the generator's truth like the other views
    from mvtrack.evaluate.study import evaluate

    (tmp_path / "results" / study.name).mkdir(parents=True)
    (tmp_path / "results" / study.name / "results.json").write_text(json.dumps(with_3ch))
    scored = evaluate(tmp_path / "results", tmp_path / "studies")
    assert {view for _, view in scored.frames} == {"2CH", "4CH", "3CH"}
    # the shipped model has no 3CH networks: the 3CH series is skipped, saying why
    shipped = analyze_study(study).result
    assert set(shipped["views"]) == {"2CH", "4CH"} and shipped["metrics_2ch_4ch"] == shipped["metrics"]
    assert any(line.startswith("skipped") and "the model has no 3CH networks" in line for line in shipped["series_selection"]), \
        shipped["series_selection"]
