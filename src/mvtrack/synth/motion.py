"""A physiological MV plane motion over one cardiac cycle, with analytically known peaks.

The velocity toward the apex is a sum of three raised-cosine lobes: systolic (+, area MAPSE), early
diastolic (-, area MAPSE * E/(E+A)) and atrial (-, area MAPSE * A/(E+A)), separated by the
isovolumic relaxation and diastasis. A raised-cosine lobe of duration D and area S peaks at 2S/D,
so s', e' and a' are exact when the lobes do not overlap. At fast heart rates the E and A lobes
overlap, as they do in patients (then e' and a' merge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionParams:
    """One cycle of MV plane motion. Times in s, distances in mm."""

    rr_s: float = 1.0
    mapse_mm: float = 12.0
    e_over_a: float = 1.5
    systole_s: float = 0.33  # duration of the systolic velocity lobe
    ivrt_s: float = 0.08  # isovolumic relaxation: from end-systole to the start of e'
    e_duration_s: float = 0.18
    a_duration_s: float = 0.14
    systole_start_s: float = 0.02  # isovolumic contraction after the R wave (first frame)

    @property
    def end_systole_s(self) -> float:
        return self.systole_start_s + self.systole_s

    @property
    def e_start_s(self) -> float:
        return self.end_systole_s + self.ivrt_s

    @property
    def a_start_s(self) -> float:
        return self.rr_s - self.a_duration_s

    @property
    def e_area_mm(self) -> float:
        return self.mapse_mm * self.e_over_a / (1.0 + self.e_over_a)

    @property
    def a_area_mm(self) -> float:
        return self.mapse_mm / (1.0 + self.e_over_a)

    @property
    def s_prime_cm_s(self) -> float:
        return 2 * self.mapse_mm / self.systole_s / 10.0

    @property
    def e_prime_cm_s(self) -> float:
        return 2 * self.e_area_mm / self.e_duration_s / 10.0

    @property
    def a_prime_cm_s(self) -> float:
        return 2 * self.a_area_mm / self.a_duration_s / 10.0

    @property
    def lobes_overlap(self) -> bool:
        return self.e_start_s + self.e_duration_s > self.a_start_s


def physiological_timing(rr_s: float, rng: np.random.Generator | None = None) -> dict:
    """Durations that scale with heart rate roughly as in adults (systole ~ sqrt(RR), Bazett-like)."""
    jitter = (lambda lo, hi: rng.uniform(lo, hi)) if rng is not None else (lambda lo, hi: (lo + hi) / 2)
    systole = 0.33 * np.sqrt(rr_s) * jitter(0.9, 1.1)
    return dict(
        systole_s=float(systole),
        ivrt_s=float(0.075 * np.sqrt(rr_s) * jitter(0.8, 1.3)),
        e_duration_s=float(min(0.19 * np.sqrt(rr_s) * jitter(0.85, 1.2), 0.3)),
        a_duration_s=float(min(0.14 * np.sqrt(rr_s) * jitter(0.85, 1.15), 0.2)),
        systole_start_s=float(0.03 * jitter(0.5, 1.5)),
    )


def _lobe(t: np.ndarray, start: float, duration: float, area: float) -> np.ndarray:
    """Raised cosine on [start, start + duration] with the given area; zero elsewhere."""
    phase = (t - start) / duration
    inside = (phase >= 0) & (phase <= 1)
    return np.where(inside, (area / duration) * (1 - np.cos(2 * np.pi * phase)), 0.0)


def _lobe_integral(t: np.ndarray, start: float, duration: float, area: float) -> np.ndarray:
    phase = np.clip((t - start) / duration, 0.0, 1.0)
    return area * (phase - np.sin(2 * np.pi * phase) / (2 * np.pi))


def _three_lobes(params: MotionParams, t: np.ndarray, lobe) -> np.ndarray:
    """Systolic lobe minus the early-diastolic and atrial lobes, each given by ``lobe(t, start, duration, area)``."""
    t = np.mod(np.asarray(t, dtype=np.float64), params.rr_s)
    return (
        lobe(t, params.systole_start_s, params.systole_s, params.mapse_mm)
        - lobe(t, params.e_start_s, params.e_duration_s, params.e_area_mm)
        - lobe(t, params.a_start_s, params.a_duration_s, params.a_area_mm)
    )


def mv_velocity_mm_s(params: MotionParams, t: np.ndarray) -> np.ndarray:
    """Velocity toward the apex (mm/s) at times t in [0, RR)."""
    return _three_lobes(params, t, _lobe)


def mv_displacement_mm(params: MotionParams, t: np.ndarray) -> np.ndarray:
    """Displacement toward the apex (mm) at times t; 0 at end-diastole (t = 0), MAPSE at end-systole."""
    return _three_lobes(params, t, _lobe_integral)
