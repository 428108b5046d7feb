"""Accuracy of a model on a fixed synthetic test set, per stage, as the paper reports it.

Generates subjects from a seed that training never uses (9001), analyses them with the model
(1+2+2, every pass kept), evaluates against the generator's truth, and prints the point-error and
clinical-agreement tables (stage 1, 1+2, 1+2+2), and per view the signed error along the long axis
(toward the apex +) at ED, ES, over diastasis and late diastole and the MAPSE error, as
``benchmarks/real_scans.py`` reports them on real scans. These are synthetic data: they say how well the
networks learned the generator, not how they do on real scans.

``--relaxed-base 1`` renders the test subjects with the generator's relaxed base (the basal wall thinning
and running on past the hinge out of systole, ``mvtrack.synth.variants._relaxed_base``; the same
subjects otherwise): does a model take the end of the dark band for the hinge there? ``--hinge-look 1``
adds the hinge look (no waist, faint LA wall and leaflets that come and go: ``_hinge_look``);
``--dark-wall`` and ``--dark-groove`` the dark walls and the dark AV groove past the hinge,
``--diastolic-groove`` that groove dark out of systole only, ``--diastolic-wall`` LA / RA walls that thicken
and darken out of systole only.

    .venv/bin/python benchmarks/accuracy.py [--subjects 40] [--model DIR] [--out DIR]
        [--relaxed-base P] [--hinge-look P] [--dark-wall P] [--dark-groove P] [--diastolic-groove P] [--diastolic-wall P]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

TEST_SEED = 9001  # never used for training (the shipped models were trained on seeds 1000, 2000 and 3000)


def run(n_subjects: int, model: Path | None, out: Path | None, stages: bool = True,
        generator_options: dict | None = None) -> dict:
    import numpy as np

    from mvtrack.evaluate.points import point_errors_mm
    from mvtrack.evaluate.reference import score_view, truth_as_reference
    from mvtrack.evaluate.report import markdown, write_report
    from mvtrack.evaluate.study import evaluate, summarise
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.study import analyze_cines
    from mvtrack.results import write_json_atomic
    from mvtrack.synth.generator import generate_subject
    from mvtrack.synth.writer import truth_result

    models = ModelSet(model)
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="mvtrack-accuracy-"))
    start = time.time()
    views_qc = []  # (mean point error mm, flagged by its own QC reasons, left out of the study metrics)
    signed = []  # (view, score_view's "signed_mm" dict, "mapse_error_mm")
    for index in range(n_subjects):
        subject = generate_subject(TEST_SEED, index, **(generator_options or {}))
        cines = [v.cine for v in subject.views.values()]
        result = analyze_cines(cines, subject.subject_id, models).result
        for view, truth in subject.views.items():
            error = point_errors_mm(np.asarray(result["views"][view]["points_px"]), truth.points_px,
                                    truth.cine.pixel_spacing_mm).mean()
            flagged = any(reason.startswith(f"{view}:") for reason in result["qc"]["reasons"])
            views_qc.append((float(error), flagged, view not in result["study_views"]))
            score = score_view(np.asarray(result["views"][view]["points_px"]), np.asarray(result["views"][view]["times_s"]),
                               truth_as_reference(truth.cine, truth.points_px))
            signed.append((view, score["signed_mm"], score["mapse_error_mm"]))
        write_json_atomic(result, root / "pred" / subject.subject_id / "results.json")
        write_json_atomic(truth_result(subject, {}), root / "truth" / subject.subject_id / "truth.json")
    evaluation = evaluate(root / "pred", root / "truth", stages=stages)
    summary = summarise(evaluation)
    write_report(evaluation, summary, root / "evaluation", f"{models.model_id} on synthetic test set (seed {TEST_SEED})")
    variant = "".join(f", {key} {value:g}" for key, value in (generator_options or {}).items())
    print(markdown(summary, f"{models.model_id} on {n_subjects} synthetic test subjects (seed {TEST_SEED}{variant})"))
    print(qc_table(views_qc))
    print(signed_table(signed))
    print(f"({time.time() - start:.0f} s; outputs in {root})")
    return summary


def qc_table(views_qc: list[tuple[float, bool, bool]], bad_mm: float = 5.0) -> str:
    """How QC treats views worse than ``bad_mm`` (mean point error) and the others."""
    lines = ["| views | n | flagged by their own QC | left out of the study metrics |", "|---|---:|---:|---:|"]
    for label, keep in ((f"worse than {bad_mm:g} mm", lambda e: e > bad_mm), (f"within {bad_mm:g} mm", lambda e: e <= bad_mm)):
        chosen = [(flagged, left) for error, flagged, left in views_qc if keep(error)]
        lines.append(f"| {label} | {len(chosen)} | {sum(f for f, _ in chosen)} | {sum(left for _, left in chosen)} |")
    return "\n".join(lines)


def signed_table(signed: list[tuple[str, dict, float | None]]) -> str:
    """Per view: mean ± SD over the views of the signed long-axis error (mm, toward the apex +) per phase
    and of the MAPSE error measured from the points (``benchmarks/real_scans.py``'s columns)."""
    import numpy as np

    from mvtrack.evaluate.reference import PHASES

    def cell(values):
        values = [v for v in values if v is not None]
        return f"{np.mean(values):+.2f} ± {np.std(values):.2f} (n {len(values)})" if values else "n/a"

    lines = ["| view | signed ED (mm) | signed ES (mm) | signed diastasis (mm) | signed late diastole (mm) | MAPSE error (mm) |",
             "|---|---|---|---|---|---|"]
    for view in sorted({v for v, _, _ in signed}):
        rows = [(phases, mapse) for v, phases, mapse in signed if v == view]
        cells = [cell([phases[phase] for phases, _ in rows]) for phase in PHASES]
        lines.append(f"| {view} | " + " | ".join(cells) + f" | {cell([mapse for _, mapse in rows])} |")
    return "\n".join(lines)


#: Generator variants a test set may be drawn with (flag -> ``generate_subject`` keyword).
VARIANTS = {"relaxed-base": "relaxed_base_probability", "hinge-look": "hinge_look_probability",
            "dark-wall": "dark_wall_probability", "dark-groove": "dark_groove_probability",
            "diastolic-groove": "diastolic_groove_probability", "diastolic-wall": "diastolic_wall_probability"}


def add_variant_flags(parser) -> None:
    for flag in VARIANTS:
        parser.add_argument(f"--{flag}", type=float, default=0.0, help=f"share of test views with the {flag.replace('-', ' ')}")


def generator_options(args) -> dict:
    """The test set's generator options from the variant flags: none (the plain test set) unless asked."""
    options = {keyword: getattr(args, flag.replace("-", "_")) for flag, keyword in VARIANTS.items()}
    return {key: value for key, value in options.items() if value}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    add_variant_flags(parser)
    args = parser.parse_args()
    summary = run(args.subjects, args.model, args.out, generator_options=generator_options(args))
    if args.out:
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
