"""Run many studies: in this process, in N local processes, or as tasks on a Dask cluster.

Every runner calls :func:`analyse_into` once per study, which writes that study's outputs atomically
under ``out`` (:func:`mvtrack.pipeline.batch.run_study`), so the three give the same files, a rerun
resumes, and one study's failure never stops the others. The caller gets a :class:`StudyOutcome`
per study and writes ``summary.csv`` from them (:func:`write_summary`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mvtrack.pipeline.batch import CSV_FIELDS, Study, csv_row, run_study, write_csv_atomic


@dataclass(frozen=True)
class AnalysisOptions:
    """What ``mvtrack analyze`` was asked to do, the same for every study (sent to the workers).

    Attributes:
        view: force the view of every cine ("2CH"/"4CH") or None.
        model_dir: model folder, None for the shipped model.
        stage2_passes, search, skip_unreadable, pixel_spacing_mm: see :func:`mvtrack.pipeline.study.analyze_study`.
        adapt_tries: adapt stage 2 to each study's own frames with this many tries, 0 for none
            (:mod:`mvtrack.pipeline.adapt`; needs PyTorch).
        movies: overlay movie formats to write ("mp4", "gif"); empty for none.
        plane_csv, sr: also write mv_plane.csv / a DICOM SR per study.
        force: redo studies that already have a result.
        threads: ONNX Runtime threads per process (None: the CPUs shared among the processes).
        anchors: reader anchors per study id (see :func:`mvtrack.pipeline.anchors.read_anchors_file`;
            a study with anchors is analysed again even without ``force``).
    """

    view: str | None = None
    model_dir: str | None = None
    stage2_passes: int = 3
    search: bool = True
    adapt_tries: int = 0
    skip_unreadable: bool = False
    movies: tuple[str, ...] = ("mp4",)
    plane_csv: bool = False
    sr: bool = False
    force: bool = False
    threads: int | None = None
    pixel_spacing_mm: float | None = None
    anchors: dict | None = None


def _adapt_config(options: AnalysisOptions):
    if not options.adapt_tries:
        return None
    from mvtrack.pipeline.adapt import AdaptConfig

    return AdaptConfig(tries=options.adapt_tries)


@dataclass
class StudyOutcome:
    """How one study went: status "done", "skipped" (an earlier result kept) or "failed"."""

    study_id: str
    status: str
    seconds: float
    error: str | None = None
    worker: str = field(default="")


_MODELS: dict[tuple, object] = {}  # one ModelSet per process and (model folder, threads)


def _models(options: AnalysisOptions):
    from mvtrack.models.store import ModelSet

    key = (options.model_dir, options.threads)
    if key not in _MODELS:
        _MODELS[key] = ModelSet(options.model_dir, threads=options.threads)
    return _MODELS[key]


def analyse_into(study: Study, out: Path | str, options: AnalysisOptions) -> StudyOutcome:
    """Analyse one study into ``out/<study>`` (the task every runner runs). Never raises for a bad
    study: the failure is recorded in ``<study>/error.json`` (or ``<study>.error/``) and returned."""
    from mvtrack.pipeline.study import analyze_study

    out = Path(out)
    start = time.perf_counter()
    anchors = (options.anchors or {}).get(study.study_id)

    def analyse(s: Study):
        return analyze_study(s.paths, view=options.view, stage2_passes=options.stage2_passes, study_id=s.study_id,
                             models=_models(options), search=options.search, skip_unreadable=options.skip_unreadable,
                             pixel_spacing_mm=options.pixel_spacing_mm,
                             adapt=_adapt_config(options), anchors=anchors)

    status = run_study(study, out, analyse, force=options.force or bool(anchors), movies=options.movies, plane_csv=options.plane_csv,
                       sr=options.sr)
    error = read_error(out, study.study_id) if status == "failed" else None
    return StudyOutcome(study.study_id, status, time.perf_counter() - start, error, f"{os.uname().nodename}:{os.getpid()}")


def read_error(out: Path, study_id: str) -> str:
    """The message of a study's latest recorded failure (``<study>.error/`` beside a kept result, or
    ``<study>/`` when there is none)."""
    records = [p for p in (out / f"{study_id}.error" / "error.json", out / study_id / "error.json") if p.exists()]
    for path in sorted(records, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            return json.loads(path.read_text())["error"]
        except (OSError, ValueError, KeyError):
            continue
    return "failed (no error record)"


def threads_per_worker(workers: int) -> int:
    """ONNX Runtime threads for each of ``workers`` processes sharing this machine's CPUs."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_local(studies: list[Study], out: Path, options: AnalysisOptions, workers: int = 1,
              on_outcome: Callable[[StudyOutcome], None] | None = None) -> list[StudyOutcome]:
    """Analyse ``studies`` in this process (``workers`` 1) or in ``workers`` processes; outcomes in
    the order of ``studies``. ``on_outcome`` is called as each study ends (for progress)."""
    on_outcome = on_outcome or (lambda outcome: None)
    if workers <= 1 or len(studies) <= 1:
        outcomes = []
        for study in studies:
            outcomes.append(analyse_into(study, out, options))
            on_outcome(outcomes[-1])
        return outcomes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if options.threads is None:
        options = replace(options, threads=threads_per_worker(workers))
    # spawn: a clean interpreter per worker (no inherited ONNX Runtime threads), as on macOS and Windows
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(analyse_into, study, out, options): study for study in studies}
        found = {}
        for future in as_completed(futures):
            study = futures[future]
            try:
                found[study.study_id] = future.result()
            except Exception as error:  # noqa: BLE001 - a worker process died (killed, out of memory)
                found[study.study_id] = StudyOutcome(study.study_id, "failed", 0.0, f"worker process lost: {error}")
            on_outcome(found[study.study_id])
    return [found[s.study_id] for s in studies]


def run_dask(studies: list[Study], out: Path, options: AnalysisOptions, address: str,
             on_outcome: Callable[[StudyOutcome], None] | None = None, retries: int = 2,
             connect_timeout_s: float = 20.0) -> list[StudyOutcome]:
    """Submit one task per study to the Dask cluster at ``address`` (``tcp://host:port``); the
    workers must see ``out`` and the studies at the same paths. A study whose worker dies (killed,
    out of memory, a lost node) is given to another worker by the scheduler, up to Dask's
    ``distributed.scheduler.allowed-failures`` (3) times (tested: a worker killed while it holds a
    study); a task that raises is retried ``retries`` times; after that the study is recorded as failed."""
    from mvtrack.errors import MvtrackError

    try:
        from distributed import Client, as_completed
    except ImportError:
        raise MvtrackError("--dask needs Dask's distributed scheduler: pip install 'mvtrack[cluster]'") from None
    on_outcome = on_outcome or (lambda outcome: None)
    try:
        client = Client(address, timeout=f"{connect_timeout_s}s")
    except (OSError, TimeoutError) as error:
        raise MvtrackError(f"{address}: cannot reach a Dask scheduler ({error.__class__.__name__}: {error})") from None
    found = {}
    with client:
        futures = {client.submit(analyse_into, study, str(out), options, key=f"mvtrack-analyse-{study.study_id}-{time.time_ns()}",
                                 retries=retries, pure=False): study for study in studies}
        for future in as_completed(futures):
            study = futures[future]
            try:
                found[study.study_id] = future.result()
            except Exception as error:  # noqa: BLE001 - the task's worker was lost beyond the retries
                found[study.study_id] = StudyOutcome(study.study_id, "failed", 0.0,
                                                     f"Dask task failed: {error.__class__.__name__}: {error}")
            on_outcome(found[study.study_id])
    return [found[s.study_id] for s in studies]


#: summary.csv: the per-study columns of results.csv, then how this run went.
SUMMARY_FIELDS = [*CSV_FIELDS, "status", "seconds", "error"]


def write_summary(out: Path, outcomes: Iterable[StudyOutcome]) -> Path:
    """``out/summary.csv``: one row per study of this run, failed ones included (with the error)."""
    rows = []
    for outcome in outcomes:
        row = dict.fromkeys(SUMMARY_FIELDS, "")
        path = out / outcome.study_id / "results.json"
        if path.exists():
            try:
                row.update(csv_row(json.loads(path.read_text())))
            except (OSError, ValueError, KeyError):
                pass
        row.update(study=outcome.study_id, status=outcome.status,
                   seconds="" if outcome.status == "skipped" else round(outcome.seconds, 2), error=outcome.error or "")
        rows.append(row)
    summary = out / "summary.csv"
    write_csv_atomic(rows, summary, SUMMARY_FIELDS)
    return summary
