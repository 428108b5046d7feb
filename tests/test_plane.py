"""The MV plane in patient coordinates, rest periods and the slice-following export (issue 16)."""

from __future__ import annotations

import csv

import numpy as np

from mvtrack.metrics import clinical_metrics
from mvtrack.metrics.plane import fit_plane, points_at_phases
from mvtrack.metrics.rest import rest_windows
from mvtrack.pipeline.plane import study_plane


def test_plane_fit_recovers_a_known_plane():
    rng = np.random.default_rng(0)
    normal = np.array([1.0, 2.0, -2.0]) / 3.0
    a = np.cross(normal, [1.0, 0, 0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    centre = np.array([10.0, -20.0, 30.0])
    points = centre + rng.uniform(-15, 15, (6, 1)) * a + rng.uniform(-15, 15, (6, 1)) * b
    fitted_centre, fitted_normal, residual = fit_plane(points)
    assert residual < 1e-9 and abs(abs(fitted_normal @ normal) - 1) < 1e-9
    np.testing.assert_allclose(fitted_centre, points.mean(0))
    _, _, off = fit_plane(points + np.outer([1, -1, 1, -1, 1, -1], normal) * 2.0)
    assert 1.0 < off <= 2.0 + 1e-9  # the fit may tilt a little toward the alternating offsets


def test_points_at_phases_resamples_each_cycle_onto_one_phase_grid():
    """A cine of 20 frames and one of 30 frames of the same motion agree at every phase of a 10-phase grid."""
    def cine(n, rr):
        times = np.arange(n) * rr / n + 0.02  # the first frame some ms after the R wave
        phase = (times - times[0]) / rr
        points = np.stack([np.stack([np.cos(2 * np.pi * phase), np.sin(2 * np.pi * phase), phase * 0], -1)] * 2, 1)
        return points * 5.0, times, rr

    slow = points_at_phases(*cine(20, 1.0), 10)
    fast = points_at_phases(*cine(30, 0.8), 10)
    assert slow.shape == (10, 2, 3)
    np.testing.assert_allclose(slow, fast, atol=0.05)
    np.testing.assert_allclose(slow[0, 0], [5.0, 0.0, 0.0], atol=1e-9)


def test_synthetic_subject_plane_is_its_mv_plane():
    """The generator's two views share one 3D heart: fitted to the truth points, the MV plane's normal
    is the subject's long axis and its centre the MV centre (up to the 1-4 mm planning miss)."""
    from mvtrack.synth.generator import _heart_pose, generate_subject

    subject = generate_subject(9001, 4)
    pose = _heart_pose(np.random.default_rng([9001, 4, 77]), ("2CH", "4CH"))
    cines = {view: v.cine for view, v in subject.views.items()}
    entry, flags = study_plane(cines, {view: v.points_px for view, v in subject.views.items()}, ["2CH", "4CH"])
    assert not flags and entry["residual_median_mm"] < 3.0
    normal = np.asarray(entry["normal"][0])
    assert np.degrees(np.arccos(np.clip(normal @ pose.long_axis, -1, 1))) < 12.0  # toward the apex
    assert np.linalg.norm(np.asarray(entry["centre_mm"][0]) - pose.mv_centre_mm) < 8.0


def test_a_view_of_another_position_is_flagged():
    """A breath-hold 15 mm deeper for the 4CH: its heart sits 15 mm further along the long axis."""
    from dataclasses import replace

    from mvtrack.synth.generator import _heart_pose, generate_subject

    subject = generate_subject(9001, 4)
    pose = _heart_pose(np.random.default_rng([9001, 4, 77]), ("2CH", "4CH"))
    cines = {view: v.cine for view, v in subject.views.items()}
    cines["4CH"] = replace(cines["4CH"], position_mm=cines["4CH"].position_mm + 15.0 * pose.long_axis)
    _, flags = study_plane(cines, {view: v.points_px for view, v in subject.views.items()}, ["2CH", "4CH"])
    assert flags and "one plane" in flags[0]


def _cycle(rr_s: float, n: int = 40):
    """A displacement curve (mm) with s', e', diastasis and a' whose phases scale like a real heart's:
    systole and early filling last about as long at any rate, diastasis takes what is left."""
    t = np.arange(n) * rr_s / n
    es, e_len, a_len = 0.33, 0.16, 0.14
    d = np.where(t < es, 12 * np.sin(np.pi / 2 * t / es) ** 2, 0.0)
    td = t - es
    plateau_end = rr_s - a_len
    early = 12 - 7 * np.sin(np.pi / 2 * np.clip(td / e_len, 0, 1)) ** 2
    late = 5 * np.cos(np.pi / 2 * np.clip((t - plateau_end) / a_len, 0, 1)) ** 2
    d = np.where(t >= es, np.where(t < es + e_len, early, np.where(t < plateau_end, 5.0, late)), d)
    return t, d


def test_diastasis_is_longer_at_a_slow_heart_rate_and_absent_when_fast():
    lengths = {}
    for rr in (0.8, 1.2):
        t, d = _cycle(rr)
        metrics = clinical_metrics(t, d, rr)
        rest = rest_windows(t, d, rr, metrics.end_systole_s)
        lengths[rr] = rest["diastasis"]["length_ms"]
        assert rest["diastasis"]["start_ms"] > metrics.end_systole_s * 1000
    assert lengths[1.2] > lengths[0.8] + 300
    # A fast heart: e' runs straight into a' (no plateau).
    rr = 0.45
    t = np.arange(30) * rr / 30
    d = 10 * np.sin(np.pi * t / rr) ** 2
    rest = rest_windows(t, d, rr, float(t[np.argmax(d)]))
    assert rest["diastasis"] is None and "merge" in rest["reasons"]["diastasis"]


def test_plane_csv_reads_back(tmp_path):
    from mvtrack.pipeline.batch import PLANE_CSV_COLUMNS, write_plane_csv

    result = {"mv_plane": {"times_s": [0.0, 0.5], "centre_mm": [[1.0, 2.0, 3.0], [1.5, 2.0, 2.0]],
                           "normal": [[0.0, 0.6, 0.8], [0.0, 0.8, 0.6]], "residual_mm": [1.2, 0.8]}}
    write_plane_csv(result, tmp_path / "mv_plane.csv")
    with open(tmp_path / "mv_plane.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == PLANE_CSV_COLUMNS and len(rows) == 2
    assert float(rows[1]["trigger_time_ms"]) == 500.0 and float(rows[1]["normal_y"]) == 0.8
    write_plane_csv({"mv_plane": {"plane": None, "reason": "one view only"}}, tmp_path / "none.csv")
    assert "one view only" in (tmp_path / "none.csv").read_text()
