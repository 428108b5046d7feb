"""Reading cines from DICOM, NIfTI and .npz into :class:`Cine` values. Never imports torch."""

from __future__ import annotations

from pathlib import Path

from mvtrack.errors import CineError
from mvtrack.io.cine import POINT_NAMES, UNKNOWN_VIEW, VIEWS, Cine
from mvtrack.io.dicom import read_dicom_cines
from mvtrack.io.nifti import read_nifti_cine, write_nifti_cine
from mvtrack.io.npz import read_npz_cine, write_npz_cine

__all__ = [
    "Cine", "CineError", "POINT_NAMES", "UNKNOWN_VIEW", "VIEWS", "read_cines",
    "read_dicom_cines", "read_nifti_cine", "read_npz_cine", "write_nifti_cine", "write_npz_cine",
]


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def read_cines(
    paths: Path | str | list, view: str | None = None, pixel_spacing_mm: float | None = None,
    skip_unreadable: bool = False,
) -> list[Cine]:
    """Read all cines under ``paths`` (folders, DICOM files, NIfTI files or .npz files).

    Args:
        paths: one path or a list of them.
        view: "2CH" or "4CH" to force the view of every cine read.
        pixel_spacing_mm: spacing for DICOM files that lack PixelSpacing.
        skip_unreadable: analyse the rest when a DICOM image file cannot be read (see
            :func:`read_dicom_cines`); by default such a file refuses the read.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    cines: list[Cine] = []
    dicom_paths: list[Path] = []
    for path in paths:
        if _is_nifti(path):
            cines.append(read_nifti_cine(path, view))
        elif path.suffix == ".npz":
            cines.append(read_npz_cine(path, view))
        elif path.is_dir() and not any(path.rglob("*.dcm")) and (
            nested := sorted([*path.rglob("*.nii"), *path.rglob("*.nii.gz"), *path.rglob("*.npz")])
        ):
            cines.extend(read_cines(nested, view))
        else:
            dicom_paths.append(path)
    if dicom_paths:
        cines.extend(read_dicom_cines(dicom_paths, pixel_spacing_mm, skip_unreadable))
    if view:
        cines = [c.with_view(view) for c in cines]
    return cines
