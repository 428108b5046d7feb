"""Analyse many studies: per-study outputs written atomically, failures isolated, reruns resumable."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from mvtrack.errors import MvtrackError
from mvtrack.io.dicom import may_be_dicom_image
from mvtrack.results import read_result, write_json_atomic, write_result

CSV_FIELDS = ["study", "mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s", "views", "needs_review",
              "qc_reasons", "metrics_withheld_because", "mapse_2ch_mm", "mapse_4ch_mm", "heart_rate_bpm",
              "study_views", "mapse_3ch_mm", "mapse_2ch_4ch_mm", "e_prime_2ch_4ch_cm_s", "reviewed"]


@dataclass
class Study:
    study_id: str
    paths: list[Path]


def _has_image_files(folder: Path) -> bool:
    return any(p.is_file() and not p.name.startswith(".") and (may_be_dicom_image(p) or p.name.endswith((".nii", ".nii.gz", ".npz")))
               for p in folder.iterdir())


def discover_studies(paths: list[Path], batch: bool | None = None) -> list[Study]:
    """Turn command-line paths into studies.

    Files given together form one study. A folder is one study unless it is a folder of studies:
    ``batch=True``, or (auto) its subfolders themselves hold image subfolders (study/series/files).
    """
    paths = [Path(p) for p in paths]
    files = [p for p in paths if p.is_file()]
    studies = [Study(files[0].name.split(".")[0], files)] if files else []
    for folder in (p for p in paths if p.is_dir()):
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        nested = [s for s in subfolders if any(c.is_dir() and _has_image_files(c) for c in s.iterdir())]
        if batch or (batch is None and nested and not _has_image_files(folder)):
            studies += [Study(s.name, [s]) for s in subfolders]
        else:
            studies.append(Study(folder.name, [folder]))
    for p in paths:
        if not p.exists():
            raise MvtrackError(f"{p}: no such file or folder")
    return studies


def write_study_outputs(study_result, out_dir: Path, movies: tuple[str, ...] | bool = ("mp4",), plane_csv: bool = False,
                        sr: bool = False) -> None:
    """results.json, results.csv, curves.png, cines/<VIEW>.npz (the tracked frames), overlay movies (``movies``: formats, see
    :func:`mvtrack.report.movie.write_movies`; True for MP4, False for none) and report.html into
    ``out_dir``; with ``plane_csv`` also mv_plane.csv (see :func:`write_plane_csv`); with ``sr`` also
    results_sr.dcm, a DICOM SR (see :mod:`mvtrack.report.sr`), or sr_not_written.txt saying why."""
    from concurrent.futures import ThreadPoolExecutor

    from mvtrack.io.npz import write_npz_cine
    from mvtrack.report.figures import plot_curves
    from mvtrack.report.html import write_html
    from mvtrack.report.movie import write_movies

    formats = ("mp4",) if movies is True else tuple(movies or ())
    result = study_result.result
    # The frames the points belong to, for `mvtrack review` (which serves only files under OUT_DIR)
    # and for learning from reviewed studies.
    (out_dir / "cines").mkdir(exist_ok=True)
    for view, cine in study_result.cines.items():
        write_npz_cine(cine, out_dir / "cines" / f"{view}.npz")
    # The movies are encoded by ffmpeg processes: they run while this thread draws the curves.
    with ThreadPoolExecutor(max(1, len(study_result.cines))) as pool:
        movie_paths = {view: pool.submit(write_movies, cine.frames, study_result.tracks[view].points_px, cine.times_s,
                                         out_dir / f"overlay_{view.lower()}", formats)
                       for view, cine in study_result.cines.items() if formats}
        write_result(result, out_dir / "results.json")
        write_csv_atomic([csv_row(result)], out_dir / "results.csv")
        plot_curves(result, out_dir / "curves.png")
        media = {view: [p.name for p in movie_paths[view].result()] if view in movie_paths else []
                 for view in study_result.cines}
    write_html(result, out_dir, media)
    if plane_csv:
        write_plane_csv(result, out_dir / "mv_plane.csv")
    if sr:
        from mvtrack.report.sr import write_sr

        try:
            write_sr(result, {v: list(c.source_paths) for v, c in study_result.cines.items()}, out_dir / "results_sr.dcm")
        except MvtrackError as error:
            (out_dir / "sr_not_written.txt").write_text(f"no DICOM SR: {error}\n")


#: Columns of mv_plane.csv: one row per phase of the study's cycle.
PLANE_CSV_COLUMNS = ("trigger_time_ms", "centre_x_mm", "centre_y_mm", "centre_z_mm", "normal_x", "normal_y", "normal_z",
                     "residual_mm")


def write_plane_csv(result: dict, path: Path) -> None:
    """The MV plane per phase for slice-following: time after the R wave (ms), centre (mm) and unit
    normal (toward the apex) in DICOM patient coordinates (LPS: x to the patient's left, y to the
    back, z to the head). A study without a fitted plane gets a file with the header and a comment
    line giving the reason."""
    plane = result.get("mv_plane") or {}
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(PLANE_CSV_COLUMNS)
        if not plane.get("centre_mm"):
            stream.write(f"# no MV plane: {plane.get('reason', 'not fitted')}\n")
            return
        for t, centre, normal, residual in zip(plane["times_s"], plane["centre_mm"], plane["normal"], plane["residual_mm"]):
            writer.writerow([round(t * 1000, 1), *centre, *normal, residual])


def csv_row(result: dict) -> dict:
    metrics = result["metrics"]
    views = result["views"]
    return {
        "study": result["study"],
        **{k: _round(metrics.get(k)) for k in ("mapse_mm", "s_prime_cm_s", "e_prime_cm_s", "a_prime_cm_s")},
        "views": "+".join(sorted(views)),
        "needs_review": result.get("qc", {}).get("needs_review", ""),
        "qc_reasons": " | ".join(result.get("qc", {}).get("reasons", [])),
        # an empty number cell is explained, never left to be read as a missing measurement
        "metrics_withheld_because": metrics.get("reasons", {}).get("mapse_mm", "") if metrics.get("mapse_mm") is None else "",
        "mapse_2ch_mm": _round(views.get("2CH", {}).get("metrics", {}).get("mapse_mm")),
        "mapse_4ch_mm": _round(views.get("4CH", {}).get("metrics", {}).get("mapse_mm")),
        "heart_rate_bpm": _round(60.0 / result["rr_s"]) if result.get("rr_s") else "",
        "study_views": "+".join(result.get("study_views", sorted(views))),
        "mapse_3ch_mm": _round(views.get("3CH", {}).get("metrics", {}).get("mapse_mm")),
        # the paper's study metrics (2CH and 4CH only), for comparison with MVnet-style results
        "mapse_2ch_4ch_mm": _round((result.get("metrics_2ch_4ch") or {}).get("mapse_mm")),
        "e_prime_2ch_4ch_cm_s": _round((result.get("metrics_2ch_4ch") or {}).get("e_prime_cm_s")),
        # a reader checked the points (mvtrack review or analyze --anchors): results.json has `review`
        "reviewed": bool(result.get("review")),
    }


def _round(value):
    return "" if value is None else round(float(value), 2)


def write_csv_atomic(rows: list[dict], path: Path, fields: list[str] = CSV_FIELDS) -> None:
    """``rows`` as CSV with the columns ``fields``, written to a hidden file and moved into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def run_study(study: Study, out_root: Path, analyze, force: bool = False, movies: tuple[str, ...] | bool = ("mp4",),
              plane_csv: bool = False, sr: bool = False) -> str:
    """Analyse one study into ``out_root/<study>``. Returns "done", "skipped" or "failed".

    Outputs are built in a hidden temporary folder and moved into place only when complete, so an
    interrupted run leaves no half-written study and a good earlier result is never overwritten by
    a failure.
    """
    final = out_root / study.study_id
    if not force and (final / "results.json").exists():
        try:
            read_result(final / "results.json")
            return "skipped"
        except MvtrackError:
            pass
    out_root.mkdir(parents=True, exist_ok=True)
    for leftover in out_root.glob(f".{study.study_id}.*"):
        if leftover.is_dir() and _abandoned(leftover, study.study_id):  # staging of a killed run, never a live one's
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{study.study_id}.{_owner()}.", dir=out_root))
    try:
        study_result = analyze(study)
        write_study_outputs(study_result, staging, movies, plane_csv, sr)
    except MvtrackError as error:
        shutil.rmtree(staging, ignore_errors=True)
        _record_error(final, study, str(error), None)
        return "failed"
    except Exception as error:  # an unexpected bug must not stop a batch of hundreds of studies
        shutil.rmtree(staging, ignore_errors=True)
        _record_error(final, study, f"unexpected error: {error.__class__.__name__}: {error}", traceback.format_exc())
        return "failed"
    except BaseException:  # interrupted (Ctrl-C): leave nothing behind, then stop
        shutil.rmtree(staging, ignore_errors=True)
        raise
    kept_because = _degraded(final / "results.json", study_result.result)
    if kept_because:
        shutil.rmtree(staging, ignore_errors=True)
        _record_error(final, study, f"{kept_because}: the earlier result was kept (remove {final} to replace it)", None)
        return "failed"
    backup = None
    if final.exists():
        backup = out_root / f".{study.study_id}.{_owner()}.old-{time.time_ns()}"
        final.rename(backup)
    staging.chmod(0o755)  # mkdtemp makes it private
    staging.rename(final)
    if backup:
        shutil.rmtree(backup, ignore_errors=True)
    shutil.rmtree(out_root / f"{study.study_id}.error", ignore_errors=True)  # an earlier failure's record
    return "done"


def _degraded(earlier_path: Path, new: dict) -> str | None:
    """Why a new result must not replace the earlier one at ``earlier_path`` (it has fewer views, or
    no study MAPSE where the earlier had one), or None. A rerun with --force on damaged input must not
    destroy a good result."""
    try:
        earlier = read_result(earlier_path)
    except MvtrackError:  # none, or unreadable: nothing to protect
        return None
    lost_views = sorted(set(earlier["views"]) - set(new["views"]))
    if lost_views:
        return (f"the new analysis lacks the {'+'.join(lost_views)} view(s) of the earlier result "
                f"({'+'.join(sorted(new['views'])) or 'none'} against {'+'.join(sorted(earlier['views']))})")
    if earlier["metrics"].get("mapse_mm") is not None and new["metrics"].get("mapse_mm") is None:
        return "the new analysis has no study MAPSE where the earlier result had one"
    return None


def _host() -> str:
    return socket.gethostname().replace(".", "_")  # no dots: they separate the parts of a staging name


def _owner() -> str:
    """host-pid of this process, in staging names, so that concurrent runs on one --out (several
    processes or machines) clean up only what a dead process of their own host left behind."""
    return f"{_host()}-{os.getpid()}"


def _abandoned(folder: Path, study_id: str) -> bool:
    """A staging folder ``.<study>.<host>-<pid>.*`` whose owner process on this host is gone (or of an
    unknown owner and older than a day); folders of other hosts are left to them."""
    owner = folder.name[len(study_id) + 2:].split(".")[0]
    host, _, pid = owner.rpartition("-")
    if not pid.isdigit():
        return time.time() - folder.stat().st_mtime > 86400
    if host != _host():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _record_error(final: Path, study: Study, message: str, trace: str | None) -> None:
    if (final / "results.json").exists():
        final = final.with_name(final.name + ".error")
    final.mkdir(parents=True, exist_ok=True)
    write_json_atomic({"study": study.study_id, "paths": [str(p) for p in study.paths], "error": message,
                       "traceback": trace}, final / "error.json")
