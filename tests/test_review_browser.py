"""`mvtrack review` in a real browser (headless Chromium through selenium): open a study from the
worklist, correct a point at end-diastole and at end-systole by dragging it, see the metrics change,
save, and read the new results.json. Skipped (with the reason) where Chromium or selenium is missing;
`make test` installs Debian's chromium and chromium-driver when it runs as root."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from review_fixtures import write_out_dir

from mvtrack.results import read_result
from mvtrack.review.browser import browser_missing, chromium, drag_point, open_study, serving, wait_for

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


def _text(driver, selector: str) -> str:
    return driver.execute_script(f"return document.querySelector({selector!r}).textContent;")


def test_drag_points_at_ed_and_es_then_save(tmp_path):
    out = write_out_dir(tmp_path / "out")
    auto = read_result(out / "charlie" / "results.json")
    with serving(out) as url, chromium() as driver:
        driver.get(url + "/")
        studies = wait_for(driver, "Array.from(document.querySelectorAll('#worklist tr[data-study]'))"
                                   ".map(r => r.dataset.study).join(',')", what="worklist")
        assert studies == "charlie,alpha,bravo"  # QC-flagged first
        driver.execute_script("document.querySelector('#worklist tr[data-study=charlie] a').click();")
        wait_for(driver, "location.pathname === '/study'", what="study page")
        open_study(driver, url, "charlie")
        mapse_before = _text(driver, "#metric-mapse")
        view_before = _text(driver, ".view[data-view='2CH'] .view-metrics")

        driver.execute_script("document.getElementById('guided').click();")  # step 1: end-diastole
        assert driver.execute_script("return window.mvtrackReview.state.views['2CH'].frame;") == 0
        drag_point(driver, "2CH", 0, 0, 14)
        driver.execute_script("document.getElementById('guide-next').click();")  # step 2: end-systole
        es = driver.execute_script("return window.mvtrackReview.state.views['2CH'].frame;")
        assert es == int(np.argmax(auto["views"]["2CH"]["displacement_mm"]))
        drag_point(driver, "2CH", 1, 0, -14)
        wait_for(driver, f"document.querySelector(\".view[data-view='2CH'] .view-metrics\").textContent !== {view_before!r}",
                 what="2CH metrics after the corrections")
        wait_for(driver, f"document.querySelector('#metric-mapse').textContent !== {mapse_before!r}", what="study MAPSE")
        anchors = driver.execute_script("return window.mvtrackReview.state.anchors;")
        assert set(anchors["2CH"]) == {"0", str(es)}
        assert "reader-confirmed: 2ch" in _text(driver, "#qc").lower()

        driver.execute_script("document.getElementById('save').click();")
        wait_for(driver, "document.getElementById('status').textContent.startsWith('Saved')", what="save")
        assert _text(driver, "#review-state").startswith("reviewed")

    saved = read_result(out / "charlie" / "results.json")
    assert saved["review"]["anchors"]["2CH"] == anchors["2CH"]
    assert saved["review"]["reader_confirmed"] == ["2CH"]
    points, before = np.asarray(saved["views"]["2CH"]["points_px"]), np.asarray(auto["views"]["2CH"]["points_px"])
    np.testing.assert_allclose(points[0], anchors["2CH"]["0"], atol=1e-3)
    assert points[0, 0, 1] - before[0, 0, 1] > 1.0 and before[es, 1, 1] - points[es, 1, 1] > 1.0  # moved as dragged
    assert saved["views"]["2CH"]["metrics"]["mapse_mm"] != pytest.approx(auto["views"]["2CH"]["metrics"]["mapse_mm"])
    assert len(list((out / "charlie").glob("results.before-review-*.json"))) == 1
    with open(out / "summary.csv", newline="") as stream:
        assert {row["study"]: row["reviewed"] for row in csv.DictReader(stream)}["charlie"] == "True"
