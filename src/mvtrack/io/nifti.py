"""Read and write 2D+t NIfTI cines with nibabel.

NIfTI stores ``data[i, j, (k,) t]``. mvtrack maps voxel axis i to image columns and j to image rows
(the DICOM convention dcm2niix keeps), so ``frames[t, row=j, col=i]`` and
``pixel_spacing_mm = (zooms[1], zooms[0])``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import numpy as np

from mvtrack.errors import CineError
from mvtrack.io.cine import Cine, bad_values_are_cine_errors, describe_exception, validate_cine
from mvtrack.io.views import guess_view

_TIME_TO_S = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def read_nifti_cine(path: Path | str, view: str | None = None) -> Cine:
    """Read a (X, Y, T) or (X, Y, 1, T) NIfTI file as one cine.

    The time step comes from the fourth zoom and the header's xyzt time unit; with no unit stated,
    a step above 5 is taken as ms. The view comes from ``view`` or the file and folder names.
    """
    path = Path(path)
    with bad_values_are_cine_errors(path, "NIfTI header or data"), _quiet_nibabel():
        return _read_nifti_cine(path, view)


@contextmanager
def _quiet_nibabel():
    """nibabel logs its fixes of odd headers to stderr; they are not for the user (what matters
    becomes a CineError or a note)."""
    logger = nib.imageglobals.logger
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read_nifti_cine(path: Path, view: str | None) -> Cine:
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj, dtype=np.float32)
    except Exception as exc:  # nibabel raises several types for corrupt files
        raise CineError(path, f"unreadable NIfTI file ({describe_exception(exc)})") from None
    header = image.header
    zooms = header.get_zooms()
    if data.ndim == 4 and data.shape[2] == 1:
        data = data[:, :, 0, :]
        dt = float(zooms[3]) if len(zooms) > 3 else 0.0
    elif data.ndim == 3:
        dt = float(zooms[3]) if len(zooms) > 3 else float(zooms[2])
    else:
        raise CineError(path, f"expected a 2D+t image (X, Y, T) or (X, Y, 1, T), got shape {data.shape}")
    try:
        unit = header.get_xyzt_units()[1]
    except KeyError:  # a garbage xyzt_units byte: treat the unit as unstated
        unit = "unknown"
    if unit in _TIME_TO_S:
        dt *= _TIME_TO_S[unit]
    elif dt > 5:
        dt *= 1e-3
    if not dt > 0:
        raise CineError(path, "no time step in the header (pixdim[4]): cannot time the frames")
    frames = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    n = frames.shape[0]
    times_s = np.arange(n) * dt
    if view:
        found_view, view_source = view.upper(), "forced by the user"
    else:
        found_view, view_source = guess_view(
            [("file name", path.name.split(".")[0]), ("folder name", path.parent.name)]
        )
    cine = Cine(
        frames=frames,
        pixel_spacing_mm=(float(zooms[1]), float(zooms[0])),
        times_s=times_s,
        rr_s=float(n * dt),
        rr_source="frame count x time step (pixdim[4])",
        view=found_view,
        view_source=view_source,
        source_paths=(str(path),),
        series_description=path.name,
    )
    return validate_cine(cine, path)


def write_nifti_cine(cine: Cine, path: Path | str) -> None:
    """Write a cine as (X, Y, 1, T) NIfTI with spacing in mm and the time step in ms."""
    data = np.transpose(cine.frames, (2, 1, 0))[:, :, None, :]
    dt_ms = float(np.median(np.diff(cine.times_s))) * 1000.0
    affine = np.diag([cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0], 8.0, 1.0])
    image = nib.Nifti1Image(data.astype(np.float32), affine)
    image.header.set_zooms((cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0], 8.0, dt_ms))
    image.header.set_xyzt_units("mm", "msec")
    nib.save(image, str(path))
