"""What the plane geometry makes of every series of the real exams at hand (a table per exam).

For each exam folder: every series with its description's view, the role its plane gets
(mvtrack.pipeline.exam.plane_roles: short-axis slice, long-axis plane through the LV named by its turn
about the LV axis, long-axis plane off the LV, not long-axis, or not checked) and what series
selection does with it. Defaults: the whole 3T exam in data/ and the built-in MVnet sample.

``--synthetic N``: also N synthetic exams (the generator's 2CH, 3CH and 4CH cines of one heart, with
six short-axis slices through its LV added as planes only: the generator draws no short-axis images),
each under three labellings (all descriptions right; the 3CH described as a 4CH, as on the 3T exam;
only the 2CH described), and a confusion table of the view each plane is used as.

    .venv/bin/python benchmarks/view_recognition.py [EXAM_DIR ...] [--synthetic 20]
"""

from __future__ import annotations

import argparse
import warnings
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXAMS = [ROOT / "data" / "bivme-patient1" / "dicom", Path(str(files("mvtrack") / "data" / "mvnet-sample"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exams", nargs="*", type=Path, default=DEFAULT_EXAMS)
    parser.add_argument("--synthetic", type=int, default=0, help="synthetic exams to add (seed 9100)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from mvtrack.io import read_cines
    from mvtrack.pipeline.exam import claimed_view, plane_roles, select_series, series_name

    for exam in args.exams:
        cines = read_cines([exam])
        roles = plane_roles(cines)
        chosen, _, flags = select_series(cines)
        used = {c.series_uid: view for view, c in chosen.items()}
        print(f"## {exam.name if exam.name != 'dicom' else exam.parent.name}\n")
        print("| series | description says | plane | recognised | used as |")
        print("|---|---|---|---|---|")
        for cine, role in sorted(zip(cines, roles), key=lambda item: series_name(item[0])):
            recognised = f"{role.recognised} ({role.recognised_off_deg:.0f} deg off)" if role.recognised else ""
            print(f"| {series_name(cine)} | {claimed_view(cine)} | {role.kind} | {recognised} | {used.get(cine.series_uid, '-')} |")
        print("\n" + ("QC: " + "; ".join(flags) if flags else "no selection flag") + "\n")
    if args.synthetic:
        synthetic_confusion(args.synthetic)


LABELLINGS = {  # view -> SeriesDescription; None: no description
    "all described": {"2CH": "cine 2ch", "3CH": "cine 3ch", "4CH": "cine 4ch"},
    "3CH described as 4CH": {"2CH": "cine 2ch", "3CH": "cine 4ch", "4CH": "cine 4ch"},
    "only the 2CH described": {"2CH": "cine 2ch", "3CH": None, "4CH": None},
}


def synthetic_exam(index: int) -> dict:
    """{truth view: Cine}: the generator's three long-axis cines of one heart and six short-axis planes."""
    from dataclasses import replace

    import numpy as np

    from mvtrack.geometry.exam import axis_toward_apex
    from mvtrack.geometry.patient import pixels_to_patient_mm, plane_intersection
    from mvtrack.synth.generator import generate_subject

    subject = generate_subject(9100, index, views=("2CH", "4CH", "3CH"))
    views = {v: s.cine for v, s in subject.views.items()}
    four = views["4CH"]
    _, direction = plane_intersection(views["2CH"].orientation, views["2CH"].position_mm, four.orientation, four.position_mm)
    axis = axis_toward_apex(direction)
    truth = subject.views["4CH"].points_px[0].mean(axis=0)
    centre = pixels_to_patient_mm(truth, four.orientation, four.position_mm, four.pixel_spacing_mm)
    row = np.cross(axis, [0.0, 0.0, 1.0])
    row /= np.linalg.norm(row)
    column = np.cross(axis, row)
    small = four.frames[:, :40, :52]
    for k in range(6):
        middle = centre + (15.0 + 10.0 * k) * axis
        position = middle - 26 * four.pixel_spacing_mm[1] * row - 20 * four.pixel_spacing_mm[0] * column
        views[f"SAX{k}"] = replace(four, frames=small, orientation=np.concatenate([row, column]), position_mm=position,
                                   series_description="cine sax", series_uid=f"sax{k}", view="unknown",
                                   view_source="no keyword")
    return views


def synthetic_confusion(n_exams: int) -> None:
    from collections import Counter
    from dataclasses import replace

    from mvtrack.io.views import guess_view
    from mvtrack.pipeline.exam import select_series

    counts = {name: Counter() for name in LABELLINGS}
    for index in range(n_exams):
        exam = synthetic_exam(index)
        for name, labels in LABELLINGS.items():
            cines = []
            for truth, cine in exam.items():
                description = labels.get(truth, "cine sax") or ""
                view, source = guess_view([("SeriesDescription", description)])
                cines.append(replace(cine, series_description=description, series_uid=truth, view=view, view_source=source))
            chosen, _, _ = select_series(cines, trackable=("2CH", "4CH", "3CH"))
            used = {c.series_uid: view for view, c in chosen.items()}
            for cine in cines:
                truth = "SAX" if cine.series_uid.startswith("SAX") else cine.series_uid
                counts[name][(truth, used.get(cine.series_uid, "skipped"))] += 1
    for name, counter in counts.items():
        print(f"## synthetic exams ({n_exams}), {name}: rows = truth, columns = used as\n")
        print("| truth | 2CH | 3CH | 4CH | skipped |")
        print("|---|---:|---:|---:|---:|")
        for truth in ("2CH", "3CH", "4CH", "SAX"):
            print(f"| {truth} | " + " | ".join(str(counter[(truth, used)]) for used in ("2CH", "3CH", "4CH", "skipped")) + " |")
        print()


if __name__ == "__main__":
    main()
