"""Cardiac rest periods from the MV velocity curve: when the valve plane (nearly) stands still.

CMR sequences time their acquisition windows to the rest periods; the MV plane velocity says when
they are. A rest window is a stretch of the cycle where |velocity| stays below REST_VELOCITY_CM_S
for at least MIN_REST_S. The end-systolic window is the one around end-systole (the turn from s'
to e'); diastasis is the one between e' and a'. At fast heart rates e' and a' merge and there is no
diastasis, which is reported as such rather than made up.
"""

from __future__ import annotations

import numpy as np

from mvtrack.metrics.curves import covers_cycle, velocity_spline

#: The plane "rests" while it moves slower than this (cm/s). Tissue Doppler and CMR timing studies use
#: 1-2 cm/s; 1 cm/s is the stricter end.
REST_VELOCITY_CM_S = 1.0
#: Shorter still stretches are not windows an acquisition could use (s).
MIN_REST_S = 0.03


def rest_windows(times_s: np.ndarray, displacement_mm: np.ndarray, rr_s: float, end_systole_s: float | None,
                 smooth: bool = True, resolution_s: float = 0.001) -> dict:
    """{"end_systolic": window or None, "diastasis": window or None, "threshold_cm_s", "reasons"}.

    A window is {"start_ms", "end_ms", "length_ms"} after the first frame (the R wave trigger);
    one that runs past the end of the cycle has ``end_ms`` beyond the RR. ``end_systole_s``: the time
    of MAPSE (:func:`mvtrack.metrics.clinical_metrics`).
    """
    times_s = np.asarray(times_s, dtype=float) - times_s[0]
    out = {"end_systolic": None, "diastasis": None, "threshold_cm_s": REST_VELOCITY_CM_S, "reasons": {}}
    if end_systole_s is None or not covers_cycle(times_s, rr_s):
        out["reasons"]["all"] = "no end-systole, or the cine does not cover one cycle"
        return out
    grid = np.arange(0.0, rr_s, resolution_s)
    n = len(grid)
    es_index = int(round(end_systole_s / resolution_s)) % n
    # Samples counted from end-systole, so that diastole runs forward from index 0 without a wrap.
    velocity = np.roll(velocity_spline(times_s, np.asarray(displacement_mm, dtype=float), rr_s, smooth)(grid), -es_index)
    min_samples = int(round(MIN_REST_S / resolution_s))
    still = np.abs(velocity) < REST_VELOCITY_CM_S

    def window(first: int, last: int) -> dict:  # rotated indices, last exclusive
        start_ms = ((first + es_index) % n) * resolution_s * 1000
        length_ms = (last - first) * resolution_s * 1000
        return {"start_ms": round(start_ms, 1), "end_ms": round(start_ms + length_ms, 1), "length_ms": round(length_ms, 1)}

    # End-systolic rest: the still stretch around index 0, extended both ways (periodically).
    if still[0]:
        forward = int(np.argmin(still)) if not still.all() else n
        backward = int(np.argmin(still[::-1])) if not still.all() else 0
        if forward + backward >= min_samples:
            out["end_systolic"] = window(-backward, forward)
    if out["end_systolic"] is None:
        out["reasons"]["end_systolic"] = f"the plane does not stand still for {MIN_REST_S * 1000:.0f} ms around end-systole"
    # Diastasis: between the end of the e' motion (the first stretch faster than the threshold toward
    # the base) and the start of the a' motion (the last such stretch).
    toward_base = velocity < -REST_VELOCITY_CM_S
    runs = _runs(toward_base)
    if not runs:
        out["reasons"]["diastasis"] = "no diastolic motion faster than the threshold"
        return out
    if len(runs) < 2:
        out["reasons"]["diastasis"] = "e' and a' merge into one motion: no diastasis (fast heart rate?)"
        return out
    e_end, a_start = runs[0][1], runs[-1][0]
    gaps = [(a, b) for a, b in _runs(still[e_end:a_start]) if b - a >= min_samples]
    if not gaps:
        out["reasons"]["diastasis"] = "the plane never stands still between e' and a'"
        return out
    first, last = max(gaps, key=lambda g: g[1] - g[0])
    out["diastasis"] = window(e_end + first, e_end + last)
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the True runs of a 1-D mask, stop exclusive, in order."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
