"""MAPSE, s', e' and a' from a displacement curve (paper Fig. 1b).

MAPSE is the maximum of the displacement curve (mm), taken on the same smoothing spline that gives
the velocity so that frame noise does not bias it upward; end-systole is its time. On the velocity
curve (cm/s): s' is the systolic peak (before end-systole); a' is the last negative diastolic peak
and e' the deepest one before it, both reported as magnitudes. When the diastolic peaks merge into one, or one is missing, the value is
None and ``reasons`` says why, rather than reporting a wrong number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mvtrack.metrics.curves import covers_cycle, smoothed_curve, velocity_spline

#: A diastolic velocity dip counts as a peak when its prominence exceeds this (cm/s) ...
MIN_PEAK_PROMINENCE_CM_S = 0.5
#: ... and this fraction of the largest |velocity| of the cycle.
MIN_PEAK_FRACTION = 0.15
#: A lone diastolic peak in the first part of diastole is e'; later it may be e' and a' merged.
EARLY_DIASTOLE_FRACTION = 0.45
#: Below this diastolic duration (s) a lone diastolic peak is taken as e' and a' merged.
MIN_DIASTOLE_FOR_SEPARATE_PEAKS_S = 0.3


@dataclass
class ClinicalMetrics:
    """Headline numbers of one study (or one view). None means "not measurable", see reasons."""

    mapse_mm: float | None
    s_prime_cm_s: float | None
    e_prime_cm_s: float | None
    a_prime_cm_s: float | None
    end_systole_s: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def clinical_metrics(
    times_s: np.ndarray, displacement: np.ndarray, rr_s: float, smooth: bool = True, resolution_s: float = 0.001
) -> ClinicalMetrics:
    """Compute MAPSE (mm) and s', e', a' (cm/s) of one displacement curve.

    Args:
        times_s: (T,) frame times, first frame end-diastole.
        displacement: (T,) mm, positive toward the apex.
        rr_s: RR interval in s.
        smooth: fit a smoothing spline before differentiating (recommended for tracked points).
        resolution_s: the velocity is evaluated on this fine grid to find its peaks.
    """
    times_s = np.asarray(times_s, dtype=np.float64) - times_s[0]
    displacement = np.asarray(displacement, dtype=np.float64)
    reasons: dict[str, str] = {}
    periodic = covers_cycle(times_s, rr_s)
    end = rr_s if periodic else times_s[-1]
    grid = np.arange(0.0, end + resolution_s / 2, resolution_s)
    curve = smoothed_curve(times_s, displacement, rr_s, smooth)(grid)
    es_index = int(np.argmax(curve))
    mapse = float(curve[es_index])
    t_es = float(grid[es_index])
    if mapse <= 0:
        return ClinicalMetrics(None, None, None, None, None, {"mapse_mm": "no motion toward the apex"})
    velocity = velocity_spline(times_s, displacement, rr_s, smooth)
    v = velocity(grid)
    threshold = max(MIN_PEAK_PROMINENCE_CM_S, MIN_PEAK_FRACTION * float(np.max(np.abs(v))))

    systole = grid <= t_es
    s_prime = float(np.max(v[systole])) if systole.sum() > 1 else None
    if s_prime is None or s_prime <= 0:
        reasons["s_prime_cm_s"] = "no positive systolic velocity before end-systole"
        s_prime = None

    # Diastole runs from end-systole to the next end-diastole; a little past it so a late a' is a peak.
    diastole = grid >= t_es
    d_grid = grid[diastole]
    if periodic:
        d_grid = np.concatenate([d_grid, end + np.arange(1, int(0.05 * rr_s / resolution_s)) * resolution_s])
    # imported here: scipy.signal costs about 1 s to import, which a batch's parent process (it reads
    # results, never computes them) and `mvtrack --help` should not pay
    from scipy.signal import find_peaks

    dips, _ = find_peaks(-velocity(d_grid), prominence=threshold)
    dips = [i for i in dips if d_grid[i] <= end]
    e_prime = a_prime = None
    if len(dips) >= 2:
        depths = -velocity(d_grid[dips])
        e_prime = float(np.max(depths[:-1]))
        a_prime = float(depths[-1])
    elif len(dips) == 1:
        fraction = (d_grid[dips[0]] - t_es) / max(end - t_es, 1e-9)
        if fraction <= EARLY_DIASTOLE_FRACTION and end - t_es >= MIN_DIASTOLE_FOR_SEPARATE_PEAKS_S:
            e_prime = float(-velocity(d_grid[dips[0]]))
            reasons["a_prime_cm_s"] = "no late-diastolic (atrial) velocity peak (atrial fibrillation?)"
        else:
            reasons["e_prime_cm_s"] = reasons["a_prime_cm_s"] = (
                "e' and a' merged into one diastolic peak (fast heart rate?)"
            )
    else:
        reasons["e_prime_cm_s"] = reasons["a_prime_cm_s"] = "no diastolic velocity peak found"
    if not periodic:
        reasons.setdefault("note", "cine does not cover one RR interval: velocity not periodic")
    return ClinicalMetrics(mapse, s_prime, e_prime, a_prime, t_es, reasons)
