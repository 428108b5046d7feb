"""Agreement of a clinical metric between two raters: the paper's Table 3 / Fig. 7 numbers.

ICC(A,1) is the two-way random-effects, absolute-agreement, single-measure ICC (McGraw & Wong),
``ICC2`` in pingouin (Shrout & Fleiss ICC(2,1)), with its 95 % confidence interval.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def icc_a1(ratings: np.ndarray) -> tuple[float, list[float]]:
    """ICC(A,1) and its 95 % CI for an (n targets, k raters) table, by pingouin."""
    import pandas as pd
    import pingouin as pg

    ratings = np.asarray(ratings, dtype=float)
    n, k = ratings.shape
    frame = pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                          "value": ratings.ravel()})
    table = pg.intraclass_corr(frame, targets="target", raters="rater", ratings="value").set_index("Type")
    row = table.loc["ICC(A,1)"] if "ICC(A,1)" in table.index else table.loc["ICC2"]  # pingouin >= 0.6 / older
    ci = row["CI95"] if "CI95" in row.index else row["CI95%"]
    return float(row["ICC"]), [float(v) for v in ci]


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Agreement of paired measurements ``a`` (test) and ``b`` (reference); NaNs drop the pair.

    Returns n, mean/SD of each, bias (a - b) mean/SD, limits of agreement, ICC(A,1) with 95 % CI,
    Pearson r and p, regression slope and intercept (a on b).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    out = {"n": int(len(a)), "mean_test": _m(a), "sd_test": _s(a), "mean_ref": _m(b), "sd_ref": _s(b)}
    difference = a - b
    out.update(bias=_m(difference), bias_sd=_s(difference))
    if len(a) >= 2:
        out.update(loa_low=out["bias"] - 1.96 * out["bias_sd"], loa_high=out["bias"] + 1.96 * out["bias_sd"])
    if len(a) < 3 or np.ptp(np.concatenate([a, b])) == 0:
        return {**out, "icc": None, "icc_ci95": None, "pearson_r": None, "p_value": None, "slope": None,
                "intercept": None}
    if np.allclose(a, b):
        icc, ci = 1.0, [1.0, 1.0]
    else:
        icc, ci = icc_a1(np.column_stack([a, b]))
    r, p = stats.pearsonr(a, b)
    regression = stats.linregress(b, a)
    return {**out, "icc": icc, "icc_ci95": ci, "pearson_r": float(r), "p_value": float(p),
            "slope": float(regression.slope), "intercept": float(regression.intercept)}


def _m(x):
    return float(np.mean(x)) if len(x) else None


def _s(x):
    return float(np.std(x, ddof=1)) if len(x) > 1 else None
