"""Cines as ``.npz``: ``frames`` (T, H, W), ``pixel_spacing_mm`` (row, col), ``times_s`` (T,),
optional ``rr_s`` and ``view``. Handy from Python and for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvtrack.errors import CineError
from mvtrack.io.cine import VIEWS, Cine, bad_values_are_cine_errors, describe_exception, rr_from_times, validate_cine
from mvtrack.io.views import guess_view


def read_npz_cine(path: Path | str, view: str | None = None) -> Cine:
    """Read a cine from ``.npz`` (see the module docstring); any member of the wrong type or shape is a
    CineError naming the file."""
    path = Path(path)
    with bad_values_are_cine_errors(path, ".npz member"):
        return _read_npz_cine(path, view)


def _read_npz_cine(path: Path, view: str | None) -> Cine:
    import zipfile

    if not zipfile.is_zipfile(path):
        raise CineError(path, "unreadable .npz file (not a NumPy .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:
        raise CineError(path, f"unreadable .npz file ({describe_exception(exc)})") from None
    for key in ("frames", "pixel_spacing_mm", "times_s"):
        if key not in arrays:
            raise CineError(path, f"missing array {key!r} (needs frames, pixel_spacing_mm, times_s)")
    times_s = np.asarray(arrays["times_s"], dtype=np.float64)
    if times_s.ndim != 1:
        raise CineError(path, f"times_s must be one number per frame, got shape {times_s.shape}")
    stored_view = str(arrays["view"]) if "view" in arrays else ""
    if view:
        found_view, view_source = view.upper(), "forced by the user"
    elif stored_view in VIEWS:
        found_view, view_source = stored_view, "the file's 'view' array"
    else:
        found_view, view_source = guess_view([("file name", path.stem), ("folder name", path.parent.name)])
    frames = np.asarray(arrays["frames"], dtype=np.float32)
    rr_s = float(arrays["rr_s"]) if "rr_s" in arrays else (rr_from_times(times_s) if len(times_s) > 1 else 1.0)
    rr_source = "the file's rr_s" if "rr_s" in arrays else "trigger times" if len(times_s) > 1 else "not stated (1 s assumed)"
    spacing = np.asarray(arrays["pixel_spacing_mm"], dtype=float).ravel()
    if spacing.size != 2:
        raise CineError(path, "pixel_spacing_mm must hold two numbers (row, col)")
    cine = Cine(
        frames=frames,
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        times_s=times_s,
        rr_s=rr_s,
        rr_source=rr_source,
        view=found_view,
        view_source=view_source,
        source_paths=(str(path),),
        series_description=path.stem,
        series_uid=str(arrays["series_uid"]) if "series_uid" in arrays else "",
        **_geometry(arrays, path),
    )
    return validate_cine(cine, path)


def write_npz_cine(cine: Cine, path: Path | str) -> None:
    """Write ``cine`` as ``.npz`` (frames stored as int16 when they are whole numbers that fit, else
    float32), with its series UID and, where known, its plane geometry (``orientation``, ``position_mm``)."""
    frames = np.asarray(cine.frames)
    if np.issubdtype(frames.dtype, np.floating) and frames.size and np.isfinite(frames).all() \
            and np.array_equal(frames, np.round(frames)) and frames.min() >= -32768 and frames.max() <= 32767:
        frames = frames.astype(np.int16)
    extra = {}
    if cine.orientation is not None and cine.position_mm is not None:
        extra = {"orientation": np.asarray(cine.orientation, dtype=float), "position_mm": np.asarray(cine.position_mm, dtype=float)}
    np.savez_compressed(
        path,
        frames=frames,
        pixel_spacing_mm=np.asarray(cine.pixel_spacing_mm),
        times_s=cine.times_s,
        rr_s=np.asarray(cine.rr_s),
        view=np.asarray(cine.view),
        series_uid=np.asarray(cine.series_uid),
        **extra,
    )


def _geometry(arrays: dict, path: Path) -> dict:
    """``orientation`` (6,) and ``position_mm`` (3,) when the file has both."""
    if "orientation" not in arrays or "position_mm" not in arrays:
        return {}
    orientation = np.asarray(arrays["orientation"], dtype=float).ravel()
    position = np.asarray(arrays["position_mm"], dtype=float).ravel()
    if orientation.size != 6 or position.size != 3:
        raise CineError(path, "orientation must hold 6 numbers and position_mm 3")
    return {"orientation": orientation, "position_mm": position}
