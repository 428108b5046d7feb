"""Read DICOM cines with pydicom: one file per frame, enhanced MR multi-frame, legacy multi-frame.

Files are grouped by SeriesInstanceUID (and by image plane, for series holding several slices),
and frames are ordered by TriggerTime, never by file name or InstanceNumber.

A file is classic or enhanced by its SOP class and number of frames (:func:`file_kind`); each frame's
spacing, position, orientation, trigger time, slice thickness and rescale come from its functional
groups where present and from the top-level attributes otherwise (the top level first in a classic
file). The RR is NominalInterval, RRIntervalTimeNominal or HeartRate, else the trigger times
(:func:`choose_rr`); ``Cine.rr_source`` says which. Frames of different sizes in one series or
folder plane are refused unless each size is a whole cine (:func:`mixed_size_problem`).
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

#: Enhanced (multi-frame, functional-group) MR SOP classes; every other storage SOP class is classic.
ENHANCED_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image",
}
ENHANCED_MR_SOP = "1.2.840.10008.5.1.4.1.1.4.1"
#: Root of the DICOM storage SOP classes: a file stating one that is not enhanced is classic.
STORAGE_SOP_ROOT = "1.2.840.10008.5.1.4.1.1."
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
    thickness_mm: float | None = None
    rr: tuple[float, str] | None = None  # the RR (s) its header states, and the attribute
    cardiac_images: int | None = None  # CardiacNumberOfImages: frames of the whole cycle


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


def file_kind(sop_class: str, n_frames: int, n_per_frame_items: int) -> str:
    """``"enhanced"`` or ``"classic"``: what a file is, from its SOP class and its number of frames.

    An enhanced SOP class is enhanced; any other storage SOP class is classic, whatever else the file
    carries (Philips exports classic MR Image Storage files with a one-item Per-Frame Functional
    Groups Sequence). Without a usable SOP class, per-frame groups describing every frame of a
    multi-frame file make it enhanced.
    """
    sop_class = sop_class.strip()
    if sop_class in ENHANCED_SOP_CLASSES:
        return "enhanced"
    if sop_class.startswith(STORAGE_SOP_ROOT):
        return "classic"
    return "enhanced" if n_frames > 1 and n_per_frame_items == n_frames else "classic"


def _sop_class(ds) -> str:
    try:
        return str(ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID") or "")
    except Exception:  # noqa: BLE001 - an undecodable UID
        return ""


class _HeaderOf:
    """The header values of one frame: from its functional groups (per-frame, then shared) or from
    the top level of the file; the groups first in an enhanced file, the top level first in a
    classic one."""

    def __init__(self, ds, per_frame_item, shared_item, enhanced: bool):
        self.ds = ds
        self.groups = [item for item in (per_frame_item, shared_item) if item is not None]
        self.enhanced = enhanced

    def in_groups(self, seq_keyword: str, attr: str):
        for parent in self.groups:
            item = _first(parent, seq_keyword)
            if item is not None and item.get(attr) not in (None, ""):
                return item.get(attr)
        return None

    def value(self, seq_keyword: str, attr: str, top_keyword: str | None = None):
        top = self.ds.get(top_keyword or attr)
        top = None if top == "" else top
        grouped = self.in_groups(seq_keyword, attr)
        first, second = (grouped, top) if self.enhanced else (top, grouped)
        return first if first is not None else second


def _frame_times_ms(ds, n: int) -> list[float | None]:
    """Times of the frames of a multi-frame file from FrameTimeVector or FrameTime (ms, from 0)."""
    if ds.get("FrameTimeVector"):
        vector = [float(v) for v in ds.FrameTimeVector]
        if len(vector) != n:
            raise ValueError(f"FrameTimeVector holds {len(vector)} times for {n} frames")
        return [float(t) for t in (np.cumsum(vector) - vector[0])]
    if _opt_float(ds.get("FrameTime")):
        return [float(i * float(ds.FrameTime)) for i in range(n)]
    return [None] * n


def stated_rr(nominal_interval_ms, rr_interval_nominal_ms, heart_rate_bpm) -> tuple[float, str] | None:
    """The RR a header states, in s, and the attribute it came from: NominalInterval (0018,1062),
    else RRIntervalTimeNominal (0020,9251, enhanced files), else 60 / HeartRate (0018,1088); None
    when none holds a positive number."""
    for value, source, to_s in ((nominal_interval_ms, "NominalInterval", lambda v: v / 1000.0),
                                (rr_interval_nominal_ms, "RRIntervalTimeNominal", lambda v: v / 1000.0),
                                (heart_rate_bpm, "HeartRate", lambda v: 60.0 / v)):
        number = _opt_float(value)
        if number is not None and number > 0:
            return to_s(number), source
    return None


def choose_rr(times_s: np.ndarray, stated: tuple[float, str] | None,
              cardiac_images: int | None) -> tuple[float, str, tuple[str, ...]]:
    """(RR in s, where it came from, notes) for a cine with these trigger times.

    A stated RR is used unless it is no longer than the frames' span (then it cannot be this cine's
    cycle); otherwise the RR comes from the trigger times (last time plus one step), which is the
    cycle when the cine covers it. A note says when the header's CardiacNumberOfImages says the
    frames are not the whole cycle.
    """
    span = float(times_s[-1] - times_s[0])
    if stated is not None and stated[0] > span:
        return float(stated[0]), stated[1], ()
    notes = []
    if stated is not None:
        notes.append(f"{stated[1]} ({stated[0] * 1000:.0f} ms) is not longer than the frames' span "
                     f"({span * 1000:.0f} ms): RR from the trigger times")
    elif cardiac_images and cardiac_images > len(times_s):
        notes.append(f"no NominalInterval or HeartRate, and {len(times_s)} frames of the cycle's {cardiac_images} "
                     "(CardiacNumberOfImages): the RR from the trigger times may be short")
    return rr_from_times(times_s), "trigger times", tuple(notes)


def _frames_of(ds, path: str) -> list[_Frame]:
    """Every frame of one file with the header values that place it (see :class:`_HeaderOf`)."""
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pixel decoding errors come in many types
        raise CineError(path, f"cannot decode pixel data ({describe_exception(exc)})") from None
    with bad_values_are_cine_errors(path, "header value"):  # header values of odd VRs or types
        declared = int(ds.get("NumberOfFrames") or 1)
        stack = pixels if declared > 1 and pixels.ndim >= 3 else pixels[None]
        n = len(stack)
        per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
        kind = file_kind(_sop_class(ds), n, len(per_frame))
        if kind == "enhanced" and per_frame and len(per_frame) != n:
            raise CineError(path, f"{len(per_frame)} per-frame functional groups for {n} frames")
        shared = _first(ds, "SharedFunctionalGroupsSequence")
        frame_times = _frame_times_ms(ds, n) if n > 1 else [None]
        cardiac_images = _opt_float(ds.get("CardiacNumberOfImages"))
        frames = []
        for index in range(n):
            item = per_frame[index] if len(per_frame) == n else None
            header = _HeaderOf(ds, item, shared, kind == "enhanced")
            grouped_time = header.in_groups("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime")
            top_time = ds.get("TriggerTime")
            if n > 1:  # one top-level TriggerTime cannot time several frames: the frame times come first
                candidates = (grouped_time, frame_times[index], top_time)
            else:
                candidates = (grouped_time, top_time) if kind == "enhanced" else (top_time, grouped_time)
            time = next((t for t in candidates if _opt_float(t) is not None), None)
            frames.append(
                _Frame(
                    pixels=_rescale(
                        stack[index],
                        header.value("PixelValueTransformationSequence", "RescaleSlope"),
                        header.value("PixelValueTransformationSequence", "RescaleIntercept"),
                    ),
                    time_ms=_opt_float(time),
                    spacing=_float_list(header.value("PixelMeasuresSequence", "PixelSpacing")),
                    orientation=_float_list(header.value("PlaneOrientationSequence", "ImageOrientationPatient")),
                    position=_float_list(header.value("PlanePositionSequence", "ImagePositionPatient")),
                    path=path,
                    thickness_mm=_opt_float(header.value("PixelMeasuresSequence", "SliceThickness")),
                    rr=stated_rr(ds.get("NominalInterval"),
                                 header.in_groups("CardiacSynchronizationSequence", "RRIntervalTimeNominal"),
                                 header.value("CardiacSynchronizationSequence", "HeartRate")),
                    cardiac_images=int(cardiac_images) if cardiac_images and 0 < cardiac_images < 1e6 else None,
                )
            )
        return frames


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
            keys = [(uid, _plane_key(frame), frame.pixels.shape) for uid, frame in found]
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
    groups, notes, units = _merge_single_frame_series(groups, headers)
    refused = _refuse_mixed_sizes(groups, headers, units)
    for key, frames in groups.items():
        folders = {str(Path(f.path).parent) for f in frames}
        left_out = [f"{Path(e.path).name}: {e.problem}" for e in unreadable if str(Path(e.path).parent) in folders]
        if left_out:
            shown = "; ".join(left_out[:3]) + (f"; and {len(left_out) - 3} more" if len(left_out) > 3 else "")
            notes[key] = (*notes.get(key, ()), f"{len(left_out)} file(s) beside this series could not be read "
                          f"and were left out ({shown}): frames may be missing")
    cines = []
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


def _merge_single_frame_series(groups: dict, headers: dict) -> tuple[dict, dict, dict]:
    """Regroup single-frame "series" by folder, plane and image size.

    Some anonymised exports (the real MVnet sample among them) give every file its own
    SeriesInstanceUID; those frames are regrouped so that one folder plane yields one cine.

    Returns the groups, their reader notes, and the unit each group belongs to (its series, or the
    folder of single-frame series): the frames among which sizes must agree (:func:`mixed_size_problem`).
    """
    merged: dict[tuple, list[_Frame]] = {}
    notes: dict[tuple, tuple[str, ...]] = {}
    units: dict[tuple, tuple] = {}
    singles: dict[tuple, list[tuple]] = defaultdict(list)
    for key, frames in groups.items():
        if len(frames) == 1 and frames[0].time_ms is not None:
            frame = frames[0]
            singles[(str(Path(frame.path).parent), _plane_key(frame), frame.pixels.shape)].append(key)
        else:
            merged[key] = frames
            units[key] = ("series", key[0])
    for (folder, *_), keys in singles.items():
        if len(keys) == 1:
            # A lone frame belongs with the rest of its series, or, alone in it, with the folder's
            # other single-frame series.
            merged[keys[0]] = groups[keys[0]]
            in_series = any(k[0] == keys[0][0] for k in groups if k != keys[0])
            units[keys[0]] = ("series", keys[0][0]) if in_series else ("folder", folder)
            continue
        first = min(keys, key=lambda k: groups[k][0].time_ms)
        merged[first] = [groups[k][0] for k in keys]
        units[first] = ("folder", folder)
        notes[first] = (
            f"{len(keys)} single-frame series (one SeriesInstanceUID per file) grouped into one cine "
            "by folder, image plane and size",
        )
    return merged, notes, units


def is_whole_cine(times_s: np.ndarray, rr_s: float | None, cardiac_images: int | None) -> bool:
    """Whether frames at these times can be a cine of the whole cycle on their own: distinct times,
    as many frames as CardiacNumberOfImages where it is stated, and (with a stated RR) a span
    reaching the cycle's end within a few steps."""
    times_s = np.sort(np.asarray(times_s, dtype=float))
    if len(times_s) < 2 or not np.isfinite(times_s).all() or np.any(np.diff(times_s) <= 0):
        return False
    if cardiac_images and len(times_s) != cardiac_images:
        return False
    step = float(np.median(np.diff(times_s)))
    return rr_s is None or not np.isfinite(rr_s) or times_s[-1] - times_s[0] + 2.5 * step >= rr_s


def interleave_as_one_cine(times_a: np.ndarray, times_b: np.ndarray) -> bool:
    """Whether two sets of trigger times are parts of one finer cine: together they are distinct
    and evenly stepped (within 50 %), with a step shorter than either part's."""
    union = np.sort(np.concatenate([np.asarray(times_a, float), np.asarray(times_b, float)]))
    if len(union) < 3 or not np.isfinite(union).all():
        return False
    steps = np.diff(union)
    if steps.min() <= 0:
        return False
    own = [float(np.median(np.diff(np.sort(t)))) for t in (times_a, times_b) if len(t) > 1]
    return bool(steps.max() <= 1.5 * steps.min() and all(np.median(steps) < 0.75 * s for s in own))


def same_plane(orientation_a, position_a, orientation_b, position_b, tolerance_mm: float = 1.0) -> bool:
    """Whether two frames lie in one plane (the same orientation, at most ``tolerance_mm`` apart
    along its normal); frames whose geometry is unknown may be in any plane."""
    try:
        oa, ob = np.asarray(orientation_a, float), np.asarray(orientation_b, float)
        pa, pb = np.asarray(position_a, float), np.asarray(position_b, float)
    except (TypeError, ValueError):
        return True
    if oa.shape != (6,) or ob.shape != (6,) or pa.shape != (3,) or pb.shape != (3,) \
            or not np.isfinite([*oa, *ob, *pa, *pb]).all():
        return True
    normal = np.cross(oa[:3], oa[3:])
    if np.linalg.norm(normal) == 0:
        return True
    normal = normal / np.linalg.norm(normal)
    return bool(np.allclose(oa, ob, atol=1e-3) and abs(float(normal @ (pa - pb))) <= tolerance_mm)


@dataclass
class SizedPart:
    """Frames of one size and plane in a series: what :func:`mixed_size_problem` weighs."""

    shape: tuple[int, ...]
    times_s: np.ndarray
    orientation: tuple[float, ...] | None = None
    position: tuple[float, ...] | None = None
    rr_s: float | None = None  # the RR the header states
    cardiac_images: int | None = None


def mixed_size_problem(parts: list[SizedPart], unit: str = "series") -> tuple[str, list[int]] | None:
    """Why frames of different sizes in one ``unit`` cannot be read as cines, and which parts.

    Parts of different sizes in one plane are refused unless each is a whole cine of the cycle and
    they are not two halves of one finer cine (a cine of every other frame would give a wrong
    MAPSE). Parts in other planes are other cines, whatever their size. Returns None when nothing
    is wrong, else (one line naming the sizes and counts, the indices of the parts refused).
    """
    if len({p.shape for p in parts}) < 2:
        return None
    involved: set[int] = set()
    for i, a in enumerate(parts):
        for j in range(i + 1, len(parts)):
            b = parts[j]
            if a.shape == b.shape or not same_plane(a.orientation, a.position, b.orientation, b.position):
                continue
            whole = all(is_whole_cine(p.times_s, p.rr_s, p.cardiac_images) for p in (a, b))
            if not whole or interleave_as_one_cine(a.times_s, b.times_s):
                involved.update((i, j))
    if not involved:
        return None
    counts: dict[tuple, int] = defaultdict(int)
    for index in involved:
        counts[parts[index].shape] += len(parts[index].times_s)
    sizes = ", ".join(f"{n} of {' x '.join(map(str, shape[:2]))} px"
                      for shape, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    stated = {p.cardiac_images for p in parts if p.cardiac_images}
    cycle = f" (CardiacNumberOfImages {min(stated)})" if len(stated) == 1 else ""
    problem = (f"frames of different sizes in one {unit}: {sizes}; the sizes do not split it into whole cines of "
               f"the cycle{cycle}: refused rather than analysed from some of its frames (export it again uncropped)")
    return problem, sorted(involved)


def _refuse_mixed_sizes(groups: dict, headers: dict, units: dict) -> list[tuple[str, CineError]]:
    """Take out of ``groups`` the groups that :func:`mixed_size_problem` refuses; one refusal
    (series label, error) per series or folder."""
    by_unit: dict[tuple, list[tuple]] = defaultdict(list)
    for key in groups:
        by_unit[units.get(key, ("series", key[0]))].append(key)
    refused = []
    for (kind, _), keys in by_unit.items():
        if len({groups[k][0].pixels.shape for k in keys}) < 2:
            continue
        parts = []
        for key in keys:
            frames = groups[key]
            parts.append(SizedPart(
                shape=frames[0].pixels.shape,
                times_s=np.array([np.nan if f.time_ms is None else f.time_ms / 1000.0 for f in frames]),
                orientation=frames[0].orientation, position=frames[0].position,
                rr_s=frames[0].rr[0] if frames[0].rr else None, cardiac_images=frames[0].cardiac_images))
        found = mixed_size_problem(parts, "series" if kind == "series" else "folder and plane")
        if found is None:
            continue
        problem, indices = found
        taken = [keys[i] for i in indices]
        folders = sorted({str(Path(f.path).parent) for k in taken for f in groups[k]})
        refused.append((_series_label(headers[taken[0]]), CineError(folders[0], problem)))
        for key in taken:
            del groups[key]
    return refused


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
                "no PixelSpacing (0028,0030) or PixelMeasuresSequence: state it with --pixel-spacing MM "
                "(mvtrack info / analyze)" + hint,
            )
        spacing = (float(pixel_spacing_mm), float(pixel_spacing_mm))
    times_s = np.array([f.time_ms for f in frames], dtype=np.float64) / 1000.0
    if np.any(np.diff(times_s) <= 0):
        raise CineError(where, "two frames share one TriggerTime: the series holds more than one cine")
    rr_s, rr_source, rr_notes = choose_rr(times_s, frames[0].rr, frames[0].cardiac_images)
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
        notes=(*notes, *rr_notes),
        rr_source=rr_source,
        slice_thickness_mm=frames[0].thickness_mm,
    )
    return validate_cine(cine, where)
