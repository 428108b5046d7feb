from __future__ import annotations

import json

import numpy as np
import pytest

from mvtrack.results import ResultError, ViewTrack, build_result, read_result, write_result
from mvtrack.synth.motion import MotionParams, mv_displacement_mm


def _view(n=30, rr=1.0):
    times = np.arange(n) * rr / n
    shift = mv_displacement_mm(MotionParams(rr_s=rr), times) / 1.5  # px toward +y (apex down)
    points = np.zeros((n, 2, 2))
    points[:, 0] = np.stack([np.full(n, 40.0), 60 + shift], axis=1)
    points[:, 1] = np.stack([np.full(n, 75.0), 60 + shift], axis=1)
    return ViewTrack(points, ("anterior", "inferior"), times, (1.5, 1.5), rr, "1.2.3")


def test_result_contract_roundtrip(tmp_path):
    result = build_result("patient1", {"2CH": _view(), "4CH": _view(25)}, {"2CH": "m1"}, "0.1.0")
    path = tmp_path / "patient1" / "results.json"
    write_result(result, path)
    back = read_result(path)
    assert back["metrics"]["mapse_mm"] == pytest.approx(12.0, abs=0.1)
    assert np.asarray(back["views"]["2CH"]["points_px"]).shape == (30, 2, 2)
    assert len(back["times_s"]) == 30
    assert not list(path.parent.glob(".*tmp"))


def test_invalid_result_is_refused_and_good_file_kept(tmp_path):
    path = tmp_path / "results.json"
    good = build_result("p", {"2CH": _view()}, {}, "0.1.0")
    write_result(good, path)
    bad = json.loads(json.dumps(good))
    bad["views"]["2CH"]["points_px"] = bad["views"]["2CH"]["points_px"][:-1]
    with pytest.raises(ResultError, match="view 2CH has 30 times"):
        write_result(bad, path)
    bad2 = dict(good, views={"5CH": good["views"]["2CH"]})  # not a view
    with pytest.raises(ResultError):
        write_result(bad2, path)
    assert read_result(path)["study"] == "p"


def test_refined_tracks_are_not_smoothed_twice():
    from mvtrack.pipeline.track import refine_over_time

    view = _view()
    motion = MotionParams(rr_s=1.0)
    e_true_cm_s = 2 * motion.mapse_mm * motion.e_over_a / (1 + motion.e_over_a) / motion.e_duration_s / 10
    view.points_px = refine_over_time(view.points_px, view.times_s, view.rr_s)
    once = build_result("p", {"2CH": view}, {}, "0.1.0", smooth_curves=False)
    twice = build_result("p", {"2CH": view}, {}, "0.1.0", smooth_curves=True)
    assert once["curves_smoothed"] is False and twice["curves_smoothed"] is True
    error_once = abs(once["metrics"]["e_prime_cm_s"] - e_true_cm_s)
    error_twice = abs(twice["metrics"]["e_prime_cm_s"] - e_true_cm_s)
    assert twice["metrics"]["e_prime_cm_s"] < once["metrics"]["e_prime_cm_s"] and error_once < error_twice


def test_study_metrics_from_chosen_views_only():
    from mvtrack.pipeline.qc import is_unreliable, view_flags

    good, bad = _view(), _view()
    bad.points_px = bad.points_px.copy()
    bad.points_px[:, :, 1] = 60.0  # no motion at all
    both = build_result("p", {"2CH": good, "4CH": bad}, {}, "0.1.0")
    only = build_result("p", {"2CH": good, "4CH": bad}, {}, "0.1.0", study_views=["2CH"])
    assert only["study_views"] == ["2CH"] and both["study_views"] == ["2CH", "4CH"]
    assert only["metrics"]["mapse_mm"] == pytest.approx(only["views"]["2CH"]["metrics"]["mapse_mm"])
    assert both["metrics"]["mapse_mm"] < 0.6 * only["metrics"]["mapse_mm"]
    assert "4CH" in only["views"]  # the left-out view keeps its own entry
    with pytest.raises(ResultError, match="study views"):
        build_result("p", {"2CH": good}, {}, "0.1.0", study_views=["4CH"])
    # Only a view both unsure and unconverged is left out; each condition is flagged on its own.
    unsure, sure = np.full((30, 2), 3.0), np.full((30, 2), 0.5)
    assert is_unreliable(unsure, 8.0)
    assert not is_unreliable(unsure, 0.5) and not is_unreliable(sure, 8.0) and not is_unreliable(unsure, None)
    flags = view_flags(good.points_px, good.points_px, unsure, (1.5, 1.5), "4CH", last_pass_change_mm=8.0)
    assert any("low confidence" in f for f in flags) and any("not converged" in f for f in flags)
