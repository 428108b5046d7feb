from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from mvtrack.cli import app
from mvtrack.evaluate.agreement import agreement, icc_a1
from mvtrack.evaluate.points import angular_errors_deg, point_errors_mm, swapped_frames
from mvtrack.evaluate.study import evaluate, summarise
from mvtrack.synth.generator import generate_subject
from mvtrack.synth.writer import truth_result


def test_icc_matches_shrout_and_fleiss_worked_example():
    # Shrout & Fleiss (1979), Psychol Bull 86:420, Table 2: 6 targets x 4 judges; ICC(2,1) = 0.29
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    icc, ci = icc_a1(ratings)
    assert icc == pytest.approx(0.29, abs=0.005)
    assert ci[0] < icc < ci[1]


def test_agreement_of_identical_and_shifted_measures():
    values = np.array([10.0, 12.5, 8.0, 15.0, 11.0])
    same = agreement(values, values)
    assert same["icc"] == 1.0 and same["bias"] == 0.0
    shifted = agreement(values + 1.0, values)
    assert shifted["bias"] == pytest.approx(1.0) and shifted["pearson_r"] == pytest.approx(1.0)
    assert shifted["icc"] < 1.0 and shifted["slope"] == pytest.approx(1.0)


def test_point_and_angle_errors():
    ref = np.array([[[0.0, 0.0], [10.0, 0.0]]])
    pred = np.array([[[0.0, 1.0], [10.0, 1.0 + 10 * np.tan(np.radians(5))]]])
    np.testing.assert_allclose(point_errors_mm(pred, ref, (2.0, 1.0))[0, 0], 2.0)
    np.testing.assert_allclose(angular_errors_deg(pred, ref, (1.0, 1.0)), [5.0], atol=1e-9)
    assert swapped_frames(pred[:, ::-1], ref).all() and not swapped_frames(pred, ref).any()


@pytest.fixture(scope="module")
def truth_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    for index in range(4):
        subject = generate_subject(31, index)
        folder = root / subject.subject_id
        folder.mkdir()
        (folder / "truth.json").write_text(json.dumps(truth_result(subject, {})))
    return root


def test_a_set_against_itself(truth_folder, tmp_path):
    pred = tmp_path / "pred"
    for folder in truth_folder.iterdir():
        (pred / folder.name).mkdir(parents=True)
        shutil.copy(folder / "truth.json", pred / folder.name / "results.json")
    summary = summarise(evaluate(pred, truth_folder))
    assert summary["studies"] == 4
    for row in summary["spatial"].values():
        assert row["euclidean_mm"][0] == 0 and row["angle_deg"][0] == pytest.approx(0, abs=1e-6)
        assert row["swapped_frames"] == 0
    assert summary["clinical"]["final"]["mapse_mm"]["icc"] == 1.0


def test_swapped_names_are_flagged_and_numbers_recomputed(truth_folder, tmp_path):
    pred = tmp_path / "pred"
    rng = np.random.default_rng(0)
    for folder in truth_folder.iterdir():
        data = json.loads((folder / "truth.json").read_text())
        data["views"]["2CH"]["points_px"] = np.asarray(data["views"]["2CH"]["points_px"])[:, ::-1].tolist()
        four = np.asarray(data["views"]["4CH"]["points_px"])
        data["views"]["4CH"]["points_px"] = (four + rng.normal(0, 0.5, four.shape)).tolist()
        (pred / folder.name).mkdir(parents=True)
        (pred / folder.name / "results.json").write_text(json.dumps(data))
    evaluation = evaluate(pred, truth_folder)
    summary = summarise(evaluation)
    assert summary["spatial"]["final/2CH"]["swapped_frames"] == summary["spatial"]["final/2CH"]["n_frames"]
    # independent recomputation of the 4CH Euclidean error
    errors = []
    for folder in sorted(truth_folder.iterdir()):
        ref = json.loads((folder / "truth.json").read_text())["views"]["4CH"]
        got = json.loads((pred / folder.name / "results.json").read_text())["views"]["4CH"]
        d = (np.asarray(got["points_px"]) - np.asarray(ref["points_px"])) * np.array(ref["pixel_spacing_mm"])[::-1]
        errors.append(np.sqrt((d**2).sum(-1)).ravel())
    assert summary["spatial"]["final/4CH"]["euclidean_mm"][0] == pytest.approx(np.concatenate(errors).mean())


def test_cli_evaluate_writes_tables_and_figures(truth_folder, tmp_path):
    pred = tmp_path / "pred"
    for folder in truth_folder.iterdir():
        (pred / folder.name).mkdir(parents=True)
        shutil.copy(folder / "truth.json", pred / folder.name / "results.json")
    result = CliRunner().invoke(app, ["evaluate", str(pred), str(truth_folder), "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    assert "ICC(A,1)" in (tmp_path / "eval" / "report.md").read_text()
    assert (tmp_path / "eval" / "agreement_mapse_mm.png").exists()
    assert (tmp_path / "eval" / "agreement_displacement_mm.png").exists()


def test_a_single_study_is_reported_with_no_spread_rather_than_a_crash(truth_folder, tmp_path):
    from mvtrack.evaluate.report import markdown

    one = next(iter(sorted(truth_folder.iterdir())))
    pred = tmp_path / "pred" / one.name
    pred.mkdir(parents=True)
    shutil.copy(one / "truth.json", pred / "results.json")
    summary = summarise(evaluate(tmp_path / "pred", truth_folder))
    assert summary["studies"] == 1
    text = markdown(summary)
    assert "0.00 ± n/a" in text or "0.00 ± 0.00" in text


def test_axial_errors_are_signed_toward_the_apex():
    from mvtrack.evaluate.points import axial_errors_mm

    # MV line horizontal at row 50, moving down the image (toward the apex) in systole
    rows = np.array([50.0, 53.0, 55.0, 52.0])
    reference = np.stack([np.stack([np.array([40.0, r]), np.array([60.0, r])]) for r in rows])
    moved = reference.copy()
    moved[:, :, 1] -= 2.0  # 2 px toward the base (up the image) at 1.5 mm per pixel
    np.testing.assert_allclose(axial_errors_mm(moved, reference, (1.5, 1.5)), -3.0)
    np.testing.assert_allclose(axial_errors_mm(reference, reference, (1.5, 1.5)), 0.0)


def test_phase_frames_find_end_diastole_end_systole_and_late_diastole():
    from mvtrack.evaluate.reference import phase_frames, signed_phase_errors_mm

    times = np.arange(25) * 0.04
    curve = 10 * np.sin(np.pi * np.clip(times / 0.6, 0, 1)) ** 2 * (times < 0.6)  # peak at 0.3 s
    points = np.stack([np.stack([np.array([40.0, 50 + c]), np.array([60.0, 50 + c])]) for c in curve])
    ref = {"points_px": points, "times_s": times, "rr_s": 1.0, "pixel_spacing_mm": (1.0, 1.0)}
    frames = phase_frames(ref)
    assert list(frames["ed"]) == [0]
    assert abs(int(frames["es"][0]) - 8) <= 1
    assert list(frames["late_diastole"]) == [23, 24]
    shifted = points.copy()
    shifted[:, :, 1] -= 1.0
    signed = signed_phase_errors_mm(shifted, ref)
    assert signed["ed"] == pytest.approx(-1.0) and signed["late_diastole"] == pytest.approx(-1.0)


def test_centre_offsets_split_a_landing_into_toward_the_apex_and_along_the_mv_line():
    from mvtrack.evaluate.points import centre_offsets_mm

    # a horizontal MV line from (10, 20) to (30, 20) px, apex down the image; pixels 2 mm tall, 1 mm wide
    reference = np.array([[[10.0, 20.0], [30.0, 20.0]]] * 3)
    shifts_px = np.array([[0.0, 0.0], [0.0, 3.0], [-5.0, -1.0]])  # same; 3 px apical; 5 px back, 1 px atrial
    predicted = reference + shifts_px[:, None, :]
    offsets = centre_offsets_mm(predicted, reference, (2.0, 1.0), np.array([0.0, 1.0]))
    np.testing.assert_allclose(offsets, [[0.0, 0.0], [6.0, 0.0], [-2.0, -5.0]])
    # the line's own direction: reversed point order flips the second column only
    flipped = centre_offsets_mm(predicted[:, ::-1], reference[:, ::-1], (2.0, 1.0), np.array([0.0, 1.0]))
    np.testing.assert_allclose(flipped, offsets * [1.0, -1.0])
