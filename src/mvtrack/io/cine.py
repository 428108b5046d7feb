"""The :class:`Cine` value object carried from the reader to the report.

Coordinate convention (the one used everywhere in mvtrack): points are ``(x, y)`` =
``(column, row)`` in pixels of the stored frame, origin at the centre of the top-left pixel.
``frames[t, row, col]``; ``pixel_spacing_mm = (row_spacing, col_spacing)`` as in DICOM PixelSpacing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

VIEWS = ("2CH", "4CH", "3CH")
UNKNOWN_VIEW = "unknown"

#: Names of the two MV points per view, in the order of ``points_px[:, k]``. The first point is
#: the one that the standardisation puts on the left.
POINT_NAMES = {"2CH": ("anterior", "inferior"), "4CH": ("lateral", "septal"),
               "3CH": ("anterior", "inferolateral")}


@dataclass(frozen=True)
class Cine:
    """One 2D+t long-axis cine.

    Attributes:
        frames: (T, H, W) float32 image intensities after RescaleSlope/Intercept.
        pixel_spacing_mm: (row, col) spacing in mm.
        times_s: (T,) trigger times in s, increasing; times_s[0] is the first (end-diastolic) frame.
        rr_s: RR interval in s (NominalInterval, or estimated from the trigger times).
        rr_source: where rr_s came from: the header attribute that states it ("NominalInterval",
            "RRIntervalTimeNominal", "HeartRate"), "trigger times", or how another reader found it.
        view: "2CH", "4CH", "3CH" or "unknown".
        view_source: how the view was decided (which tag or folder name), for the report.
        orientation: (6,) ImageOrientationPatient (row then column direction cosines) or None.
        position_mm: (3,) ImagePositionPatient of the top-left pixel or None.
        series_uid, series_description, manufacturer, study_uid: from the headers ("" if absent).
        source_paths: the files the frames came from.
        notes: reader remarks worth showing in the report (e.g. how frames were grouped).
        slice_thickness_mm: SliceThickness (functional groups or top level), or None.
    """

    frames: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    times_s: np.ndarray
    rr_s: float
    view: str = UNKNOWN_VIEW
    view_source: str = "not stated"
    orientation: np.ndarray | None = None
    position_mm: np.ndarray | None = None
    series_uid: str = ""
    series_description: str = ""
    manufacturer: str = ""
    study_uid: str = ""
    source_paths: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    rr_source: str = ""
    slice_thickness_mm: float | None = None

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of one frame in pixels."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def with_view(self, view: str, source: str = "forced by the user") -> "Cine":
        """A copy with the view set explicitly (the user can always force the view)."""
        view = view.upper()
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        from dataclasses import replace

        return replace(self, view=view, view_source=source)

    def summary(self) -> str:
        """One line for logs: frames, size, spacing, RR, view."""
        h, w = self.shape
        return (
            f"{self.view:7s} {self.n_frames:3d} frames {h}x{w} px, "
            f"{self.pixel_spacing_mm[0]:.3f} x {self.pixel_spacing_mm[1]:.3f} mm, "
            f"RR {self.rr_s * 1000:.0f} ms{f' (from {self.rr_source})' if self.rr_source else ''}, "
            f"{self.manufacturer or 'unknown vendor'} "
            f"(view from {self.view_source})"
        )


#: What a cardiac cine can plausibly carry; outside these a value is a broken header, not a heart.
MIN_FRAMES = 8  # fewer cannot show s', e' and a' (cines have 20-50)
MIN_FRAME_PX = 32  # rows and columns
SPACING_RANGE_MM = (0.2, 5.0)
RR_RANGE_S = (0.25, 3.0)  # 20-240 beats per minute
MAX_ABS_INTENSITY = 1e7  # stored MR values are at most 16-bit after rescale; far beyond is garbage
#: Neighbouring pixels of an image of anatomy are strongly alike (0.90-0.97 in the real cines at hand);
#: in noise or scrambled pixel data they are not (about 0).
MIN_NEIGHBOUR_CORRELATION = 0.3


def validate_cine(cine: Cine, source: object) -> Cine:
    """Check the invariants every reader must give and that the values are those of a cardiac cine;
    raise CineError naming ``source`` and the problem if not."""
    from mvtrack.errors import CineError

    if cine.frames.ndim != 3:
        raise CineError(source, f"frames must be T x H x W, got shape {cine.frames.shape}")
    if cine.n_frames < MIN_FRAMES:
        raise CineError(source, f"only {cine.n_frames} frame(s): a cine needs at least {MIN_FRAMES} to measure "
                                "the cycle's velocities")
    if min(cine.shape) < MIN_FRAME_PX:
        raise CineError(source, f"frames of {cine.shape[0]} x {cine.shape[1]} px: too small for a cine "
                                f"(at least {MIN_FRAME_PX} px a side)")
    times = np.asarray(cine.times_s, dtype=float)
    if len(times) != cine.n_frames:
        raise CineError(source, "number of trigger times differs from the number of frames")
    if not np.isfinite(times).all():
        raise CineError(source, "trigger times are not finite numbers")
    if np.any(np.diff(times) <= 0):
        raise CineError(source, "trigger times are not strictly increasing (duplicate frames?)")
    if not all(np.isfinite(s) and SPACING_RANGE_MM[0] <= s <= SPACING_RANGE_MM[1] for s in cine.pixel_spacing_mm):
        shown = " x ".join(f"{float(s):.3g}" for s in cine.pixel_spacing_mm)
        raise CineError(source, f"pixel spacing {shown} mm is outside "
                                f"{SPACING_RANGE_MM[0]:g}-{SPACING_RANGE_MM[1]:g} mm: not a cardiac cine or a broken header")
    if not (np.isfinite(cine.rr_s) and RR_RANGE_S[0] <= cine.rr_s <= RR_RANGE_S[1]):
        raise CineError(source, f"RR interval {float(cine.rr_s):.3g} s is outside {RR_RANGE_S[0]:g}-{RR_RANGE_S[1]:g} s "
                                "(the stated RR, the time step or the trigger times are wrong)")
    if not np.isfinite(cine.frames).all():
        raise CineError(source, "image contains non-finite values")
    if np.abs(cine.frames).max() > MAX_ABS_INTENSITY:
        raise CineError(source, f"intensities up to {np.abs(cine.frames).max():.3g}: a broken rescale or garbage pixel data")
    if float(np.ptp(cine.frames, axis=0).max()) <= 0:
        raise CineError(source, "the frames are constant or do not change over time: no image to track")
    correlation = neighbour_correlation(cine.frames)
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        raise CineError(source, f"the frames hold no image structure (neighbouring pixels correlate {correlation:.2f} "
                                f"< {MIN_NEIGHBOUR_CORRELATION}): noise or scrambled pixel data, not an image")
    # Broken plane geometry does not stop the tracking (it works in pixels), but nothing may be
    # computed from it: it is dropped with a note.
    if cine.orientation is not None and not _is_orientation(cine.orientation):
        cine = replace(cine, orientation=None, position_mm=None,
                       notes=(*cine.notes, "ImageOrientationPatient is not two orthogonal unit vectors: plane geometry ignored"))
    if cine.position_mm is not None and not (np.shape(cine.position_mm) == (3,) and np.isfinite(np.asarray(cine.position_mm, dtype=float)).all()):
        cine = replace(cine, position_mm=None, notes=(*cine.notes, "ImagePositionPatient is not 3 finite numbers: plane geometry ignored"))
    return cine


def neighbour_correlation(frames: np.ndarray, n_sampled: int = 4) -> float:
    """Median over ``n_sampled`` frames of the lower of the row and column lag-1 autocorrelations.

    Args:
        frames: (T, H, W) intensities.
    Returns:
        A number in [-1, 1]: near 1 for images of anatomy, near 0 for noise, 0 for a constant frame.
    """
    values = []
    for frame in frames[:: max(1, len(frames) // n_sampled)][:n_sampled]:
        centred = frame.astype(np.float64) - frame.mean()
        energy = float((centred * centred).sum())
        if energy <= 0:
            values.append(0.0)
            continue
        along_rows = float((centred[:, 1:] * centred[:, :-1]).sum()) / energy
        along_columns = float((centred[1:] * centred[:-1]).sum()) / energy
        values.append(min(along_rows, along_columns))
    return float(np.median(values))


def _is_orientation(values) -> bool:
    orientation = np.asarray(values, dtype=float)
    if orientation.shape != (6,) or not np.isfinite(orientation).all():
        return False
    return bool(np.allclose(np.linalg.norm(orientation.reshape(2, 3), axis=1), 1, atol=0.02)
                and abs(orientation[:3] @ orientation[3:]) < 0.02)


@contextmanager
def bad_values_are_cine_errors(path: object, kind: str):
    """Inside, any exception but a CineError (a header value of the wrong type or shape, an odd unit
    code, ...) becomes a CineError naming ``path``: a reader never raises anything else."""
    from mvtrack.errors import CineError

    try:
        yield
    except CineError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the bytes make a library raise
        raise CineError(path, f"unusable {kind} ({describe_exception(exc)})") from None


def describe_exception(exc: BaseException, limit: int = 160) -> str:
    """``Type: message`` on one line and at most ``limit`` characters; a type that is not a builtin
    carries its module (``zlib.error``)."""
    kind = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "exceptions"):
        kind = f"{type(exc).__module__.split('.')[0]}.{kind}"
    text = " ".join(str(exc).split())
    text = f"{kind}: {text}" if text else kind
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rr_from_times(times_s: np.ndarray) -> float:
    """RR interval estimated from trigger times covering one cycle: last time plus one median step."""
    step = float(np.median(np.diff(times_s)))
    return float(times_s[-1] - times_s[0] + step)
