"""Screenshots of `mvtrack review` for the README: docs/review-worklist.png and docs/review-study.png.

Analyses three synthetic studies with the shipped model (about a minute on two cores) unless an
analysed OUT_DIR is given, serves the review app over a copy of it (nothing is saved), and drives
headless Chromium: the worklist (one synthetic study reviewed beforehand with its ground truth at
end-diastole and end-systole), then the QC-flagged study in the guided review at end-systole after
one correction at end-diastole. Needs selenium and Debian's chromium + chromium-driver.

    python scripts/review_screenshots.py [--out-dir OUT_DIR] [--docs docs]

The README's screenshots (2026-12-06) are of real studies: ``mvtrack analyze`` of the built-in MVnet
sample and of ``data/bivme-patient1/dicom`` (as ``bivme-patient1``) into one OUT_DIR, the latter
reviewed beforehand with its reference points at ED and ES (``mvtrack review`` or
``ReviewStore.save``), then ``--out-dir`` that folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def analysed_studies(work: Path) -> Path:
    """Three synthetic studies analysed with the shipped model into ``work/out``."""
    mvtrack = [sys.executable, "-m", "mvtrack"]
    subprocess.run([*mvtrack, "synth", str(work / "studies"), "--subjects", "3", "--seed", "5", "--workers", "1"],
                   check=True)
    subprocess.run([*mvtrack, "analyze", str(work / "studies"), "--out", str(work / "out"), "--no-movies"], check=True)
    return work / "out"


def truth_anchors(result: dict, truth: dict) -> dict:
    """The synthetic ground truth at end-diastole and end-systole as anchors (results.json point order)."""
    import numpy as np

    anchors = {}
    for view, entry in result["views"].items():
        auto, true = np.asarray(entry["points_px"]), np.asarray(truth["views"][view]["points_px"])
        es = int(np.argmax(truth["views"][view]["displacement_mm"]))
        if np.linalg.norm(true[0, ::-1] - auto[0]) < np.linalg.norm(true[0] - auto[0]):
            true = true[:, ::-1]
        anchors[view] = {str(f): true[f].tolist() for f in (0, es)}
    return anchors


def review_one_with_truth(out_dir: Path, studies: Path) -> None:
    """Save a review of the last study of the worklist made from its ground truth at ED and ES (so that
    the worklist shows a reviewed study, and its numbers are the truth's)."""
    import json

    from mvtrack.review.store import ReviewStore

    store = ReviewStore(out_dir)
    study = store.worklist()[-1]["study"]
    truth = json.loads((studies / study / "truth.json").read_text())
    store.save(study, truth_anchors(store.result(study), truth))


def first_flagged(out_dir: Path) -> str:
    from mvtrack.review.store import ReviewStore

    return ReviewStore(out_dir).worklist()[0]["study"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, help="an analysed OUT_DIR (default: three synthetic studies)")
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    args = parser.parse_args()

    from mvtrack.review.browser import browser_missing, chromium, drag_point, open_study, serving, wait_for

    missing = browser_missing()
    if missing:
        sys.exit(f"error: {missing}")
    with tempfile.TemporaryDirectory(prefix="mvtrack-screenshots-") as temporary:
        work = Path(temporary)
        out_dir = work / "review"
        shutil.copytree(args.out_dir or analysed_studies(work), out_dir)  # a copy: nothing of the original changes
        if args.out_dir is None:
            review_one_with_truth(out_dir, work / "studies")
        study = first_flagged(out_dir)
        with serving(out_dir) as url, chromium(1400, 940) as driver:
            driver.get(url + "/")
            wait_for(driver, "document.querySelectorAll('#worklist tr[data-study]').length > 0", what="worklist")
            driver.set_window_size(1250, 420)
            driver.save_screenshot(str(args.docs / "review-worklist.png"))
            driver.set_window_size(1400, 940)
            open_study(driver, url, study)
            driver.execute_script("document.getElementById('guided').click();")
            view = min(driver.execute_script("return Object.keys(window.mvtrackReview.state.views);"))
            drag_point(driver, view, 0, 2, 3)  # end-diastole: the first point a little lower
            driver.execute_script("document.getElementById('guide-next').click();")  # on to end-systole
            wait_for(driver, "document.body.dataset.busy === '0'")
            driver.save_screenshot(str(args.docs / "review-study.png"))
    print(f"wrote {args.docs / 'review-worklist.png'} and {args.docs / 'review-study.png'} ({study})")


if __name__ == "__main__":
    main()
