from __future__ import annotations

import numpy as np
import pytest

from mvtrack.metrics import clinical_metrics, combine_views, displacement_mm, velocity_cm_s
from mvtrack.synth.motion import MotionParams, mv_displacement_mm, physiological_timing


def _curve(rr=1.0, n=30, mapse=13.0, e_over_a=1.6):
    params = MotionParams(rr_s=rr, mapse_mm=mapse, e_over_a=e_over_a, **physiological_timing(rr))
    times = np.arange(n) * rr / n
    return params, times, mv_displacement_mm(params, times)


def test_displacement_is_signed_toward_apex_and_uses_spacing():
    # MV line horizontal at row 50; the apex is up (smaller rows); points move up by 4 px then back
    shift = np.array([0, 4, 6, 2, 0.0])
    points = np.zeros((5, 2, 2))
    points[:, 0] = np.stack([np.full(5, 40.0), 50 - shift], axis=1)
    points[:, 1] = np.stack([np.full(5, 70.0), 50 - shift], axis=1)
    np.testing.assert_allclose(displacement_mm(points, (1.5, 2.0)), shift * 1.5)


def test_displacement_averages_the_two_points_on_a_tilted_line():
    points = np.array([[[0, 0], [30, 30]], [[0 + 2, 0 - 2], [30, 30]]], dtype=float)
    # first point moves 2*sqrt(2) px along the normal, second is still; mean = sqrt(2) px
    assert abs(displacement_mm(points, (1.0, 1.0))[1]) == pytest.approx(np.sqrt(2))


@pytest.mark.parametrize("rr,n", [(1.0, 30), (0.8, 25), (1.3, 40), (1.5, 50)])
def test_metrics_on_analytic_curves(rr, n):
    params, times, disp = _curve(rr, n)
    assert not params.lobes_overlap
    metrics = clinical_metrics(times, disp, rr)
    assert metrics.mapse_mm == pytest.approx(params.mapse_mm, abs=0.15)
    assert metrics.s_prime_cm_s == pytest.approx(params.s_prime_cm_s, abs=0.3)
    assert metrics.e_prime_cm_s == pytest.approx(params.e_prime_cm_s, abs=0.5)
    assert metrics.a_prime_cm_s == pytest.approx(params.a_prime_cm_s, abs=1.0)
    assert metrics.reasons == {}


def test_metrics_stable_under_tracking_noise():
    """0.3 mm of frame-wise noise: mean error of s' and e' below 0.8 cm/s, MAPSE below 0.5 mm."""
    params, times, disp = _curve(1.0, 30)
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(30):
        m = clinical_metrics(times, disp + rng.normal(0, 0.3, disp.shape), 1.0)
        errors.append([m.mapse_mm - params.mapse_mm, m.s_prime_cm_s - params.s_prime_cm_s,
                       m.e_prime_cm_s - params.e_prime_cm_s])
    errors = np.abs(np.mean(errors, axis=0))
    assert errors[0] < 0.5 and errors[1] < 0.8 and errors[2] < 0.8


def test_merged_e_and_a_give_none_with_reason():
    params, times, disp = _curve(rr=0.5, n=20)
    assert params.lobes_overlap
    metrics = clinical_metrics(times, disp, 0.5)
    assert metrics.e_prime_cm_s is None and metrics.a_prime_cm_s is None
    assert "merged" in metrics.reasons["e_prime_cm_s"]
    assert metrics.mapse_mm == pytest.approx(params.mapse_mm, abs=0.2)


def test_missing_atrial_kick_keeps_e_prime():
    params = MotionParams(rr_s=1.0, mapse_mm=12, e_over_a=1e6, **physiological_timing(1.0))
    times = np.arange(30) / 30
    metrics = clinical_metrics(times, mv_displacement_mm(params, times), 1.0)
    assert metrics.e_prime_cm_s == pytest.approx(params.e_prime_cm_s, abs=0.5)
    assert metrics.a_prime_cm_s is None and "atrial" in metrics.reasons["a_prime_cm_s"]


def test_velocity_is_periodic_derivative():
    params, times, disp = _curve(1.0, 40)
    v = velocity_cm_s(times, disp, 1.0, smooth=False)
    from mvtrack.synth.motion import mv_velocity_mm_s

    np.testing.assert_allclose(v, mv_velocity_mm_s(params, times) / 10, atol=0.5)


def test_combine_views_on_different_time_grids():
    params, t1, d1 = _curve(1.0, 30)
    t2 = np.arange(25) * 1.0 / 25
    d2 = mv_displacement_mm(params, t2)
    times, combined, rr = combine_views([(t1, d1, 1.0), (t2, d2 * 0.8, 1.0)])
    assert len(times) == 30 and rr == 1.0
    np.testing.assert_allclose(combined, 0.9 * mv_displacement_mm(params, times), atol=0.15)
