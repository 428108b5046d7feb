"""Write cines as MR DICOM series (one file per frame, or one enhanced multi-frame file).

Used by the synthetic generator (demo input, reader tests). Headers carry what real scanners
store: PixelSpacing, TriggerTime, NominalInterval, orientation, position, vendor, SeriesDescription.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from mvtrack.io.cine import Cine

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"


def _stored_pixels(frames: np.ndarray, bits: int = 12) -> tuple[np.ndarray, float, float]:
    """Scale to unsigned ``bits``-bit integers as vendors store them; returns pixels, slope, intercept."""
    low, high = float(frames.min()), float(frames.max())
    top = 2**bits - 1
    slope = (high - low) / top if high > low else 1.0
    stored = np.clip(np.round((frames - low) / slope), 0, top).astype(np.uint16)
    return stored, slope, low


def _base_dataset(path: Path, sop_class: str, cine: Cine, study_uid: str, series_uid: str,
                  series_description: str, manufacturer: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.Manufacturer = manufacturer
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = series_description
    ds.ProtocolName = series_description
    ds.PatientID = "SYNTHETIC"
    ds.PatientName = "Synthetic^Subject"
    ds.SeriesNumber = 1
    ds.NominalInterval = int(round(cine.rr_s * 1000.0))  # IS: whole ms
    ds.CardiacNumberOfImages = cine.n_frames
    ds.SliceThickness = 8.0
    ds.Rows, ds.Columns = cine.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def write_dicom_series(
    cine: Cine,
    folder: Path | str,
    series_description: str = "",
    manufacturer: str = "SIEMENS",
    study_uid: str | None = None,
    rng: np.random.Generator | None = None,
    enhanced: bool = False,
) -> list[Path]:
    """Write ``cine`` into ``folder``; returns the written paths.

    With ``rng`` the file names are shuffled so that name order is not time order (as in real
    exports). With ``enhanced`` one Enhanced MR Image file holds all frames in per-frame groups.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = cine.series_uid or generate_uid()
    stored, slope, intercept = _stored_pixels(cine.frames)
    orientation = [float(v) for v in (cine.orientation if cine.orientation is not None else [1, 0, 0, 0, 1, 0])]
    position = [float(v) for v in (cine.position_mm if cine.position_mm is not None else [0, 0, 0])]
    spacing = [float(cine.pixel_spacing_mm[0]), float(cine.pixel_spacing_mm[1])]
    times_ms = [round(float(t) * 1000.0, 3) for t in cine.times_s]
    if enhanced:
        path = folder / "enhanced.dcm"
        ds = _base_dataset(path, ENHANCED_MR_STORAGE, cine, study_uid, series_uid, series_description, manufacturer)
        ds.NumberOfFrames = cine.n_frames
        shared = Dataset()
        shared.PixelMeasuresSequence = Sequence([Dataset()])
        shared.PixelMeasuresSequence[0].PixelSpacing = spacing
        shared.PlaneOrientationSequence = Sequence([Dataset()])
        shared.PlaneOrientationSequence[0].ImageOrientationPatient = orientation
        shared.PixelValueTransformationSequence = Sequence([Dataset()])
        shared.PixelValueTransformationSequence[0].RescaleSlope = f"{slope:.10g}"
        shared.PixelValueTransformationSequence[0].RescaleIntercept = f"{intercept:.10g}"
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
        per_frame = []
        order = rng.permutation(cine.n_frames) if rng is not None else np.arange(cine.n_frames)
        for index in order:
            item = Dataset()
            item.CardiacSynchronizationSequence = Sequence([Dataset()])
            item.CardiacSynchronizationSequence[0].NominalCardiacTriggerDelayTime = times_ms[index]
            item.PlanePositionSequence = Sequence([Dataset()])
            item.PlanePositionSequence[0].ImagePositionPatient = position
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
        ds.PixelData = np.ascontiguousarray(stored[order]).tobytes()
        ds.save_as(path, enforce_file_format=True)
        return [path]
    names = np.arange(cine.n_frames)
    if rng is not None:
        names = rng.permutation(cine.n_frames)
    paths = []
    for index in range(cine.n_frames):
        path = folder / f"IM{int(names[index]):06d}.dcm"
        ds = _base_dataset(path, MR_IMAGE_STORAGE, cine, study_uid, series_uid, series_description, manufacturer)
        ds.PixelSpacing = spacing
        ds.ImageOrientationPatient = orientation
        ds.ImagePositionPatient = position
        ds.TriggerTime = times_ms[index]
        ds.RescaleSlope = f"{slope:.10g}"
        ds.RescaleIntercept = f"{intercept:.10g}"
        ds.PixelData = np.ascontiguousarray(stored[index]).tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
