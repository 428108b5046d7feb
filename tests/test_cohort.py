"""Cohorts (issue 15): --workers N and --dask give the same results.json as one process; summary.csv
has a row per study (failures included); --sr writes a DICOM SR that reads back with the numbers."""

from __future__ import annotations

import csv
import shutil

import pytest
from typer.testing import CliRunner

from mvtrack.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, synthetic_root):
    """The three synthetic DICOM studies and a fourth that cannot be read."""
    root = tmp_path_factory.mktemp("cohort") / "studies"
    shutil.copytree(synthetic_root, root)
    broken = root / "zz_broken" / "2ch"
    broken.mkdir(parents=True)
    (broken / "IM0001.dcm").write_bytes(b"\0" * 300)
    return root


def _analyze(cohort, out, model, *extra):
    outcome = runner.invoke(app, ["analyze", str(cohort), "--out", str(out), "--model", str(model), "--no-movies",
                                  "--no-search", "--batch", *extra])
    assert "Traceback" not in outcome.output, outcome.output
    return outcome


def _results(out) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(out.glob("*/results.json"))}


def test_workers_and_dask_give_the_same_results_as_one_process(cohort, tiny_model_dir, tmp_path):
    from distributed import LocalCluster

    one = _analyze(cohort, tmp_path / "one", tiny_model_dir, "--threads", "1")
    assert one.exit_code == 0 and "3 analysed, 0 already done, 1 failed" in one.output
    two = _analyze(cohort, tmp_path / "two", tiny_model_dir, "--workers", "2")
    assert two.exit_code == 0 and "3 analysed" in two.output
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        on_dask = _analyze(cohort, tmp_path / "dask", tiny_model_dir, "--dask", cluster.scheduler_address)
    assert on_dask.exit_code == 0 and "3 analysed" in on_dask.output
    expected = _results(tmp_path / "one")
    assert len(expected) == 3
    assert _results(tmp_path / "two") == expected and _results(tmp_path / "dask") == expected

    with open(tmp_path / "dask" / "summary.csv") as stream:
        rows = {row["study"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {*expected, "zz_broken"}
    assert rows["zz_broken"]["status"] == "failed" and "IM0001.dcm" in rows["zz_broken"]["error"]
    assert all(rows[s]["status"] == "done" and float(rows[s]["seconds"]) > 0 and rows[s]["views"] == "2CH+4CH"
               for s in expected)


def test_an_unreachable_scheduler_is_a_clear_error(cohort, tmp_path):
    from mvtrack.errors import MvtrackError
    from mvtrack.pipeline.batch import discover_studies
    from mvtrack.pipeline.cohort import AnalysisOptions, run_dask

    with pytest.raises(MvtrackError, match="cannot reach a Dask scheduler"):
        run_dask(discover_studies([cohort]), tmp_path, AnalysisOptions(), "tcp://127.0.0.1:9", connect_timeout_s=1)


def test_sr_holds_the_study_and_view_numbers(cohort, tiny_model_dir, tmp_path):
    import json

    import pydicom

    from mvtrack.report.sr import QC_NAME, read_sr_measurements

    study = sorted(p for p in cohort.iterdir() if p.is_dir() and not p.name.startswith("zz"))[0]
    outcome = runner.invoke(app, ["analyze", str(study), "--out", str(tmp_path), "--model", str(tiny_model_dir),
                                  "--no-movies", "--no-search", "--sr"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / study.name / "results.json").read_text())
    sr_path = tmp_path / study.name / "results_sr.dcm"
    dataset = pydicom.dcmread(sr_path)
    assert dataset.Modality == "SR" and dataset.StudyInstanceUID == result["views"]["2CH"].get("study_uid", dataset.StudyInstanceUID)
    referenced = {item.SeriesInstanceUID for item in dataset.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence}
    assert referenced == {entry["series_uid"] for entry in result["views"].values()}
    groups = read_sr_measurements(sr_path)
    for identifier, metrics in [("study: " + "+".join(result["study_views"]), result["metrics"]),
                                *((f"{v} view", e["metrics"]) for v, e in result["views"].items())]:
        found = groups[identifier]
        if metrics["mapse_mm"] is None:  # withheld by QC: left out, never written as a number
            assert "Excursion Distance" not in found
        else:
            assert found["Excursion Distance"] == pytest.approx(metrics["mapse_mm"])
        assert QC_NAME[1] in found


def test_sr_of_a_non_dicom_study_says_why_not(synthetic_root, tiny_model_dir, tmp_path):
    from mvtrack.io import read_cines, write_npz_cine

    study = tmp_path / "npz_study"
    study.mkdir()
    for cine in read_cines([sorted(p for p in synthetic_root.iterdir() if p.is_dir())[0]]):
        write_npz_cine(cine, study / f"cine_{cine.view.lower()}.npz")
    outcome = runner.invoke(app, ["analyze", str(study), "--out", str(tmp_path / "out"), "--model", str(tiny_model_dir),
                                  "--no-movies", "--no-search", "--sr"])
    assert outcome.exit_code == 0, outcome.output
    assert "DICOM SR needs DICOM images" in (tmp_path / "out" / "npz_study" / "sr_not_written.txt").read_text()
    shutil.rmtree(study)


def test_a_study_whose_dask_worker_dies_is_run_again_on_another(cohort, tiny_model_dir, tmp_path):
    """A worker process killed (SIGKILL, as an out-of-memory kill or a lost node) while it holds a
    study: the scheduler gives the study to another worker and the cohort still completes."""
    import os
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    from mvtrack.pipeline.batch import discover_studies
    from mvtrack.pipeline.cohort import AnalysisOptions, run_dask

    studies = [s for s in discover_studies([cohort], batch=True) if s.study_id != "zz_broken"]
    options = AnalysisOptions(model_dir=str(tiny_model_dir), search=False, movies=(), threads=1)
    outcomes, killed = [], []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as watcher:
        pids = watcher.run(os.getpid)
        batch = threading.Thread(target=lambda: outcomes.extend(
            run_dask(studies, tmp_path / "out", options, cluster.scheduler_address)))
        batch.start()
        deadline = time.monotonic() + 60
        while not killed and batch.is_alive() and time.monotonic() < deadline:
            busy = [worker for worker, keys in watcher.processing().items() if keys and worker in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.02)
        batch.join(timeout=120)
    assert killed, "no worker was seen holding a study"
    assert [o.status for o in outcomes] == ["done"] * len(studies), outcomes
    assert all((tmp_path / "out" / s.study_id / "results.json").exists() for s in studies)
