"""The review app's only access to files: an OUT_DIR of analysed studies, read and written in place.

Every path is built from a study id (one folder name directly under OUT_DIR) and checked to resolve
inside OUT_DIR (``..``, absolute paths and symbolic links that lead out are refused). A save holds a
lock file in OUT_DIR, keeps the previous results.json beside it
(``results.before-review-<UTC time>.json``) and replaces results.json, results.csv, curves.png,
report.html and the study's summary.csv row (column ``reviewed``) each by an atomic rename, so a
second ``mvtrack review`` on the same OUT_DIR, or a reader of the files, never sees half a file.
"""

from __future__ import annotations

import base64
import csv
import fcntl
import io
import json
import os
import re
import tempfile
from collections import OrderedDict
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mvtrack.errors import MvtrackError

#: Characters a study id (a folder of OUT_DIR) or a file name under it may not hold.
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f]")
KEPT_PREFIX = "results.before-review-"
LOCK_NAME = ".mvtrack-review.lock"
#: Frames of this many cines are kept encoded in memory.
FRAME_CACHE_SIZE = 8


class ReviewError(MvtrackError):
    """A request the review app refuses; the message names the study or file and the problem."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class NotFound(ReviewError):
    def __init__(self, message: str):
        super().__init__(message, 404)


# --------------------------------------------------------------------------------------------------
# Pure helpers


def check_name(name: str, what: str) -> str:
    """``name`` if it is a plain file or folder name (no separator, no ``..``, not hidden), else ReviewError."""
    if not isinstance(name, str) or not name or name.startswith(".") or _FORBIDDEN.search(name):
        raise NotFound(f"{name!r}: not a {what} of this folder")
    return name


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved (symbolic links followed) if it lies under ``root`` (resolved), else ReviewError."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise NotFound(f"{path.name}: outside the review folder")
    return resolved


def window_frames(frames: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """(T, H, W) uint8: the cine windowed to its ``low``-``high`` percentile (one window for all frames)."""
    frames = np.asarray(frames, dtype=np.float32)
    finite = frames[np.isfinite(frames)]
    if finite.size == 0:
        return np.zeros(frames.shape, dtype=np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.nan_to_num((frames - lo) * scale, nan=0.0).clip(0, 255).astype(np.uint8)


def png_base64(image: np.ndarray) -> str:
    """A (H, W) uint8 image as base64 PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def worklist_entry(study_id: str, result: dict) -> dict:
    """One row of the worklist: the numbers, the QC verdict and whether a reader reviewed it."""
    metrics, qc, review = result.get("metrics", {}), result.get("qc", {}), result.get("review") or {}
    return {
        "study": study_id,
        "views": sorted(result.get("views", {})),
        "mapse_mm": metrics.get("mapse_mm"),
        "e_prime_cm_s": metrics.get("e_prime_cm_s"),
        "needs_review": bool(qc.get("needs_review")),
        "qc_reasons": list(qc.get("reasons", [])),
        "reviewed": bool(review),
        "reviewed_when": review.get("when"),
        "reader_confirmed": list(review.get("reader_confirmed", [])),
    }


def worklist_order(entries: list[dict]) -> list[dict]:
    """QC-flagged studies first (not yet reviewed before reviewed), then by study id."""
    return sorted(entries, key=lambda e: (not e.get("needs_review"), bool(e.get("reviewed")), e["study"]))


def kept_name(now: datetime, taken: set[str]) -> str:
    """``results.before-review-<UTC time>.json``, unique among ``taken``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"{KEPT_PREFIX}{stamp}.json", 1
    while name in taken:
        n += 1
        name = f"{KEPT_PREFIX}{stamp}-{n}.json"
    return name


def summary_with_row(header: list[str], rows: list[dict], row: dict) -> tuple[list[str], list[dict]]:
    """summary.csv's header and rows with the study's row updated from ``row`` (its results.csv
    columns); the ``reviewed`` column is added (before ``status``) when missing."""
    if "reviewed" not in header:
        at = header.index("status") if "status" in header else len(header)
        header = [*header[:at], "reviewed", *header[at:]]
    out = []
    for existing in rows:
        if existing.get("study") == row["study"]:
            existing = {**existing, **{k: v for k, v in row.items() if k in header}}
        out.append(existing)
    return header, out


# --------------------------------------------------------------------------------------------------
# The folder


def _while_unchanged(cache: dict[str, tuple[tuple, dict]], study_id: str, path: Path, load) -> dict:
    """``load()``'s value for ``study_id``, kept in ``cache`` while ``path`` is unchanged (its
    modification time, size and inode)."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = cache.get(study_id)
    if cached is None or cached[0] != key:
        cached = (key, load())
        cache[study_id] = cached
    return cached[1]


class ReviewStore:
    """OUT_DIR of ``mvtrack analyze``: list, read and save reviewed studies, nothing outside it."""

    def __init__(self, root: Path | str):
        root = Path(root)
        if not root.is_dir():
            raise ReviewError(f"{root}: no such folder (give the --out folder of mvtrack analyze)")
        self.root = root.resolve()
        self._results: dict[str, tuple[tuple, dict]] = {}
        self._entries: dict[str, tuple[tuple, dict]] = {}
        self._frames: OrderedDict[tuple, dict] = OrderedDict()

    # -- paths

    def study_dir(self, study_id: str) -> Path:
        folder = inside(self.root, self.root / check_name(study_id, "study"))
        if folder.parent != self.root or not (folder / "results.json").is_file():
            raise NotFound(f"{study_id}: no analysed study of that name (no {study_id}/results.json)")
        return folder

    def study_file(self, study_id: str, relative: str) -> Path:
        """A file of a study's folder (one level of subfolder at most, e.g. ``cines/2CH.npz``)."""
        parts = relative.split("/")
        if not 1 <= len(parts) <= 2:
            raise NotFound(f"{study_id}/{relative}: not a file of this study")
        folder = self.study_dir(study_id)
        path = inside(self.root, folder.joinpath(*(check_name(p, "file") for p in parts)))
        if not path.is_relative_to(folder) or not path.is_file():
            raise NotFound(f"{study_id}/{relative}: no such file")
        return path

    # -- reading

    def study_ids(self) -> list[str]:
        ids = []
        for child in sorted(self.root.iterdir()):
            if not child.name.startswith(".") and not child.name.endswith(".error"):
                try:
                    self.study_dir(child.name)
                except ReviewError:
                    continue
                ids.append(child.name)
        return ids

    def result(self, study_id: str) -> dict:
        """The study's results.json (cached while the file is unchanged); a copy the caller may change."""
        from mvtrack.results import read_result

        path = self.study_dir(study_id) / "results.json"

        def load() -> dict:
            try:
                return read_result(path)
            except MvtrackError as error:
                raise ReviewError(f"{study_id}/results.json: {_after_path(str(error), path)}", 500) from None

        return json.loads(json.dumps(_while_unchanged(self._results, study_id, path, load)))

    def worklist(self) -> list[dict]:
        """One entry per analysed study (read without the schema check, cached while unchanged: a
        thousand studies list in about a second, then at once)."""
        return worklist_order([self._worklist_entry(study_id) for study_id in self.study_ids()])

    def _worklist_entry(self, study_id: str) -> dict:
        path = self.study_dir(study_id) / "results.json"

        def load() -> dict:
            try:
                return worklist_entry(study_id, json.loads(path.read_text()))
            except (OSError, ValueError, AttributeError, TypeError) as error:
                return {"study": study_id, "views": [], "mapse_mm": None, "e_prime_cm_s": None, "needs_review": True,
                        "qc_reasons": [f"results.json unreadable ({error.__class__.__name__})"], "reviewed": False,
                        "reviewed_when": None, "reader_confirmed": [], "unreadable": True}

        return _while_unchanged(self._entries, study_id, path, load)

    def frames(self, study_id: str, view: str) -> dict:
        """The view's frames as base64 PNGs (windowed to the cine's 1st-99th percentile)."""
        from mvtrack.io.npz import read_npz_cine

        if view not in self.result(study_id).get("views", {}):
            raise NotFound(f"{study_id}: no tracked view {view!r}")
        try:
            path = self.study_file(study_id, f"cines/{view}.npz")
        except NotFound:
            raise NotFound(f"{study_id}/cines/{view}.npz: no frames saved (analysed by an mvtrack that did not save "
                           "them: rerun mvtrack analyze --force)") from None
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        try:
            cine = read_npz_cine(path, view=view)
        except MvtrackError as error:
            raise ReviewError(f"{study_id}/cines/{view}.npz: {_after_path(str(error), path)}", 500) from None
        images = window_frames(cine.frames)
        entry = {"view": view, "height": int(images.shape[1]), "width": int(images.shape[2]),
                 "frames": [png_base64(image) for image in images]}
        self._frames[key] = entry
        while len(self._frames) > FRAME_CACHE_SIZE:
            self._frames.popitem(last=False)
        return entry

    def kept(self, study_id: str) -> list[str]:
        """The results.json files kept by earlier saves, oldest first."""
        return sorted(p.name for p in self.study_dir(study_id).glob(f"{KEPT_PREFIX}*.json"))

    # -- reviewing and saving

    def reviewed(self, study_id: str, raw_anchors: dict, when: str | None = None) -> dict:
        """The study's result re-tracked from ``raw_anchors`` ({view: {frame: [[x, y], [x, y]]}}); not saved."""
        from mvtrack.pipeline.anchors import anchors_for_views, review_result

        if not isinstance(raw_anchors, dict):
            raise ReviewError(f"{study_id}: anchors must be {{view: {{frame: [[x, y], [x, y]]}}}}")
        result = self.result(study_id)
        anchors = anchors_for_views({k: v for k, v in raw_anchors.items() if v}, result["views"], study_id)
        return review_result(result, anchors, when=when, source="reader (mvtrack review)")

    def save(self, study_id: str, raw_anchors: dict) -> dict:
        """Re-track from ``raw_anchors`` and write the study's outputs; returns {result, kept}."""
        reviewed = self.reviewed(study_id, raw_anchors)
        with self.locked():
            kept = self._write(study_id, reviewed)
        return {"result": reviewed, "kept": kept}

    def restore(self, study_id: str, kept_file: str) -> dict:
        """Make a kept results.json current again (the current one is kept in turn): undoes a saved review."""
        from mvtrack.results import read_result

        check_name(kept_file, "file")
        if not kept_file.startswith(KEPT_PREFIX):
            raise NotFound(f"{study_id}/{kept_file}: not a results.json kept by a review")
        path = self.study_file(study_id, kept_file)
        try:
            earlier = read_result(path)
        except MvtrackError as error:
            raise ReviewError(f"{study_id}/{kept_file}: {_after_path(str(error), path)}") from None
        with self.locked():
            kept = self._write(study_id, earlier)
        return {"result": earlier, "kept": kept}

    @contextmanager
    def locked(self):
        """Hold OUT_DIR's review lock (one save at a time, across processes)."""
        with open(self.root / LOCK_NAME, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, study_id: str, result: dict) -> str:
        from mvtrack.pipeline.batch import csv_row, write_csv_atomic
        from mvtrack.report.figures import plot_curves
        from mvtrack.report.html import write_html
        from mvtrack.results import validate_result, write_json_atomic

        folder = self.study_dir(study_id)
        validate_result(result, f"{study_id}/results.json")
        current = folder / "results.json"
        kept = kept_name(datetime.now(UTC), set(self.kept(study_id)))
        _copy_atomic(current, folder / kept)
        write_json_atomic(result, current)
        write_csv_atomic([csv_row(result)], folder / "results.csv")
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".curves.", suffix=".png")
        os.close(handle)
        try:
            plot_curves(result, temporary)
            os.chmod(temporary, 0o644)
            os.replace(temporary, folder / "curves.png")
        finally:
            Path(temporary).unlink(missing_ok=True)
        self._redraw_movies(folder, result)
        write_html(result, folder, self._media(folder, result))
        self._update_summary(result)
        return kept

    @staticmethod
    def _redraw_movies(folder: Path, result: dict) -> None:
        """The overlay movies analyze wrote, drawn again with the saved points (each format that is
        there; written beside and renamed into place). A view without saved frames keeps its movie."""
        from mvtrack.io.npz import read_npz_cine
        from mvtrack.report.movie import write_movies

        for view, entry in result["views"].items():
            stem = f"overlay_{view.lower()}"
            formats = tuple(f for f in ("mp4", "gif") if (folder / f"{stem}.{f}").is_file())
            npz = folder / "cines" / f"{view}.npz"
            if not formats or not npz.is_file() or npz.is_symlink():
                continue
            try:
                cine = read_npz_cine(npz, view=view)
            except MvtrackError:
                continue
            temporary = folder / f".{stem}-review-{os.getpid()}"
            try:
                for path in write_movies(cine.frames, np.asarray(entry["points_px"]), cine.times_s, temporary, formats):
                    os.replace(path, folder / f"{stem}{path.suffix}")
            finally:
                for leftover in folder.glob(f"{temporary.name}.*"):
                    leftover.unlink(missing_ok=True)

    @staticmethod
    def _media(folder: Path, result: dict) -> dict[str, list[str]]:
        """The overlay movies analyze wrote, per view (report.html links them)."""
        return {view: sorted(p.name for p in folder.glob(f"overlay_{view.lower()}.*") if p.suffix in (".mp4", ".gif"))
                for view in result["views"]}

    def _update_summary(self, result: dict) -> None:
        """OUT_DIR/summary.csv (if there is one): the study's row from the new result, with ``reviewed``."""
        from mvtrack.pipeline.batch import csv_row, write_csv_atomic

        path = self.root / "summary.csv"
        if not path.is_file() or path.is_symlink():
            return
        with open(path, newline="") as stream:
            reader = csv.DictReader(stream)
            header, rows = list(reader.fieldnames or []), list(reader)
        if "study" not in header:
            return
        header, rows = summary_with_row(header, rows, csv_row(result))
        write_csv_atomic(rows, path, header)


def _copy_atomic(source: Path, target: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(source.read_bytes())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _after_path(message: str, path: Path) -> str:
    """An error message without its leading ``<path>: `` (the caller names the file relative to OUT_DIR)."""
    return message.split(": ", 1)[1] if message.startswith(str(path)) and ": " in message else message
