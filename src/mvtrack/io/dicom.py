"""Read DICOM cines with pydicom: one file per frame, enhanced MR multi-frame, legacy multi-frame.

Files are grouped by SeriesInstanceUID (and by image plane, for series holding several slices),
and frames are ordered by TriggerTime, never by file name or InstanceNumber.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from mvtrack.errors import CineError
from mvtrack.io.cine import Cine, bad_values_are_cine_errors, describe_exception, rr_from_times, validate_cine
from mvtrack.io.views import guess_view

ENHANCED_MR_SOP = "1.2.840.10008.5.1.4.1.1.4.1"
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
#: Names that are never images, whatever their suffix (what exports and data sets put beside them).
NOT_IMAGE_NAMES = frozenset({"LICENSE", "LICENCE", "README", "COPYING", "NOTICE", "AUTHORS", "DICOMDIR", "VERSION"})
#: Start of the reader note that says a series of the study was not used.
LEFT_OUT_SERIES = "series left out"


#: SOP classes of DICOM objects that hold no image: structured reports, presentation states, key
#: objects, raw data and registrations, encapsulated documents, RT objects, the DICOMDIR.
NON_IMAGE_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.88", "1.2.840.10008.5.1.4.1.1.11", "1.2.840.10008.5.1.4.1.1.66",
                         "1.2.840.10008.5.1.4.1.1.104", "1.2.840.10008.5.1.4.1.1.481", "1.2.840.10008.1.3.10")


def _is_non_image_object(ds) -> bool:
    try:
        sop_class = str(ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID") or "")
    except Exception:  # noqa: BLE001 - an undecodable UID
        return False
    return any(sop_class == prefix or sop_class.startswith(prefix + ".") for prefix in NON_IMAGE_SOP_CLASSES)


def may_be_dicom_image(path: Path) -> bool:
    """Whether a file in a study folder should hold a DICOM image: a DICOM suffix, no suffix or a
    numeric one (scanners export ``IM0001`` or UID-named files), and not a licence or read-me."""
    suffix = path.suffix.lower()
    return (suffix in DICOM_SUFFIXES or suffix == "" or suffix[1:].isdigit()) and path.name.upper() not in NOT_IMAGE_NAMES


@dataclass
class _Frame:
    """One 2D frame and the header values that place it in its series."""

    pixels: np.ndarray  # (H, W) float32, rescaled
    time_ms: float | None
    spacing: tuple[float, float] | None
    orientation: tuple[float, ...] | None
    position: tuple[float, ...] | None
    path: str


def _float_list(value) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None


def _opt_float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rescale(pixels: np.ndarray, slope, intercept) -> np.ndarray:
    slope = _opt_float(slope)
    intercept = _opt_float(intercept)
    out = pixels.astype(np.float32)
    if slope is not None and slope != 1.0:
        out *= np.float32(slope)
    if intercept:
        out += np.float32(intercept)
    return out


def _first(seq_parent, keyword):
    """First item of a sequence attribute, or None."""
    seq = getattr(seq_parent, keyword, None)
    return seq[0] if seq else None


def _enhanced_frames(ds, path: str) -> list[_Frame]:
    """Frames of an enhanced MR multi-frame object (per-frame functional groups)."""
    pixels = ds.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[None]
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None) or [None] * len(pixels)
    frames = []
    for index, groups in enumerate(per_frame):

        def lookup(seq_keyword, attr):
            for parent in (groups, shared):
                item = _first(parent, seq_keyword) if parent is not None else None
                if item is not None and attr in item:
                    return item.get(attr)
            return None

        time = lookup("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime")
        if time is None:
            time = ds.get("TriggerTime")
        frames.append(
            _Frame(
                pixels=_rescale(
                    pixels[index],
                    lookup("PixelValueTransformationSequence", "RescaleSlope"),
                    lookup("PixelValueTransformationSequence", "RescaleIntercept"),
                ),
                time_ms=_opt_float(time),
                spacing=_float_list(lookup("PixelMeasuresSequence", "PixelSpacing")),
                orientation=_float_list(lookup("PlaneOrientationSequence", "ImageOrientationPatient")),
                position=_float_list(lookup("PlanePositionSequence", "ImagePositionPatient")),
                path=path,
            )
        )
    return frames


def _legacy_multiframe(ds, path: str) -> list[_Frame]:
    """Frames of a classic multi-frame file, timed by FrameTime or FrameTimeVector (ms)."""
    pixels = _rescale(ds.pixel_array, ds.get("RescaleSlope"), ds.get("RescaleIntercept"))
    n = pixels.shape[0]
    if ds.get("FrameTimeVector"):
        times = np.cumsum([float(v) for v in ds.FrameTimeVector])[:n] - float(ds.FrameTimeVector[0])
    elif _opt_float(ds.get("FrameTime")):
        times = np.arange(n) * float(ds.FrameTime)
    else:
        times = [None] * n
    common = dict(
        spacing=_float_list(ds.get("PixelSpacing")),
        orientation=_float_list(ds.get("ImageOrientationPatient")),
        position=_float_list(ds.get("ImagePositionPatient")),
        path=path,
    )
    return [_Frame(pixels=pixels[i], time_ms=_opt_float(times[i]), **common) for i in range(n)]


def _frames_of(ds, path: str) -> list[_Frame]:
    try:
        if ds.get("SOPClassUID") == ENHANCED_MR_SOP or "PerFrameFunctionalGroupsSequence" in ds:
            return _enhanced_frames(ds, path)
        if int(ds.get("NumberOfFrames") or 1) > 1:
            return _legacy_multiframe(ds, path)
        pixels = ds.pixel_array
    except CineError:
        raise
    except Exception as exc:  # pixel decoding errors come in many types
        raise CineError(path, f"cannot decode pixel data ({describe_exception(exc)})") from None
    with bad_values_are_cine_errors(path, "header value"):  # header values of odd VRs or types
        return [
            _Frame(
                pixels=_rescale(pixels, ds.get("RescaleSlope"), ds.get("RescaleIntercept")),
                time_ms=_opt_float(ds.get("TriggerTime")),
                spacing=_float_list(ds.get("PixelSpacing")),
                orientation=_float_list(ds.get("ImageOrientationPatient")),
                position=_float_list(ds.get("ImagePositionPatient")),
                path=path,
            )
        ]


def _list_files(paths: list[Path]) -> tuple[list[Path], bool]:
    """All candidate files; the flag says whether they were named explicitly (then must be DICOM)."""
    files: list[Path] = []
    explicit = True
    for path in paths:
        if path.is_dir():
            explicit = False
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise CineError(path, "no such file or folder")
    return files, explicit


def _plane_key(frame: _Frame) -> tuple:
    """Frames of one cine share one plane; a series with several slices splits on this key."""
    if frame.position is None or frame.orientation is None or not np.isfinite([*frame.position, *frame.orientation]).all():
        return ()
    return tuple(np.round(frame.position, 1)) + tuple(np.round(frame.orientation, 3))


def read_dicom_cines(paths: list[Path] | Path, pixel_spacing_mm: float | None = None,
                     skip_unreadable: bool = False) -> list[Cine]:
    """Read every cine (one per series and plane) found in DICOM files or folders.

    Args:
        paths: folders (searched recursively) and/or DICOM files.
        pixel_spacing_mm: isotropic spacing to use where PixelSpacing is absent (legacy files);
            without it such files are refused.
        skip_unreadable: analyse what can be read when an image file of a folder cannot be (each cine
            beside it gets a note); by default such a file refuses the read, since its frames would
            be missing from a cine without a word.

    Returns:
        Cines sorted by view, series description and UID; each with frames in TriggerTime order.
        A series that cannot be a cine (another modality, one frame, no trigger times, ...) is left
        out with a note on the others, unless no series is left.

    Raises:
        CineError: naming the file or folder and the problem.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    files, explicit = _list_files(paths)
    groups: dict[tuple, list[_Frame]] = defaultdict(list)
    headers: dict[tuple, pydicom.Dataset] = {}
    unreadable: list[CineError] = []  # image files of a folder that could not be used
    for file in files:
        try:
            ds = pydicom.dcmread(file)
            if "PixelData" not in ds:
                # Reports, presentation states and DICOMDIRs come without pixels; any other file
                # without them is a damaged (e.g. cut short) image.
                if not _is_non_image_object(ds) and not explicit:
                    unreadable.append(CineError(file, "no pixel data in an image file (cut short or damaged?)"))
                continue
            found = [(str(ds.get("SeriesInstanceUID", "")), frame) for frame in _frames_of(ds, str(file))]
            keys = [(uid, _plane_key(frame)) for uid, frame in found]
        except InvalidDicomError:
            if explicit:
                raise CineError(file, "unreadable DICOM file (not DICOM)") from None
            if may_be_dicom_image(file):  # named like an image: its frames would be missing
                unreadable.append(CineError(file, "not a readable DICOM file"))
            continue  # a folder may hold other files (notes, thumbnails)
        except CineError as error:
            if explicit:
                raise
            unreadable.append(error)
            continue
        # Whatever else bytes can make pydicom raise (RecursionError, NotImplementedError, zlib.error,
        # struct.error, ...) is a file mvtrack cannot use, never a reason to stop.
        except Exception as exc:  # noqa: BLE001
            error = CineError(file, f"unreadable DICOM file ({describe_exception(exc)})")
            if explicit:
                raise error from None
            unreadable.append(error)
            continue
        for key, (_, frame) in zip(keys, found):
            groups[key].append(frame)
            headers.setdefault(key, ds)
    if unreadable and not skip_unreadable:
        first = unreadable[0]
        others = f" (and {len(unreadable) - 1} more file(s))" if len(unreadable) > 1 else ""
        raise CineError(first.path, f"{first.problem}{others}; refused rather than analysed with frames missing "
                                    "(--skip-unreadable analyses the rest)")
    if not groups:
        raise CineError(", ".join(map(str, paths)), "no DICOM images found")
    groups, notes = _merge_single_frame_series(groups, headers)
    for key, frames in groups.items():
        folders = {str(Path(f.path).parent) for f in frames}
        left_out = [f"{Path(e.path).name}: {e.problem}" for e in unreadable if str(Path(e.path).parent) in folders]
        if left_out:
            shown = "; ".join(left_out[:3]) + (f"; and {len(left_out) - 3} more" if len(left_out) > 3 else "")
            notes[key] = (*notes.get(key, ()), f"{len(left_out)} file(s) beside this series could not be read "
                          f"and were left out ({shown}): frames may be missing")
    cines, refused = [], []
    for key, frames in groups.items():
        try:
            # header values are decoded when first used, and bytes can make that raise anything
            with bad_values_are_cine_errors(frames[0].path, "header value"):
                cines.append(_assemble(frames, headers[key], pixel_spacing_mm, notes.get(key, ())))
        except CineError as error:
            refused.append((_series_label(headers[key]), error))
    if refused and not cines:
        others = f" (and {len(refused) - 1} other series refused)" if len(refused) > 1 else ""
        raise CineError(refused[0][1].path, refused[0][1].problem + others)
    left_out_notes = tuple(f"{LEFT_OUT_SERIES} ({label}): {error}" for label, error in refused)
    cines = [replace(c, notes=(*c.notes, *left_out_notes)) for c in cines]
    return sorted(cines, key=lambda c: (c.view, c.series_description, c.series_uid))


def _series_label(ds) -> str:
    """How a left-out series is named in notes: its description and the view that it reads as."""
    try:
        description = str(ds.get("SeriesDescription") or ds.get("SeriesInstanceUID") or "no description")
        view, _ = guess_view([("SeriesDescription", description), ("ProtocolName", str(ds.get("ProtocolName") or ""))])
    except Exception:  # noqa: BLE001 - an undecodable description
        return "undecodable description"
    return f"{description}, {view}"


def _merge_single_frame_series(groups: dict, headers: dict) -> tuple[dict, dict]:
    """Regroup single-frame "series" by folder, plane and image size.

    Some anonymised exports (the real MVnet sample among them) give every file its own
    SeriesInstanceUID; those frames are regrouped so that one folder plane yields one cine.
    """
    merged: dict[tuple, list[_Frame]] = {}
    notes: dict[tuple, tuple[str, ...]] = {}
    singles: dict[tuple, list[tuple]] = defaultdict(list)
    for key, frames in groups.items():
        if len(frames) == 1 and frames[0].time_ms is not None:
            frame = frames[0]
            singles[(str(Path(frame.path).parent), _plane_key(frame), frame.pixels.shape)].append(key)
        else:
            merged[key] = frames
    for keys in singles.values():
        if len(keys) == 1:
            merged[keys[0]] = groups[keys[0]]
            continue
        first = min(keys, key=lambda k: groups[k][0].time_ms)
        merged[first] = [groups[k][0] for k in keys]
        notes[first] = (
            f"{len(keys)} single-frame series (one SeriesInstanceUID per file) grouped into one cine "
            "by folder, image plane and size",
        )
    return merged, notes


def _assemble(frames: list[_Frame], ds, pixel_spacing_mm: float | None, notes: tuple[str, ...] = ()) -> Cine:
    first_path = frames[0].path
    where = first_path if len({f.path for f in frames}) == 1 else str(Path(first_path).parent)
    modality = str(ds.get("Modality") or "").strip().upper()
    if modality and modality != "MR":
        raise CineError(where, f"{modality} series ({ds.get('SeriesDescription') or 'no description'}): "
                               "mvtrack reads MR cines")
    if len(frames) < 2:
        raise CineError(first_path, "only one frame in this series: a cine needs at least 2 frames")
    if any(f.time_ms is None for f in frames):
        missing = next(f.path for f in frames if f.time_ms is None)
        raise CineError(missing, "no TriggerTime (0018,1060) or frame time: cannot order the frames in time")
    shapes = {f.pixels.shape for f in frames}
    if len(shapes) > 1:
        raise CineError(where, f"frames of different sizes in one series: {sorted(shapes)}")
    frames = sorted(frames, key=lambda f: f.time_ms)
    spacing = frames[0].spacing
    if spacing is None or len(spacing) != 2:
        if pixel_spacing_mm is None:
            fov = ds.get("FieldOfViewDimensions")
            fov_mm = _float_list(fov if isinstance(fov, (list, tuple, pydicom.multival.MultiValue)) else [fov])
            hint = ""
            if fov_mm and fov_mm[0] > 0:
                columns = frames[0].pixels.shape[1]
                hint = (f" (FieldOfViewDimensions {fov_mm[0]:g} mm over {columns} columns suggests "
                        f"{fov_mm[0] / columns:.3f} mm)")
            raise CineError(
                first_path,
                "no PixelSpacing (0028,0030): pass --pixel-spacing MM to state it" + hint,
            )
        spacing = (float(pixel_spacing_mm), float(pixel_spacing_mm))
    times_s = np.array([f.time_ms for f in frames], dtype=np.float64) / 1000.0
    if np.any(np.diff(times_s) <= 0):
        raise CineError(where, "two frames share one TriggerTime: the series holds more than one cine")
    nominal = _opt_float(ds.get("NominalInterval"))
    rr_s = nominal / 1000.0 if nominal and nominal > 0 else rr_from_times(times_s)
    if rr_s <= times_s[-1] - times_s[0]:
        rr_s = rr_from_times(times_s)
    folder_names = [p.name for p in list(Path(first_path).parents)[:3]]
    view, view_source = guess_view(
        [("SeriesDescription", str(ds.get("SeriesDescription") or "")),
         ("ProtocolName", str(ds.get("ProtocolName") or ""))]
        + [("folder name", name) for name in folder_names]
    )
    cine = Cine(
        frames=np.stack([f.pixels for f in frames]).astype(np.float32),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        times_s=times_s,
        rr_s=float(rr_s),
        view=view,
        view_source=view_source,
        orientation=None if frames[0].orientation is None else np.asarray(frames[0].orientation),
        position_mm=None if frames[0].position is None else np.asarray(frames[0].position),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        series_description=str(ds.get("SeriesDescription") or ""),
        manufacturer=str(ds.get("Manufacturer") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        source_paths=tuple(dict.fromkeys(f.path for f in frames)),
        notes=notes,
    )
    return validate_cine(cine, where)
