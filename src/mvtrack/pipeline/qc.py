"""Quality-control rules: when should a reader look at a result before trusting it?"""

from __future__ import annotations

import numpy as np

#: Mean test-time spread (mm) above which a view's tracking is called uncertain.
MAX_MEAN_SPREAD_MM = 2.0
#: A frame-to-frame jump of a point larger than this (mm) is implausible at 20-50 frames per cycle.
MAX_JUMP_MM = 6.0
#: Physiological MAPSE range (mm) in adults, generously wide.
MAPSE_RANGE_MM = (3.0, 25.0)
#: Two views' MAPSE should agree within this (mm).
MAX_VIEW_MAPSE_DIFFERENCE_MM = 6.0
#: Stage 1 and the final points should agree within this (mm), else stage 1 may have found something else.
MAX_STAGE_DISAGREEMENT_MM = 10.0
#: The last stage-2 pass should move the points by less than this (mm) on average: a fixed point.
MAX_LAST_PASS_CHANGE_MM = 3.0
#: Median over frames (mm) of the distance between stage 2's points and the critic's (a second stage-2
#: network that learnt differently, ModelSet.critic) above which a view is not trusted. Set on 20
#: synthetic calibration subjects (seed 9700, neither a training nor a test seed): 1.5 x the 95th
#: percentile over the 36 views tracked within 3 mm (0.93 mm), rounded up to 0.5 mm; not on any real scan.
MAX_CRITIC_DISAGREEMENT_MM = 1.5


def view_flags(points_px: np.ndarray, stage1_px: np.ndarray, spread_mm: np.ndarray,
               pixel_spacing_mm: tuple[float, float], view: str, last_pass_change_mm: float | None = None) -> list[str]:
    """Reasons to look at one view's tracking (empty when none)."""
    mm = np.array([pixel_spacing_mm[1], pixel_spacing_mm[0]])
    flags = []
    if float(spread_mm.mean()) > MAX_MEAN_SPREAD_MM:
        flags.append(f"{view}: low confidence (test-time spread {spread_mm.mean():.1f} mm > {MAX_MEAN_SPREAD_MM} mm)")
    if last_pass_change_mm is not None and last_pass_change_mm > MAX_LAST_PASS_CHANGE_MM:
        flags.append(f"{view}: stage 2 not converged (its last pass moved the points {last_pass_change_mm:.1f} mm "
                     f"> {MAX_LAST_PASS_CHANGE_MM} mm)")
    jumps = np.linalg.norm(np.diff(points_px, axis=0) * mm, axis=2)
    if jumps.size and jumps.max() > MAX_JUMP_MM:
        flags.append(f"{view}: a point jumps {jumps.max():.1f} mm between two frames")
    disagreement = np.linalg.norm((points_px - stage1_px) * mm, axis=2).mean()
    if disagreement > MAX_STAGE_DISAGREEMENT_MM:
        flags.append(f"{view}: stage 1 and stage 2 disagree by {disagreement:.1f} mm on average")
    length = np.linalg.norm((points_px[:, 1] - points_px[:, 0]) * mm, axis=1)
    if length.min() < 12 or length.max() > 60:
        flags.append(f"{view}: MV line length {length.min():.0f}-{length.max():.0f} mm is outside 12-60 mm")
    return flags


def is_settled(spread_mm: np.ndarray, last_pass_change_mm: float) -> bool:
    """Stage 2 has reached a confident fixed point: neither of the two flags of :func:`view_flags`
    (low confidence, not converged) applies."""
    return float(spread_mm.mean()) <= MAX_MEAN_SPREAD_MM and last_pass_change_mm <= MAX_LAST_PASS_CHANGE_MM


def is_unreliable(spread_mm: np.ndarray, last_pass_change_mm: float | None) -> bool:
    """A view whose tracking should not enter the study metrics: unsure *and* not converged (the two
    flags of :func:`view_flags`; on the synthetic test set no view had both, the real 4CH sample has)."""
    return (float(spread_mm.mean()) > MAX_MEAN_SPREAD_MM and last_pass_change_mm is not None
            and last_pass_change_mm > MAX_LAST_PASS_CHANGE_MM)


def critic_flag(median_mm: float, view: str) -> str | None:
    """The reason to distrust a view whose stage 2 and critic network disagree by ``median_mm`` (median
    over frames; None when they agree): confident but wrong, the failure the other flags miss (real 3T
    4CH: stage 2 sure of itself and converged, 8 mm off)."""
    if median_mm <= MAX_CRITIC_DISAGREEMENT_MM:
        return None
    return (f"{view}: a second network disagrees with stage 2 (or stage 2's networks with each other) by "
            f"{median_mm:.1f} mm (median over frames; "
            f"> {MAX_CRITIC_DISAGREEMENT_MM} mm): the images may not look like what stage 2 learnt from")


def study_flags(metrics: dict, view_metrics: dict[str, dict]) -> list[str]:
    flags = []
    mapse = metrics.get("mapse_mm")
    if mapse is None or not MAPSE_RANGE_MM[0] <= mapse <= MAPSE_RANGE_MM[1]:
        flags.append(f"implausible MAPSE {mapse if mapse is None else round(mapse, 1)} mm "
                     f"(expected {MAPSE_RANGE_MM[0]:g}-{MAPSE_RANGE_MM[1]:g})")
    values = {view: m["mapse_mm"] for view, m in view_metrics.items() if m.get("mapse_mm") is not None}
    if len(values) >= 2 and max(values.values()) - min(values.values()) > MAX_VIEW_MAPSE_DIFFERENCE_MM:
        flags.append("views disagree: MAPSE " + " vs ".join(f"{value:.1f}" for value in values.values()) + " mm (" +
                     ", ".join(values) + ")")
    return flags
