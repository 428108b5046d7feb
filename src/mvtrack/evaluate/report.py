"""Tables (Markdown, in the layout of the paper's Tables 3-5) and figures (as its Fig. 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mvtrack.evaluate.agreement import agreement
from mvtrack.evaluate.study import Evaluation

UNITS = {"mapse_mm": ("MAPSE", "mm"), "s_prime_cm_s": ("LV s'", "cm/s"), "e_prime_cm_s": ("LV e'", "cm/s"),
         "a_prime_cm_s": ("LV a'", "cm/s")}


def _pm(pair, digits=2):
    """"mean ± SD"; the SD as "n/a" when there is none (a single study)."""
    if pair is None or pair[0] is None:
        return "n/a"
    spread = "n/a" if pair[1] is None else f"{pair[1]:.{digits}f}"
    return f"{pair[0]:.{digits}f} ± {spread}"


def markdown(summary: dict, title: str = "mvtrack evaluation") -> str:
    lines = [f"# {title}", "", f"Studies evaluated: {summary['studies']}"
             + (f"; missing predictions: {', '.join(summary['missing'])}" if summary["missing"] else ""), ""]
    lines += ["## Spatial agreement (paper Table 5 / Fig. 5)", "",
              "| stage | view | frames | point 1 (mm) | point 2 (mm) | Euclidean (mm) | angle (°) | MV displacement (mm) | swapped frames |",
              "| --- | --- | ---: | --- | --- | --- | --- | --- | ---: |"]
    for key, row in sorted(summary["spatial"].items()):
        stage, view = key.split("/")
        lines.append(f"| {stage} | {view} | {row['n_frames']} | {_pm(row['point0_mm'])} | {_pm(row['point1_mm'])} | "
                     f"{_pm(row['euclidean_mm'])} | {_pm(row['angle_deg'])} | {_pm(row['displacement_mm'])} | "
                     f"{row['swapped_frames']} |")
    lines += ["", "## Clinical agreement (paper Tables 3-4)", "",
              "| stage | metric | n | reference | test | error (test - ref) | ICC(A,1) (95 % CI) | Pearson r | p |",
              "| --- | --- | ---: | --- | --- | --- | --- | --- | --- |"]
    for stage, metrics in summary["clinical"].items():
        for metric, row in metrics.items():
            if row is None or row["n"] == 0:
                continue
            name, unit = UNITS[metric]
            icc = "n/a" if row["icc"] is None else f"{row['icc']:.2f} ({row['icc_ci95'][0]:.2f}-{row['icc_ci95'][1]:.2f})"
            r = "n/a" if row["pearson_r"] is None else f"{row['pearson_r']:.2f}"
            p = "n/a" if row["p_value"] is None else ("<0.0001" if row["p_value"] < 1e-4 else f"{row['p_value']:.3f}")
            lines.append(f"| {stage} | {name} ({unit}) | {row['n']} | {_pm((row['mean_ref'], row['sd_ref']), 1)} | "
                         f"{_pm((row['mean_test'], row['sd_test']), 1)} | {_pm((row['bias'], row['bias_sd']), 1)} | {icc} | {r} | {p} |")
    return "\n".join(lines) + "\n"


def agreement_figure(test, reference, name: str, unit: str, path: Path) -> None:
    """Regression (top) and Bland-Altman (bottom) plots, as the paper's Fig. 7."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test, reference = np.asarray(test, float), np.asarray(reference, float)
    keep = np.isfinite(test) & np.isfinite(reference)
    test, reference = test[keep], reference[keep]
    stats = agreement(test, reference)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.5, 8))
    top.scatter(reference, test, s=8, alpha=0.6)
    lo, hi = float(min(test.min(), reference.min())), float(max(test.max(), reference.max()))
    top.plot([lo, hi], [lo, hi], "k-", lw=1, label="identity")
    if stats["slope"] is not None:
        top.plot([lo, hi], [stats["intercept"] + stats["slope"] * lo, stats["intercept"] + stats["slope"] * hi], "r--",
                 lw=1, label=f"y = {stats['slope']:.2f}x + {stats['intercept']:.2f}")
        top.set_title(f"{name}: r = {stats['pearson_r']:.2f}, ICC = {stats['icc']:.2f}", fontsize=10)
    top.set_xlabel(f"reference {name} ({unit})")
    top.set_ylabel(f"mvtrack {name} ({unit})")
    top.legend(fontsize=8)
    mean = (test + reference) / 2
    bottom.scatter(mean, test - reference, s=8, alpha=0.6)
    if stats["bias_sd"] is not None:
        bottom.axhline(stats["bias"], color="r", label=f"bias {stats['bias']:.2f}")
        for limit in (stats["loa_low"], stats["loa_high"]):
            bottom.axhline(limit, color="0.5", ls=":")
    bottom.set_xlabel(f"mean {name} ({unit})")
    bottom.set_ylabel(f"difference, mvtrack - reference ({unit})")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(evaluation: Evaluation, summary: dict, out_dir: Path | str, title: str = "mvtrack evaluation") -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    md = out_dir / "report.md"
    md.write_text(markdown(summary, title))
    displacement = {view: np.concatenate(b["disp_mm"]) for (stage, view), b in evaluation.frames.items() if stage == "final"}
    if "final" in evaluation.clinical:
        for metric in ("mapse_mm", "e_prime_cm_s"):
            pairs = np.array(evaluation.clinical["final"][metric], dtype=float)
            if len(pairs):
                name, unit = UNITS[metric]
                agreement_figure(pairs[:, 0], pairs[:, 1], name, unit, out_dir / f"agreement_{metric}.png")
    if displacement:
        _displacement_figure(evaluation, out_dir / "agreement_displacement_mm.png")
    return md


def _displacement_figure(evaluation: Evaluation, path: Path) -> None:
    # Per-frame displacement: the reference is needed too, so reconstruct it from the errors' buckets.
    tests, refs = [], []
    for (stage, view), bucket in evaluation.frames.items():
        if stage == "final" and "disp_ref_mm" in bucket:
            refs.append(np.concatenate(bucket["disp_ref_mm"]))
            tests.append(np.concatenate(bucket["disp_ref_mm"]) + np.concatenate(bucket["disp_mm"]))
    if tests:
        agreement_figure(np.concatenate(tests), np.concatenate(refs), "MV displacement", "mm", path)
