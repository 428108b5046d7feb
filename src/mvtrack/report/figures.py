"""curves.png: displacement and velocity over the cycle with MAPSE, s', e', a' marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvtrack.metrics.curves import smoothed_curve, velocity_spline


def plot_curves(result: dict, path: Path | str) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    times = np.asarray(result["times_s"])
    rr = float(result.get("rr_s", times[-1] + np.median(np.diff(times))))
    displacement = np.asarray(result["displacement_mm"])
    metrics = result["metrics"]
    grid = np.linspace(0, rr, 400)
    # A bare Figure (no pyplot state, nothing to close) with few ticks: drawing the tick labels is
    # most of what this figure costs (0.3 s of the outputs' 0.6 s here).
    fig = Figure(figsize=(7, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    for axis in (top.yaxis, bottom.xaxis, bottom.yaxis):
        axis.set_major_locator(MaxNLocator(6))
    study_views = result.get("study_views", sorted(result["views"]))
    for view, entry in result["views"].items():
        left_out = "" if view in study_views else " (left out by QC)"
        top.plot(entry["times_s"], entry["displacement_mm"], ".", alpha=0.6, label=f"{view} frames{left_out}")
    smooth = bool(result.get("curves_smoothed", True))
    top.plot(grid, smoothed_curve(times, displacement, rr, smooth)(grid), "k-",
             label="study curve (" + " + ".join(study_views) + ")")
    if metrics.get("mapse_mm") is not None:
        top.axhline(metrics["mapse_mm"], color="tab:red", ls="--", lw=0.8)
        top.annotate(f"MAPSE {metrics['mapse_mm']:.1f} mm", (metrics.get("end_systole_s") or 0, metrics["mapse_mm"]),
                     textcoords="offset points", xytext=(5, 5), color="tab:red")
    top.set_ylabel("MV plane displacement (mm)\n(toward apex +)")
    top.legend(fontsize=8, loc="lower right")
    velocity = velocity_spline(times, displacement, rr, smooth)(grid)
    bottom.plot(grid, velocity, "k-")
    bottom.axhline(0, color="0.7", lw=0.5)
    labels = [("s_prime_cm_s", "s'", 1), ("e_prime_cm_s", "e'", -1), ("a_prime_cm_s", "a'", -1)]
    for key, name, sign in labels:
        value = metrics.get(key)
        if value is None:
            reason = metrics.get("reasons", {}).get(key, "not measured")
            bottom.annotate(f"{name}: n/a ({reason})", (0.01, 0.04 + 0.07 * labels.index((key, name, sign))),
                            xycoords="axes fraction", fontsize=7, color="tab:gray")
            continue
        index = int(np.argmin(np.abs(sign * velocity - value)))
        bottom.plot(grid[index], sign * value, "o", color="tab:red")
        bottom.annotate(f"{name} {value:.1f} cm/s", (grid[index], sign * value), textcoords="offset points",
                        xytext=(5, 5 * sign), color="tab:red")
    rest = result.get("rest_periods") or {}
    for key, label, colour in (("end_systolic", "end-systolic rest", "tab:blue"), ("diastasis", "diastasis", "tab:green")):
        window = rest.get(key)
        if window:
            for axis in (top, bottom):
                for start, stop in _wrapped(window["start_ms"] / 1000, window["end_ms"] / 1000, rr):
                    axis.axvspan(start, stop, color=colour, alpha=0.15, lw=0)
            bottom.annotate(f"{label} {window['length_ms']:.0f} ms", (window["start_ms"] / 1000 % rr, 0),
                            textcoords="offset points", xytext=(2, 8), fontsize=7, color=colour)
    if rest:
        bottom.axhspan(-rest["threshold_cm_s"], rest["threshold_cm_s"], color="0.85", alpha=0.4, lw=0)
    bottom.set_ylabel("velocity (cm/s)")
    bottom.set_xlabel("time from end-diastole (s)")
    fig.suptitle(f"{result['study']}: MV plane motion", fontsize=10)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.93, bottom=0.09, hspace=0.08)  # fixed: tight_layout costs a text layout pass
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})  # quicker than zlib level 6, 5 % larger


def _wrapped(start_s: float, end_s: float, rr_s: float) -> list[tuple[float, float]]:
    """A window of the periodic cycle as one or two spans inside [0, rr]."""
    start_s %= rr_s
    end_s = start_s + (end_s - start_s if end_s >= start_s else end_s + rr_s - start_s)
    return [(start_s, min(end_s, rr_s))] + ([(0.0, end_s - rr_s)] if end_s > rr_s else [])
