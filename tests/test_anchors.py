"""Reader anchors: the interpolated-offset rule, the reviewed result and ``analyze --anchors``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mvtrack.cli import app
from mvtrack.pipeline.anchors import (
    AnchorError,
    anchored_phases,
    anchored_points,
    anchors_for_views,
    anchors_from_result,
    read_anchors_file,
    review_result,
)
from mvtrack.results import read_result, validate_result

runner = CliRunner()


def _track(n: int = 20) -> tuple[np.ndarray, np.ndarray, float]:
    """Points moving 6 px toward +y and back over one cycle of ``n`` frames, 40 ms apart."""
    times = np.arange(n) * 0.04
    rr = n * 0.04
    y = 6 * np.sin(np.pi * np.arange(n) / n) ** 2
    points = np.zeros((n, 2, 2))
    points[:, 0] = np.stack([np.full(n, 10.0), 20 + y], axis=1)
    points[:, 1] = np.stack([np.full(n, 30.0), 20 + y], axis=1)
    return points, times, rr


def test_no_anchor_keeps_the_track():
    points, times, rr = _track()
    np.testing.assert_array_equal(anchored_points(points, {}, times, rr), points)


def test_one_anchor_shifts_the_whole_cycle():
    points, times, rr = _track()
    anchor = points[5] + [[1.0, -2.0], [3.0, 0.5]]
    moved = anchored_points(points, {5: anchor}, times, rr)
    np.testing.assert_allclose(moved - points, np.broadcast_to(anchor - points[5], points.shape))


def test_two_anchors_interpolate_in_time_around_the_cycle():
    points, times, rr = _track()
    ed, es = points[0] + 2.0, points[10] - 1.0
    moved = anchored_points(points, {0: ed, 10: es}, times, rr)
    np.testing.assert_array_equal(moved[0], ed)  # anchored frames keep the reader's points exactly
    np.testing.assert_array_equal(moved[10], es)
    np.testing.assert_allclose(moved[5] - points[5], 0.5, atol=1e-12)  # halfway from +2 to -1
    np.testing.assert_allclose(moved[15] - points[15], 0.5, atol=1e-12)  # halfway from -1 back to +2 (next ED)
    np.testing.assert_allclose(moved[19] - points[19], 2.0 - 3.0 / 10, atol=1e-12)


def test_phases_of_the_anchors():
    points, times, rr = _track()
    spacing = (1.0, 1.0)
    assert anchored_phases([0, 10], points, times, rr, spacing) == {"ed": True, "es": True}
    assert anchored_phases([19, 11], points, times, rr, spacing) == {"ed": True, "es": True}  # within a tenth of RR
    assert anchored_phases([0], points, times, rr, spacing) == {"ed": True, "es": False}
    assert anchored_phases([5, 15], points, times, rr, spacing) == {"ed": False, "es": False}


def _result(points: np.ndarray, times: np.ndarray, rr: float, withheld: bool) -> dict:
    from mvtrack.pipeline.study import withheld_metrics
    from mvtrack.results import ViewTrack, build_result

    views = {"2CH": ViewTrack(points, ("anterior", "inferior"), times, (1.0, 1.0), rr, "1.2.3",
                              extra={"frame_shape_hw": [60, 60], "geometry": None})}
    result = build_result("study", views, {"2ch_stage1": "x"}, "0.0", smooth_curves=False)
    reasons = ["2CH: stage 2 not converged (its last pass moved the points 4.0 mm > 3.0 mm)"]
    if withheld:
        result["views"]["2CH"]["metrics"] = withheld_metrics(result["views"]["2CH"]["metrics"], "did not pass QC (x)")
        result["metrics"] = withheld_metrics(result["metrics"], "no view's tracking passed QC")
        result["withheld_views"] = {"2CH": "stage 2 unsure and not converged"}
    result["qc"] = {"needs_review": True, "reasons": reasons}
    return result


def test_a_lost_view_is_rescued_by_ed_and_es_anchors():
    truth, times, rr = _track()
    lost = np.broadcast_to(truth[0] + [[25.0, -18.0], [22.0, -15.0]], truth.shape).copy()  # no motion, far off
    result = _result(lost, times, rr, withheld=True)
    assert result["metrics"]["mapse_mm"] is None
    reviewed = review_result(result, {"2CH": {0: truth[0], 10: truth[10]}}, when="2026-12-06T20:00:00+00:00")
    validate_result(reviewed)
    view = reviewed["views"]["2CH"]
    error = np.linalg.norm(np.asarray(view["points_px"]) - truth, axis=2)
    assert error.max() < 1e-9 + 6.0 and np.median(error) < 3.5  # from ~30 px off everywhere
    assert view["metrics"]["mapse_mm"] == pytest.approx(6.0, abs=0.5)  # the reader's excursion
    assert reviewed["metrics"]["mapse_mm"] is not None
    assert reviewed["review"]["reader_confirmed"] == ["2CH"] and reviewed["review"]["numbers_rest_on_reader_anchors"]
    assert not any(r.startswith("2CH:") for r in reviewed["qc"]["reasons"])
    assert any("reader-confirmed" in note for note in reviewed["qc"]["notes"])
    np.testing.assert_allclose(view["review"]["points_px_auto"], lost)


def test_one_anchor_is_not_a_confirmation():
    truth, times, rr = _track()
    result = _result(truth + 3.0, times, rr, withheld=True)
    reviewed = review_result(result, {"2CH": {0: truth[0]}})
    assert reviewed["views"]["2CH"]["metrics"]["mapse_mm"] is None  # still withheld
    assert reviewed["review"]["reader_confirmed"] == []
    np.testing.assert_allclose(reviewed["views"]["2CH"]["points_px"], truth, atol=1e-4)


def test_review_again_starts_from_the_automatic_points_and_reset_undoes_it():
    truth, times, rr = _track()
    result = _result(truth + 3.0, times, rr, withheld=False)
    first = review_result(result, {"2CH": {0: truth[0], 10: truth[10]}})
    second = review_result(first, {"2CH": {0: truth[0] + 1.0}})
    np.testing.assert_allclose(second["views"]["2CH"]["points_px"], truth + 1.0, atol=1e-4)
    assert anchors_from_result(second)["2CH"].keys() == {0}
    reset = review_result(second, {})
    assert "review" not in reset and "review" not in reset["views"]["2CH"]
    np.testing.assert_allclose(reset["views"]["2CH"]["points_px"], result["views"]["2CH"]["points_px"])
    assert reset["metrics"]["mapse_mm"] == pytest.approx(result["metrics"]["mapse_mm"])


@pytest.mark.parametrize("entry, message", [
    ({"2CH": {"x": [[1, 2], [3, 4]]}}, "not a whole number"),
    ({"2CH": {"25": [[1, 2], [3, 4]]}}, "outside the cine's frames"),
    ({"2CH": {"0": [[1, 2]]}}, "[[x, y], [x, y]]"),
    ({"2CH": {"0": [[1, 2], [3, 400]]}}, "outside the 60 x 60 frame"),
    ({"4CH": {"0": [[1, 2], [3, 4]]}}, "tracked views are 2CH"),
])
def test_bad_anchors_are_one_line(entry, message):
    truth, times, rr = _track()
    result = _result(truth, times, rr, withheld=False)
    with pytest.raises(AnchorError, match=message.replace("[", r"\[").replace("]", r"\]")):
        anchors_for_views(entry, result["views"], "anchors.json")


def test_anchors_by_series_uid_and_file_forms(tmp_path):
    truth, times, rr = _track()
    result = _result(truth, times, rr, withheld=False)
    assert anchors_for_views({"1.2.3": {"0": [[1, 2], [3, 4]]}}, result["views"], "a").keys() == {"2CH"}
    path = tmp_path / "anchors.json"
    path.write_text(json.dumps({"2ch": {"0": [[1, 2], [3, 4]]}}))
    assert read_anchors_file(path) == {"": {"2ch": {"0": [[1, 2], [3, 4]]}}}
    path.write_text(json.dumps({"patient7": {"4CH": {"0": [[1, 2], [3, 4]]}}}))
    assert set(read_anchors_file(path)) == {"patient7"}
    path.write_text("{not json")
    with pytest.raises(AnchorError, match="unreadable anchors file"):
        read_anchors_file(path)


def test_cli_analyze_with_anchors(tiny_model_dir, synthetic_root, tmp_path):
    study = sorted(p for p in synthetic_root.iterdir() if p.is_dir())[0]
    out = tmp_path / "out"
    assert runner.invoke(app, ["analyze", str(study), "--out", str(out), "--model", str(tiny_model_dir),
                               "--no-movies"]).exit_code == 0
    auto = read_result(out / study.name / "results.json")
    assert (out / study.name / "cines" / "2CH.npz").exists()
    points = np.asarray(auto["views"]["4CH"]["points_px"])
    es = len(points) // 3
    anchors = {"4CH": {"0": (points[0] + 2).tolist(), str(es): (points[es] - 2).tolist()}}
    path = tmp_path / "anchors.json"
    path.write_text(json.dumps(anchors))
    result = runner.invoke(app, ["analyze", str(study), "--out", str(out), "--model", str(tiny_model_dir),
                                 "--no-movies", "--anchors", str(path)])
    assert result.exit_code == 0, result.output
    reviewed = read_result(out / study.name / "results.json")
    np.testing.assert_allclose(reviewed["views"]["4CH"]["points_px"][0], points[0] + 2, atol=1e-3)
    assert reviewed["review"]["anchors"]["4CH"].keys() == {"0", str(es)}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"3CH": {"0": [[1, 2], [3, 4]]}}))
    result = runner.invoke(app, ["analyze", str(study), "--out", str(out), "--model", str(tiny_model_dir),
                                 "--no-movies", "--anchors", str(bad)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "anchors for 3CH" in result.output
    assert read_result(out / study.name / "results.json")["review"]["anchors"]["4CH"]  # the good result kept
