"""Copy the biv-me example exam from ``../shared/data/bivme-patient1`` into ``data/bivme-patient1``.

A user's clone has no ``../shared``, so the tests and ``benchmarks/real_scans.py`` read this copy.
Every series is kept, pixel for pixel; to fit the repository (61 MB -> about 16 MB) the private
(vendor) tags are dropped and the files are re-encoded as Deflated Explicit VR Little Endian
(lossless; pydicom reads it with no extra library). ``reference.json`` is kept as it came and also
converted into the result-contract annotation form (``annotations.json``) that ``mvtrack evaluate``
reads: only the 2CH and 4CH views the pipeline tracks today, each marked ``point_order: unordered``
because the reference keeps one point order per view that is not an anatomical one.

    .venv/bin/python scripts/import_bivme_exam.py [--source ../shared/data/bivme-patient1]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian

REPO = Path(__file__).resolve().parents[1]
TRACKED_VIEWS = ("2CH", "3CH", "4CH")


def copy_series(source: Path, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(source.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.remove_private_tags()
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(target / path.name, enforce_file_format=True)
        count += 1
    return count


def annotations_from_reference(reference: dict, rr_by_series: dict[str, float]) -> dict:
    views = {}
    for view in TRACKED_VIEWS:
        entry = reference["views"].get(view)
        if entry is None:
            continue
        views[view] = {
            "points_px": entry["points_px"],
            "times_s": entry["times_s"],
            "pixel_spacing_mm": entry["pixel_spacing_mm"],
            "rr_s": rr_by_series[entry["series_uid"]],
            "series_uid": entry["series_uid"],
            "series_folder": f"dicom/{entry['series']}",
            "point_order": "unordered",
        }
    return {
        "study": "bivme-patient1",
        "source": reference["source"],
        "reference_points": reference["reference_points"],
        "views": views,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "bivme-patient1")
    parser.add_argument("--target", type=Path, default=REPO / "data" / "bivme-patient1")
    args = parser.parse_args()

    from mvtrack.io import read_cines

    reference = json.loads((args.source / "reference.json").read_text())
    for series in sorted((args.source / "dicom").iterdir()):
        n = copy_series(series, args.target / "dicom" / series.name)
        print(f"{series.name}: {n} files")
    rr_by_series = {}
    for view in TRACKED_VIEWS:
        entry = reference["views"][view]
        (cine,) = read_cines([args.target / "dicom" / entry["series"]], view="2CH")
        rr_by_series[entry["series_uid"]] = float(cine.rr_s)
    for name in ("LICENSE", "README.md", "reference.json"):
        shutil.copy(args.source / name, args.target / name)
    with open(args.target / "README.md", "a") as stream:
        stream.write(
            "\nIn the mvtrack repository: the DICOM files were re-encoded losslessly (Deflated Explicit VR Little\n"
            "Endian) and their private tags removed, to save space (`scripts/import_bivme_exam.py`); pixels and\n"
            "public tags are unchanged. `annotations.json` is `reference.json` in mvtrack's annotation form (2CH,\n"
            "3CH and 4CH, `point_order: unordered`).\n")
    annotations = annotations_from_reference(reference, rr_by_series)
    (args.target / "annotations.json").write_text(json.dumps(annotations, indent=1))
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
