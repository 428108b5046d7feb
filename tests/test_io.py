from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest

from mvtrack.errors import CineError
from mvtrack.io import read_cines, read_nifti_cine, read_npz_cine, write_nifti_cine, write_npz_cine
from mvtrack.io.dicom_write import write_dicom_series
from mvtrack.io.views import view_from_text

from conftest import LEGACY_MULTIFRAME, REAL_SAMPLE, make_cine


def test_real_sample_reads_as_two_30_frame_cines_in_trigger_order():
    cines = read_cines(REAL_SAMPLE)
    assert [c.view for c in cines] == ["2CH", "4CH"]
    for cine in cines:
        assert cine.n_frames == 30
        assert np.all(np.diff(cine.times_s) > 0)
        assert cine.pixel_spacing_mm == pytest.approx((1.827, 1.827), abs=1e-3)
        assert cine.view_source.startswith("folder name")  # SeriesDescription is empty in the sample
        assert cine.manufacturer == "SIEMENS"
        assert 1.3 < cine.rr_s < 1.4  # NominalInterval 1372 / 1356 ms
    assert cines[0].shape == (208, 168) and cines[1].shape == (168, 208)


def test_real_sample_frames_match_files_sorted_by_trigger_time():
    cine = read_cines(REAL_SAMPLE / "2ch")[0]
    datasets = [pydicom.dcmread(p) for p in sorted((REAL_SAMPLE / "2ch").glob("*.dcm"))]
    datasets.sort(key=lambda d: float(d.TriggerTime))
    for index in (0, 7, 29):
        np.testing.assert_array_equal(cine.frames[index], datasets[index].pixel_array.astype(np.float32))


@pytest.mark.parametrize("enhanced", [False, True])
def test_dicom_roundtrip_orders_by_trigger_time_and_applies_rescale(tmp_path, enhanced):
    cine = make_cine(n_frames=9, spacing=(1.4, 1.9))
    write_dicom_series(cine, tmp_path / "s", "cine_4ch", "Philips Medical Systems",
                       rng=np.random.default_rng(3), enhanced=enhanced)
    (back,) = read_cines(tmp_path)
    assert back.n_frames == 9
    assert back.pixel_spacing_mm == pytest.approx((1.4, 1.9))
    np.testing.assert_allclose(back.times_s, cine.times_s, atol=1e-6)
    # frames come back in time order with intensities restored by RescaleSlope/Intercept (12-bit)
    np.testing.assert_allclose(back.frames, cine.frames, atol=500 / 4095)
    assert back.view == "4CH" and "SeriesDescription" in back.view_source
    assert back.manufacturer == "Philips Medical Systems"


def test_study_folder_yields_one_cine_per_series(tmp_path):
    write_dicom_series(make_cine(seed=1), tmp_path / "study" / "a", "CINE_2CH", rng=np.random.default_rng(0))
    write_dicom_series(make_cine(seed=2), tmp_path / "study" / "b", "CINE_4CH", rng=np.random.default_rng(0))
    cines = read_cines(tmp_path / "study")
    assert sorted(c.view for c in cines) == ["2CH", "4CH"]


def test_rr_from_trigger_times_when_nominal_interval_missing(tmp_path):
    paths = write_dicom_series(make_cine(n_frames=9), tmp_path)
    for path in paths:
        ds = pydicom.dcmread(path)
        del ds.NominalInterval
        ds.save_as(path)
    (cine,) = read_cines(tmp_path)
    assert cine.rr_s == pytest.approx(9 * 0.04)


@pytest.mark.parametrize(
    "text,view",
    [("cine_2ch", "2CH"), ("CINE 2 CH", "2CH"), ("2CV_retro", "2CH"), ("sBTFE VLA", "2CH"), ("LAX 2",
     "2CH"), ("cine 4ch", "4CH"), ("4CV", "4CH"), ("B-TFE_HLA", "4CH"), ("FIESTA four chamber", "4CH"),
     ("tf2d 3ch", "unknown"), ("LVOT", "unknown"), ("SAX stack", "unknown"), ("", "unknown"), ("ch24", "unknown")],
)
def test_view_keywords(text, view):
    assert view_from_text(text) == view


def test_view_can_be_forced(tmp_path):
    write_dicom_series(make_cine(), tmp_path / "x", "cine_2ch")
    (cine,) = read_cines(tmp_path, view="4ch")
    assert cine.view == "4CH" and cine.view_source == "forced by the user"


@pytest.mark.parametrize("shape4d", [True, False])
def test_nifti_maps_axes_and_anisotropic_spacing_to_row_col(tmp_path, shape4d):
    rows, cols, n = 36, 44, 10
    frames = np.broadcast_to(np.add.outer(np.arange(rows), np.arange(cols)), (n, rows, cols)).astype(np.float32)
    frames[:, 3, 40] = 1000  # a dot at row 3, column 40, on a smooth ramp
    frames[:, 20, 20] = np.arange(n)  # something that changes over time
    data = np.transpose(frames, (2, 1, 0))  # (X=cols, Y=rows, T)
    if shape4d:
        data = data[:, :, None, :]
    image = nib.Nifti1Image(data, np.eye(4))
    zooms = (1.2, 2.1, 8.0, 40.0) if shape4d else (1.2, 2.1, 40.0)
    image.header.set_zooms(zooms)
    image.header.set_xyzt_units("mm", "msec")
    path = tmp_path / "patient_4ch.nii.gz"
    nib.save(image, str(path))
    cine = read_nifti_cine(path)
    assert cine.shape == (rows, cols)
    assert cine.pixel_spacing_mm == pytest.approx((2.1, 1.2))  # (row, col)
    assert cine.frames[0, 3, 40] == 1000
    np.testing.assert_allclose(cine.times_s, np.arange(n) * 0.04)
    assert cine.view == "4CH"


def test_nifti_and_npz_roundtrip(tmp_path):
    cine = make_cine(spacing=(1.3, 2.0))
    write_nifti_cine(cine, tmp_path / "c.nii.gz")
    write_npz_cine(cine, tmp_path / "c.npz")
    for back in (read_nifti_cine(tmp_path / "c.nii.gz"), read_npz_cine(tmp_path / "c.npz")):
        np.testing.assert_allclose(back.frames, cine.frames)
        assert back.pixel_spacing_mm == pytest.approx(cine.pixel_spacing_mm)
        np.testing.assert_allclose(back.times_s, cine.times_s, atol=1e-6)


def test_legacy_multiframe_needs_explicit_spacing():
    with pytest.raises(CineError, match=r"heart-16frames.dcm: no PixelSpacing .*--pixel-spacing.*1.367 mm"):
        read_cines(LEGACY_MULTIFRAME)
    (cine,) = read_cines(LEGACY_MULTIFRAME, pixel_spacing_mm=1.367)
    assert cine.n_frames == 16 and cine.view == "unknown"
    np.testing.assert_allclose(np.diff(cine.times_s), 0.06947, atol=1e-6)


# ---- bad input: one clear error naming the file and the problem ----

def test_error_no_images(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CineError, match="no DICOM images found"):
        read_cines(tmp_path)


def test_error_unreadable_file(tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not a dicom file at all")
    with pytest.raises(CineError, match="broken.dcm: unreadable DICOM"):
        read_cines(bad)


def test_error_single_frame(tmp_path):
    write_dicom_series(make_cine(n_frames=2), tmp_path)
    sorted(tmp_path.glob("*.dcm"))[0].unlink()
    with pytest.raises(CineError, match="only one frame"):
        read_cines(tmp_path)


def _edit_all(folder, edit):
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        edit(ds, path)
        ds.save_as(path)


def test_error_missing_pixel_spacing(tmp_path):
    write_dicom_series(make_cine(), tmp_path)
    _edit_all(tmp_path, lambda ds, p: delattr(ds, "PixelSpacing"))
    with pytest.raises(CineError, match=r"IM\d+\.dcm: no PixelSpacing"):
        read_cines(tmp_path)


def test_error_missing_trigger_time(tmp_path):
    write_dicom_series(make_cine(), tmp_path)
    _edit_all(tmp_path, lambda ds, p: delattr(ds, "TriggerTime"))
    with pytest.raises(CineError, match="no TriggerTime"):
        read_cines(tmp_path)


def test_error_frames_of_different_sizes(tmp_path):
    write_dicom_series(make_cine(n_frames=4, shape=(20, 24)), tmp_path, rng=None)
    first = make_cine(n_frames=4, shape=(22, 24))
    other = tmp_path / "other"
    write_dicom_series(first, other)
    uid = pydicom.dcmread(sorted(tmp_path.glob("*.dcm"))[0]).SeriesInstanceUID
    source = sorted(other.glob("*.dcm"))[0]
    ds = pydicom.dcmread(source)
    ds.SeriesInstanceUID = uid
    ds.TriggerTime = 500.0
    ds.save_as(tmp_path / "odd.dcm")
    shutil.rmtree(other)
    with pytest.raises(CineError, match="frames of different sizes"):
        read_cines(tmp_path)


def test_error_missing_path(tmp_path):
    with pytest.raises(CineError, match="no such file"):
        read_cines(tmp_path / "nope")
