"""A named corpus of bad inputs, each made here from the built-in sample, with the message a user gets.

Every case must end in a :class:`CineError` whose one line names the file or folder and the problem
("refused"), or in a cine that says what was wrong in a note ("noted"). Issue 14.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from conftest import REAL_SAMPLE, make_cine
from pydicom.uid import DeflatedExplicitVRLittleEndian

from mvtrack.errors import CineError
from mvtrack.io import read_cines, write_npz_cine

N_FILES = 12  # the first 12 frames of the sample 2CH: enough for a cine, quick to rewrite


def _series(tmp_path: Path) -> Path:
    """The first frames of the sample 2CH as one series (the sample gives each file its own UID)."""
    folder = tmp_path / "2ch"
    folder.mkdir()
    for source in sorted((REAL_SAMPLE / "2ch").glob("*.dcm"))[:N_FILES]:
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1125.14"
        ds.save_as(folder / source.name)
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def _edit(folder: Path, change, which=slice(None)) -> Path:
    """Apply ``change(ds, index)`` to the files ``which`` of the series and save them."""
    for index, path in list(enumerate(_files(folder)))[which]:
        ds = pydicom.dcmread(path)
        change(ds, index)
        ds.save_as(path)
    return folder


def _set(keyword, value):
    def change(ds, _):
        setattr(ds, keyword, value)
    return change


def _delete(keyword):
    def change(ds, _):
        delattr(ds, keyword)
    return change


def _pixels(make):
    """Replace the stored pixels with ``make(shape, index)`` (uint16)."""
    def change(ds, index):
        ds.PixelData = make((ds.Rows, ds.Columns), index).astype(np.uint16).tobytes()
    return change


def _replace_bytes(data: bytes):
    def build(tmp_path):
        folder = _series(tmp_path)
        _files(folder)[4].write_bytes(data)
        return [folder]
    return build


def _dicom(change, which=slice(None)):
    return lambda tmp_path: [_edit(_series(tmp_path), change, which)]


def _keep_files(n):
    def build(tmp_path):
        folder = _series(tmp_path)
        for path in _files(folder)[n:]:
            path.unlink()
        return [folder]
    return build


def _raw_bytes_edit(old: bytes, new: bytes):
    """Patch the raw bytes of one file (for what pydicom would refuse to write)."""
    def build(tmp_path):
        folder = _series(tmp_path)
        path = _files(folder)[2]
        data = path.read_bytes()
        assert old in data
        path.write_bytes(data.replace(old, new, 1))
        return [folder]
    return build


def _deflated_label(tmp_path):
    """A file whose meta header says deflated while the data set after it is stored raw."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    folder = _series(tmp_path)
    path = _files(folder)[3]
    data = path.read_bytes()
    meta_end = 132 + 12 + int.from_bytes(data[140:144], "little")  # after the group-length element
    meta = pydicom.dcmread(path).file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_file_meta_info(buffer, meta)
    path.write_bytes(data[:132] + buffer.getvalue() + data[meta_end:])
    return [folder]


def _add(tag, vr, value, which=slice(None)):
    """Store an element with a VR of our choosing (odd VRs are what broken writers produce)."""
    return _dicom(lambda ds, _: ds.add_new(tag, vr, value), which)


def _different_size(tmp_path):
    folder = _series(tmp_path)

    def crop(ds, _):
        pixels = ds.pixel_array[:100, :100].copy()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
    _edit(folder, crop, slice(0, 1))
    return [folder]


def _lying_rows(tmp_path):
    return [_edit(_series(tmp_path), _set("Rows", 4000), slice(0, 1))]


def _nifti(data, zooms=(1.4, 1.4, 8.0, 40.0), units=("mm", "msec"), name="cine_2ch.nii.gz"):
    def build(tmp_path):
        affine = np.diag([*zooms[:2], 8.0, 1.0])  # nibabel writes the spatial zooms from the affine
        image = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)
        image.header.set_zooms(zooms[: image.ndim])
        image.header.set_xyzt_units(*units)
        path = tmp_path / name
        nib.save(image, str(path))
        return [path]
    return build


def _smooth(shape, seed=0):
    """Smooth random (X, Y, 1, T) data that passes the reader's image checks."""
    return np.random.default_rng(seed).random(shape).cumsum(0).cumsum(1)


def _truncated_nifti(tmp_path):
    (path,) = _nifti(_smooth((40, 36, 1, 10)))(tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    return [path]


def _npz(**members):
    def build(tmp_path):
        path = tmp_path / "cine_2ch.npz"
        np.savez(path, **members)
        return [path]
    return build


def _npz_with(**change):
    cine = make_cine(n_frames=10, shape=(40, 52))
    members = dict(frames=cine.frames, pixel_spacing_mm=np.asarray(cine.pixel_spacing_mm), times_s=cine.times_s,
                   rr_s=np.asarray(cine.rr_s), view=np.asarray("2CH"))
    members.update(change)
    return _npz(**{k: v for k, v in members.items() if v is not None})


def _not_a_zip(tmp_path):
    path = tmp_path / "cine_2ch.npz"
    path.write_bytes(b"not a zip file at all")
    return [path]


def _text_only(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "notes.txt").write_text("no images here")
    return [tmp_path / "study"]


def _given_text_file(tmp_path):
    path = tmp_path / "frame.dcm"
    path.write_text("this is not DICOM")
    return [path]


def _ct_in_a_2ch_folder(tmp_path):
    return [_edit(_series(tmp_path), _set("Modality", "CT"))]


def _ct_beside_a_good_series(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    _series(study)
    shutil.copytree(study / "2ch", study / "scout")

    def ct_scout(ds, _):
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "CT", "1.2.3.4.5", "scout"
    _edit(study / "scout", ct_scout)
    return [study]


RNG = np.random.default_rng(14)

#: (name, builder(tmp_path) -> paths, outcome, words): "refused" (a CineError holding the words), "noted"
#: (read, with a note holding them) or "read" (a harmless oddity: read; the words say why).
CASES = [
    # files that cannot be read inside a series: the series is refused, naming the file
    ("random bytes as one file", _replace_bytes(RNG.bytes(5000)), "refused", "not a readable DICOM file"),
    ("random bytes after a DICM preamble", _replace_bytes(b"\0" * 128 + b"DICM" + RNG.bytes(5000)), "refused", "skip-unreadable"),
    ("an empty file", _replace_bytes(b""), "refused", "not a readable DICOM file"),
    ("a file cut short", lambda p: _replace_bytes((REAL_SAMPLE / "2ch" / "IM000004.dcm").read_bytes()[:3000])(p),
     "refused", "skip-unreadable"),
    ("no pixel data, no SOP class", _dicom(lambda ds, _: (delattr(ds, "PixelData"), delattr(ds, "SOPClassUID")), slice(0, 1)),
     "refused", "no pixel data"),
    ("Rows larger than the pixel data", _lying_rows, "refused", "skip-unreadable"),
    ("deflated transfer syntax over raw data", _deflated_label, "refused", "skip-unreadable"),
    ("an unknown VR", _raw_bytes_edit(b"\x28\x00\x30\x00DS", b"\x28\x00\x30\x00ZZ"), "refused", r"PixelSpacing|skip-unreadable|pixel spacing"),
    # series that are not cines mvtrack can measure
    ("a CT series in a 2ch folder", _ct_in_a_2ch_folder, "refused", "CT series .*mvtrack reads MR cines"),
    ("all pixels zero", _dicom(_pixels(lambda shape, i: np.zeros(shape))), "refused", "constant"),
    ("the same frame repeated", _dicom(_pixels(lambda shape, i: np.arange(np.prod(shape)).reshape(shape) % 700)),
     "refused", "do not change over time"),
    ("pure noise", _dicom(_pixels(lambda shape, i: np.random.default_rng(i).integers(0, 1000, shape))),
     "refused", "no image structure"),
    ("pixels shuffled", _dicom(lambda ds, i: setattr(ds, "PixelData", np.random.default_rng(i).permutation(
        ds.pixel_array.ravel()).astype(np.uint16).tobytes())), "refused", "no image structure"),
    ("only 5 frames", _keep_files(5), "refused", "at least 8"),
    ("only one frame", _keep_files(1), "refused", "only one frame"),
    ("frames of different sizes", _different_size, "refused", "different sizes"),
    # timing
    ("no TriggerTime in one file", _dicom(_delete("TriggerTime"), slice(3, 4)), "refused", "no TriggerTime"),
    ("one TriggerTime for all frames", _dicom(_set("TriggerTime", 100.0)), "refused", "share one TriggerTime"),
    ("TriggerTime NaN", _dicom(_set("TriggerTime", "NaN"), slice(2, 3)), "refused", "TriggerTime|not finite|increasing"),
    ("TriggerTime inf", _dicom(_set("TriggerTime", "inf"), slice(2, 3)), "refused", "TriggerTime|not finite|RR"),
    ("TriggerTime not a number", _add(0x00181060, "LO", "soon", slice(2, 3)), "refused", "TriggerTime"),
    ("NominalInterval of 100 s", _dicom(_set("NominalInterval", 100000)), "refused", "RR interval"),
    ("NominalInterval inf", _add(0x00181062, "DS", "inf"), "refused", "RR interval"),
    ("NominalInterval as text", _add(0x00181062, "LO", "one beat"), "read", "RR from the trigger times"),
    # pixel geometry and values
    ("no PixelSpacing", _dicom(_delete("PixelSpacing")), "refused", "no PixelSpacing"),
    ("PixelSpacing of one value", _dicom(_set("PixelSpacing", [1.4])), "refused", "no PixelSpacing"),
    ("PixelSpacing zero", _dicom(_set("PixelSpacing", [0, 0])), "refused", "pixel spacing"),
    ("PixelSpacing 1e300", _dicom(_set("PixelSpacing", ["1e300", "1"])), "refused", "pixel spacing"),
    ("PixelSpacing negative", _dicom(_set("PixelSpacing", [-1.4, -1.4])), "refused", "pixel spacing"),
    ("PixelSpacing of 20 mm", _dicom(_set("PixelSpacing", [20, 20])), "refused", "pixel spacing"),
    ("RescaleSlope 1e30", _dicom(_set("RescaleSlope", "1e30")), "refused", "intensities up to"),
    ("RescaleSlope NaN", _dicom(_set("RescaleSlope", "NaN")), "refused", "non-finite"),
    # plane geometry: tracking still works in pixels, the geometry is dropped with a note
    ("orientation vectors not unit", _dicom(_set("ImageOrientationPatient", [1, 0, 0, 1, 0, 0])), "noted",
     "ImageOrientationPatient is not two orthogonal unit vectors"),
    ("position not finite", _dicom(_set("ImagePositionPatient", ["NaN", 0, 0])), "noted", "ImagePositionPatient"),
    ("a CT scout beside the MR series", _ct_beside_a_good_series, "noted", "series left out .*CT series"),
    # what is asked for is not there
    ("a folder with no images", _text_only, "refused", "no DICOM images found"),
    ("a named file that is not DICOM", _given_text_file, "refused", "not DICOM"),
    ("a path that does not exist", lambda p: [p / "nowhere"], "refused", "no such file or folder"),
    # NIfTI
    ("NIfTI of one 2D image", _nifti(_smooth((40, 36)), zooms=(1.4, 1.4)), "refused", "expected a 2D\\+t image"),
    ("NIfTI with no time step", _nifti(_smooth((40, 36, 1, 10)), zooms=(1.4, 1.4, 8.0, 0.0)), "refused", "no time step"),
    ("NIfTI timed in microseconds", _nifti(_smooth((40, 36, 1, 10)), units=("mm", "usec")), "refused", "RR interval"),
    ("NIfTI of NaNs", _nifti(np.full((40, 36, 1, 10), np.nan)), "refused", "non-finite"),
    ("NIfTI of 5 frames", _nifti(_smooth((40, 36, 1, 5))), "refused", "at least 8"),
    ("NIfTI of 0.01 mm pixels", _nifti(_smooth((40, 36, 1, 10)), zooms=(0.01, 0.01, 8.0, 40.0)), "refused", "pixel spacing"),
    ("NIfTI cut short", _truncated_nifti, "refused", "unreadable NIfTI"),
    ("NIfTI of 20 x 20 px", _nifti(_smooth((20, 20, 1, 10))), "refused", "too small"),
    # .npz
    ("npz without times", _npz_with(times_s=None), "refused", "missing array 'times_s'"),
    ("npz with 4D frames", _npz_with(frames=np.zeros((10, 40, 52, 2))), "refused", "T x H x W"),
    ("npz with times going back", _npz_with(times_s=np.arange(10)[::-1] * 0.04), "refused", "strictly increasing"),
    ("npz with three spacings", _npz_with(pixel_spacing_mm=np.array([1.0, 1.0, 1.0])), "refused", "two numbers"),
    ("npz with text frames", _npz_with(frames=np.array(["a", "b"])), "refused", "npz member"),
    ("npz with an RR of 12 s", _npz_with(rr_s=np.asarray(12.0)), "refused", "RR interval"),
    ("npz that is not a zip", _not_a_zip, "refused", "unreadable .npz"),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40 and len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize("build,outcome,words", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_bad_input_gets_one_clear_line(tmp_path, build, outcome, words):
    import re

    paths = build(tmp_path)
    if outcome == "refused":
        with pytest.raises(CineError) as refused:
            read_cines(paths)
        message = str(refused.value)
        assert "\n" not in message and str(tmp_path) in message, message
        assert re.search(words, message), message
    else:
        cines = read_cines(paths)
        assert cines and all(c.n_frames == N_FILES for c in cines), "the input must still give its cine"
        if outcome == "noted":
            assert any(re.search(words, note) for cine in cines for note in cine.notes), [c.notes for c in cines]


def test_a_written_npz_cine_reads_back(tmp_path):
    """The corpus's npz builder starts from a good cine: without the change it reads."""
    cine = make_cine(n_frames=10, shape=(40, 52))
    write_npz_cine(cine, tmp_path / "cine_2ch.npz")
    assert read_cines([tmp_path / "cine_2ch.npz"])[0].n_frames == 10
