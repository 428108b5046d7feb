"""Vendor-shaped DICOM headers made from the built-in sample (issue 34), for the reader tests and the
fuzz benchmark (``benchmarks/fuzz_inputs.py`` seeds from it).

The sample (Siemens Aera, one SeriesInstanceUID per file) is rewritten, pixels untouched, the way
other exports store the same cine:

- ``siemens-classic``: MR Image Storage per frame, one series UID, NominalInterval, a CSA private block;
- ``philips-classic``: MR Image Storage per frame carrying a one-item Per-Frame and Shared Functional
  Groups Sequence (without pixel measures: the spacing is only at the top level) and Philips private
  stack sequences; no NominalInterval or HeartRate (the RR comes from the trigger times);
- ``philips-enhanced``: one Enhanced MR Image Storage file; spacing, orientation, position, trigger
  delay, RR and rescale only in functional groups; frames stored out of time order;
- ``ge-classic``: MR Image Storage per frame with CardiacNumberOfImages and TriggerTime, no
  NominalInterval, HeartRate only (whole beats per minute, so its RR is 60 / HeartRate);
- ``legacy-multiframe``: one classic MR Image Storage file of all frames timed by FrameTimeVector.

:func:`write_vendor` writes one and returns what it must read to (:class:`Expected`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

SAMPLE = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
VENDORS = ("siemens-classic", "philips-classic", "philips-enhanced", "ge-classic", "legacy-multiframe")
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
UID_ROOT = "1.2.826.0.1.3680043.2.1125.34."


@dataclass(frozen=True)
class Expected:
    """What a vendor-shaped copy of the sample must read to (besides the sample's frames, spacing and
    times): the RR in s and where it comes from."""

    rr_s: float
    rr_source: str


def sample_datasets(view: str = "2ch", n_frames: int | None = None) -> list[Dataset]:
    """The sample's files of one view (name order; the first ``n_frames`` of them)."""
    paths = sorted((SAMPLE / view.lower()).glob("*.dcm"))[:n_frames]
    return [pydicom.dcmread(p) for p in paths]


def _seq(**values) -> Sequence:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return Sequence([item])


def _philips_private_stack(ds: Dataset, n_phases: int, phase: int) -> None:
    """Philips private elements as Intera/Achieva exports carry them: phase counts and a stack
    sequence, and an MR private sequence in the per-frame group."""
    block = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
    block.add_new(0x08, "IS", str(phase))  # phase number
    block.add_new(0x17, "SL", n_phases)  # number of phases MR
    stack = Dataset()
    stack_block = stack.private_block(0x2001, "Philips Imaging DD 001", create=True)
    stack_block.add_new(0x2D, "SS", 1)  # stack number of slices
    stack_block.add_new(0x32, "FL", 0.0)  # stack radial angle
    stack_block.add_new(0x33, "CS", "RL")  # stack radial axis
    stack_block.add_new(0x35, "SS", 1)  # stack slice number
    stack_block.add_new(0x36, "CS", "PARALLEL")  # stack type
    block.add_new(0x5F, "SQ", Sequence([stack]))
    ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True).add_new(0x0E, "FL", 1.0)  # scale slope


def _philips_frame_group(time_ms: float, index: int) -> Dataset:
    item = Dataset()
    item.FrameContentSequence = _seq(StackID="1", InStackPositionNumber=1, TemporalPositionIndex=index + 1)
    item.CardiacSynchronizationSequence = _seq(NominalCardiacTriggerDelayTime=time_ms)
    mr = Dataset()
    mr.private_block(0x2005, "Philips MR Imaging DD 005", create=True).add_new(0x01, "CS", "N")
    item.private_block(0x2005, "Philips MR Imaging DD 001", create=True).add_new(0x0F, "SQ", Sequence([mr]))
    return item


def _save(ds: Dataset, path: Path, sop_class: str = MR_IMAGE_STORAGE) -> Path:
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_vendor(vendor: str, root: Path | str, view: str = "2ch", n_frames: int | None = None,
                 datasets: list[Dataset] | None = None) -> tuple[list[Path], Expected]:
    """Write the sample's ``view`` as ``vendor`` exports it into ``root/<vendor>/<view>``.

    Returns the paths to read (the folder) and what the cine must read to.
    """
    if vendor not in VENDORS:
        raise ValueError(f"vendor must be one of {VENDORS}")
    datasets = datasets if datasets is not None else sample_datasets(view, n_frames)
    folder = Path(root) / vendor / view.lower()
    series_uid = f"{UID_ROOT}{VENDORS.index(vendor) + 1}.{1 + ('2ch', '4ch', '3ch').index(view.lower())}"
    nominal_ms = float(datasets[0].NominalInterval)
    times_ms = sorted(float(ds.TriggerTime) for ds in datasets)
    n = len(datasets)
    from mvtrack.io.cine import rr_from_times

    if vendor == "siemens-classic":
        for index, ds in enumerate(datasets):
            ds.SeriesInstanceUID = series_uid
            ds.Manufacturer = "SIEMENS"
            ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"SV10\4\3\2\1" + bytes(56))
            _save(ds, folder / f"MR.{index + 1:04d}.IMA")
        return [folder], Expected(nominal_ms / 1000.0, "NominalInterval")

    if vendor == "philips-classic":
        for index, ds in enumerate(datasets):
            ds.SeriesInstanceUID = series_uid
            ds.Manufacturer = "Philips Medical Systems"
            ds.ManufacturerModelName = "Intera"
            del ds.NominalInterval
            phase = times_ms.index(float(ds.TriggerTime))
            _philips_private_stack(ds, n, phase + 1)
            ds.SharedFunctionalGroupsSequence = _seq(
                MRTimingAndRelatedParametersSequence=_seq(RepetitionTime=ds.RepetitionTime, EchoTrainLength=1))
            ds.PerFrameFunctionalGroupsSequence = Sequence([_philips_frame_group(float(ds.TriggerTime), phase)])
            _save(ds, folder / f"IM_{index + 1:04d}")
        return [folder], Expected(rr_from_times(np.array(times_ms) / 1000.0), "trigger times")

    if vendor == "ge-classic":
        heart_rate = round(60000.0 / nominal_ms)
        for index, ds in enumerate(datasets):
            ds.SeriesInstanceUID = series_uid
            ds.Manufacturer = "GE MEDICAL SYSTEMS"
            ds.ManufacturerModelName = "SIGNA HDxt"
            del ds.NominalInterval
            ds.HeartRate = heart_rate
            ds.CardiacNumberOfImages = n
            ds.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x9F, "SS", 1)
            ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x2C, "SS", 0)
            _save(ds, folder / f"i{100000 + index}.MRDC.{index + 1}")
        return [folder], Expected(60.0 / heart_rate, "HeartRate")

    ordered = sorted(datasets, key=lambda d: float(d.TriggerTime))
    pixels = np.stack([d.pixel_array for d in ordered]).astype(np.uint16)
    ds = ordered[0]
    ds.SeriesInstanceUID = series_uid
    ds.NumberOfFrames = n
    if vendor == "legacy-multiframe":
        ds.Manufacturer = "Philips"
        ds.FrameIncrementPointer = 0x00181065
        ds.FrameTimeVector = [f"{t:.10g}" for t in np.diff([times_ms[0], *times_ms])]
        del ds.TriggerTime
        ds.PixelData = pixels.tobytes()
        return [_save(ds, folder / "cine.dcm")], Expected(nominal_ms / 1000.0, "NominalInterval")

    # philips-enhanced: every placing value in functional groups, frames stored in reverse time order
    order = list(range(n))[::-1]
    ds.Manufacturer = "Philips Medical Systems"
    ds.ManufacturerModelName = "Achieva"
    shared = Dataset()
    shared.PixelMeasuresSequence = _seq(PixelSpacing=ds.PixelSpacing, SliceThickness=ds.SliceThickness)
    shared.PlaneOrientationSequence = _seq(ImageOrientationPatient=ds.ImageOrientationPatient)
    shared.MRTimingAndRelatedParametersSequence = _seq(RepetitionTime=ds.RepetitionTime, EchoTrainLength=1)
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for index in order:
        item = _philips_frame_group(times_ms[index], index)
        sync = item.CardiacSynchronizationSequence[0]
        sync.RRIntervalTimeNominal = nominal_ms
        item.PlanePositionSequence = _seq(ImagePositionPatient=ordered[index].ImagePositionPatient)
        item.PixelValueTransformationSequence = _seq(RescaleSlope=1, RescaleIntercept=0, RescaleType="US")
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    for keyword in ("PixelSpacing", "SliceThickness", "ImageOrientationPatient", "ImagePositionPatient", "TriggerTime",
                    "NominalInterval", "CardiacNumberOfImages", "SliceLocation"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = pixels[order].tobytes()
    return [_save(ds, folder / "IM_0001", ENHANCED_MR_STORAGE)], Expected(nominal_ms / 1000.0, "RRIntervalTimeNominal")


def crop_every_other(folder: Path, size: int = 100, shift_position: bool = True) -> None:
    """Crop every other file (in trigger-time order) of a one-file-per-frame series to ``size``
    pixels square (top-left corner kept), as a faulty export or an edited series does; the cropped
    files' ImagePositionPatient moves with the corner unless ``shift_position`` is False."""
    paths = sorted((p for p in Path(folder).iterdir() if p.is_file()),
                   key=lambda p: float(pydicom.dcmread(p, stop_before_pixels=True).TriggerTime))
    for path in paths[1::2]:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array[:size, :size].copy()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
        if shift_position:  # the corner moved 10 mm along the rows, within the plane
            orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
            position = np.asarray(ds.ImagePositionPatient, dtype=float) + 10.0 * orientation[:3]
            ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.save_as(path)
