"""What the plane geometry makes of every series of the real exams at hand (a table per exam).

For each exam folder: every series with its description's view, the role its plane gets
(mvtrack.pipeline.exam.plane_roles: short-axis slice, long-axis plane through the LV named by its turn
about the LV axis, long-axis plane off the LV, not long-axis, or not checked) and what series
selection does with it. Defaults: the whole 3T exam in data/ and the built-in MVnet sample.

    .venv/bin/python benchmarks/view_recognition.py [EXAM_DIR ...]
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


if __name__ == "__main__":
    main()
