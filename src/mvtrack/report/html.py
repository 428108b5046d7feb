"""report.html: headline numbers, QC, series used, curves and overlay movies on one page."""

from __future__ import annotations

import html
from pathlib import Path


def _fmt(value, unit):
    return "n/a" if value is None else f"{value:.1f} {unit}"


def _plane_section(result: dict) -> str:
    """Rest periods and the MV plane fit, as a reader planning a CMR acquisition wants them."""
    rest = result.get("rest_periods") or {}
    items = []
    for key, label in (("end_systolic", "End-systolic rest"), ("diastasis", "Diastasis")):
        window = rest.get(key)
        if window:
            items.append(f"<li>{label}: {window['start_ms']:.0f}-{window['end_ms']:.0f} ms after the R wave "
                         f"({window['length_ms']:.0f} ms)</li>")
        elif key in rest.get("reasons", {}) or "all" in rest.get("reasons", {}):
            items.append(f"<li>{label}: none ({html.escape(rest['reasons'].get(key, rest['reasons'].get('all', '')))})</li>")
    plane = result.get("mv_plane") or {}
    if plane.get("residual_mm"):
        items.append(f"<li>MV plane fitted to {html.escape(' + '.join(plane['views']))} in patient coordinates: the points sit "
                     f"{plane['residual_median_mm']:.1f} mm (median RMS over the cycle) from one plane</li>")
    elif plane.get("reason"):
        items.append(f"<li>MV plane: not fitted ({html.escape(plane['reason'])})</li>")
    if not items:
        return ""
    threshold = rest.get("threshold_cm_s")
    note = f" (the plane moves slower than {threshold:g} cm/s)" if threshold else ""
    return f"<h2>Rest periods and MV plane</h2><p>Rest windows{note}:</p><ul>" + "".join(items) + "</ul>"


def _paper_metrics_line(result: dict) -> str:
    """The paper's 2CH + 4CH study metrics, when the study metrics also use a 3CH."""
    paper, used = result.get("metrics_2ch_4ch"), result.get("study_views", [])
    if not paper or "3CH" not in used:
        return ""
    return ("<p>From the 2CH and 4CH only (as MVnet): MAPSE " + _fmt(paper.get("mapse_mm"), "mm") + ", e' "
            + _fmt(paper.get("e_prime_cm_s"), "cm/s") + "</p>")


def _review_section(result: dict) -> str:
    """What the reader anchored, and the automatic QC's doubts about reader-confirmed views (notes)."""
    review = result.get("review")
    if not review:
        return ""
    anchored = "; ".join(f"{view}: frames {', '.join(frames)}" for view, frames in review.get("anchors", {}).items())
    confirmed = review.get("reader_confirmed") or []
    lines = [f"<h2>Reader review</h2><p>Reader anchors ({html.escape(str(review.get('source', 'reader')))}, "
             f"{html.escape(str(review.get('when', '')))}): {html.escape(anchored)}. The other frames follow the "
             "tracker's motion, shifted by the corrections interpolated in time.</p>"]
    if confirmed:
        lines.append(f"<p><b>Reader-confirmed (anchored at end-diastole and end-systole): {html.escape(', '.join(confirmed))}"
                     "</b>: these views' numbers rest on the reader's points.</p>")
    notes = result.get("qc", {}).get("notes", [])
    if notes:
        lines.append("<p>The automatic tracking's doubts about them:</p><ul>"
                     + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return "".join(lines)


def write_html(result: dict, out_dir: Path | str, media: dict[str, list[str]]) -> Path:
    out_dir = Path(out_dir)
    metrics = result["metrics"]
    rows = [("MAPSE", _fmt(metrics.get("mapse_mm"), "mm")), ("s'", _fmt(metrics.get("s_prime_cm_s"), "cm/s")),
            ("e'", _fmt(metrics.get("e_prime_cm_s"), "cm/s")), ("a'", _fmt(metrics.get("a_prime_cm_s"), "cm/s"))]
    reasons = metrics.get("reasons", {})
    qc = result.get("qc", {})
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mvtrack report: "
        f"{html.escape(result['study'])}</title><style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}"
        "td,th{padding:3px 10px;text-align:left}.warn{color:#b00}</style></head><body>",
        f"<h1>MV plane tracking: {html.escape(result['study'])}</h1>",
        "<table><tr><th>metric</th><th>value</th><th>note</th></tr>",
        *[f"<tr><td>{name}</td><td><b>{value}</b></td><td>{html.escape(reasons.get(key, ''))}</td></tr>"
          for (name, value), key in zip(rows, ["mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s"])],
        "</table>",
        f"<p>Study curve and metrics from: {html.escape(' + '.join(result.get('study_views', sorted(result['views']))))}</p>",
        _paper_metrics_line(result),
        _plane_section(result),
        "<h2>Quality control</h2>",
        ("<p class='warn'><b>Review recommended:</b></p><ul>" + "".join(f"<li class='warn'>{html.escape(r)}</li>" for r in qc.get("reasons", [])) + "</ul>")
        if qc.get("needs_review") else "<p>No QC rule fired.</p>",
        _review_section(result),
        "<h2>Series used</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in result.get("series_selection", [])) + "</ul>",
        "<h2>Curves</h2><img src='curves.png' width='700'>",
        "<h2>Tracking (points on every frame)</h2>",
    ]
    for view, files in media.items():
        mp4 = next((f for f in files if f.endswith(".mp4")), None)
        gif = next((f for f in files if f.endswith(".gif")), None)
        entry = result["views"][view]
        parts.append(f"<h3>{view}: {html.escape(' / '.join(entry['point_names']))} (red / blue)</h3>")
        if mp4:
            parts.append(f"<video src='{html.escape(mp4)}' autoplay loop muted playsinline controls></video>")
        elif gif:
            parts.append(f"<img src='{html.escape(gif)}'>")
        parts.append(" ".join(f"<a href='{html.escape(f)}'>{html.escape(f)}</a>" for f in files))
    parts.append(f"<p style='color:#777'>mvtrack {html.escape(result['tool_version'])}; models "
                 f"{html.escape(', '.join(str(v) for v in result['models'].values()))}. Networks trained on "
                 "synthetic cines (no annotated real scan; see the model card): check the overlay movies before "
                 "using the numbers.</p></body></html>")
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path
