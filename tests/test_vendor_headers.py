"""Vendor-shaped headers (issue 34): each copy of the built-in sample reads to the sample's frames,
spacing, times and RR, or to one clear CineError where its header truly lacks something; series
whose frames differ in size are refused in one line unless each size is a whole cine."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from conftest import LEGACY_MULTIFRAME, REAL_SAMPLE
from pydicom.sequence import Sequence
from vendor_corpus import VENDORS, crop_every_other, write_vendor

from mvtrack.errors import CineError
from mvtrack.io import read_cines
from mvtrack.io.cine import rr_from_times
from mvtrack.io.dicom import (
    SizedPart,
    choose_rr,
    file_kind,
    interleave_as_one_cine,
    is_whole_cine,
    mixed_size_problem,
    same_plane,
    stated_rr,
)

ORIGINAL = {view: read_cines(REAL_SAMPLE / view)[0] for view in ("2ch", "4ch")}


def _one_line_error(paths, words: str, **options) -> str:
    with pytest.raises(CineError, match=words) as refused:
        read_cines(paths, **options)
    message = str(refused.value)
    assert "\n" not in message
    return message


def _edit(folder, change):
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(path)


# ---- the corpus: the same cine however the vendor stores it ----

@pytest.mark.parametrize("view", ["2ch", "4ch"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_vendor_shaped_copy_reads_as_the_sample(tmp_path, vendor, view):
    paths, expected = write_vendor(vendor, tmp_path, view)
    original = ORIGINAL[view]
    (cine,) = read_cines(paths)
    np.testing.assert_array_equal(cine.frames, original.frames)
    np.testing.assert_allclose(cine.pixel_spacing_mm, original.pixel_spacing_mm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cine.times_s, original.times_s, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cine.orientation, original.orientation, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cine.position_mm, original.position_mm, rtol=0, atol=1e-4)
    assert cine.rr_s == pytest.approx(expected.rr_s, abs=1e-6) and cine.rr_source == expected.rr_source
    assert cine.slice_thickness_mm == pytest.approx(6.0)
    assert cine.view == original.view
    if expected.rr_source in ("NominalInterval", "RRIntervalTimeNominal"):
        assert cine.rr_s == pytest.approx(original.rr_s, abs=1e-6)  # the sample's own NominalInterval
    elif expected.rr_source == "trigger times":
        assert cine.rr_s == pytest.approx(rr_from_times(original.times_s), abs=1e-6)
    else:  # HeartRate is whole beats per minute: within half a beat of the sample's RR
        assert cine.rr_s == pytest.approx(original.rr_s, rel=0.02)


def test_the_philips_classic_file_is_classic_and_holds_a_one_item_group(tmp_path):
    (folder,), _ = write_vendor("philips-classic", tmp_path)
    ds = pydicom.dcmread(next(folder.iterdir()))
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4" and len(ds.PerFrameFunctionalGroupsSequence) == 1
    assert "PixelMeasuresSequence" not in ds.PerFrameFunctionalGroupsSequence[0] and "PixelSpacing" in ds
    assert file_kind(ds.SOPClassUID, 1, 1) == "classic"


def test_a_classic_file_prefers_its_top_level_spacing_to_a_one_item_group(tmp_path):
    (folder,), _ = write_vendor("philips-classic", tmp_path)

    def odd_group(ds):
        ds.PerFrameFunctionalGroupsSequence[0].PixelMeasuresSequence = Sequence([pydicom.Dataset()])
        ds.PerFrameFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = [0.9, 0.9]
    _edit(folder, odd_group)
    (cine,) = read_cines([folder])
    assert cine.pixel_spacing_mm == pytest.approx(ORIGINAL["2ch"].pixel_spacing_mm, abs=1e-6)


def test_a_classic_file_uses_its_group_where_the_top_level_lacks_the_value(tmp_path):
    (folder,), _ = write_vendor("philips-classic", tmp_path)

    def spacing_in_group_only(ds):
        ds.PerFrameFunctionalGroupsSequence[0].PixelMeasuresSequence = Sequence([pydicom.Dataset()])
        ds.PerFrameFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = [1.5, 1.6]
        del ds.PixelSpacing
    _edit(folder, spacing_in_group_only)
    assert read_cines([folder])[0].pixel_spacing_mm == pytest.approx((1.5, 1.6))


def test_an_enhanced_file_uses_the_top_level_where_its_groups_lack_the_value(tmp_path):
    (path,), _ = write_vendor("philips-enhanced", tmp_path)
    ds = pydicom.dcmread(path)
    del ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence
    ds.PixelSpacing = [1.5, 1.6]
    ds.save_as(path)
    assert read_cines([path])[0].pixel_spacing_mm == pytest.approx((1.5, 1.6))


# ---- what a header truly lacks: one line ----

def test_no_spacing_anywhere_is_one_line_naming_the_options_that_exist(tmp_path):
    (folder,), _ = write_vendor("philips-classic", tmp_path)
    _edit(folder, lambda ds: delattr(ds, "PixelSpacing"))
    message = _one_line_error([folder], "IM_\\d+: no PixelSpacing")
    assert "--pixel-spacing MM (mvtrack info / analyze)" in message
    (cine,) = read_cines([folder], pixel_spacing_mm=1.8)
    assert cine.pixel_spacing_mm == (1.8, 1.8)


def test_no_trigger_time_is_one_line(tmp_path):
    (folder,), _ = write_vendor("ge-classic", tmp_path)
    _edit(folder, lambda ds: delattr(ds, "TriggerTime"))
    _one_line_error([folder], "no TriggerTime")


def test_the_legacy_multiframe_file_reads_with_a_stated_spacing_and_its_rr_source():
    _one_line_error(LEGACY_MULTIFRAME, "no PixelSpacing .*1.367 mm")
    (cine,) = read_cines(LEGACY_MULTIFRAME, pixel_spacing_mm=1.367)
    assert cine.n_frames == 16 and cine.rr_source == "trigger times"
    assert cine.rr_s == pytest.approx(16 * 0.06947, abs=1e-6)


def test_an_enhanced_file_with_groups_for_fewer_frames_is_one_line(tmp_path):
    (path,), _ = write_vendor("philips-enhanced", tmp_path)
    ds = pydicom.dcmread(path)
    ds.PerFrameFunctionalGroupsSequence = Sequence(list(ds.PerFrameFunctionalGroupsSequence)[:-1])
    ds.save_as(path)
    _one_line_error([path], "29 per-frame functional groups for 30 frames")


# ---- the RR without NominalInterval ----

def test_the_rr_comes_from_the_trigger_times_without_heart_rate(tmp_path):
    (folder,), _ = write_vendor("ge-classic", tmp_path)
    _edit(folder, lambda ds: delattr(ds, "HeartRate"))
    (cine,) = read_cines([folder])
    assert cine.rr_source == "trigger times" and cine.notes == ()
    assert cine.rr_s == pytest.approx(rr_from_times(ORIGINAL["2ch"].times_s), abs=1e-6)


def test_a_part_cine_timed_by_its_trigger_times_says_so(tmp_path):
    (folder,), _ = write_vendor("ge-classic", tmp_path, n_frames=12)
    _edit(folder, lambda ds: delattr(ds, "HeartRate"))
    _edit(folder, lambda ds: setattr(ds, "CardiacNumberOfImages", 30))
    (cine,) = read_cines([folder])
    assert cine.rr_source == "trigger times" and any("may be short" in note for note in cine.notes)


def test_stated_rr_order_and_units():
    assert stated_rr("1372", None, 44) == (1.372, "NominalInterval")
    assert stated_rr(None, 1356.0, 44) == (1.356, "RRIntervalTimeNominal")
    assert stated_rr("", "abc", "60") == (1.0, "HeartRate")
    assert stated_rr(0, -1, None) is None


def test_choose_rr_keeps_a_stated_rr_only_when_it_is_longer_than_the_frames():
    times = np.arange(10) * 0.05
    assert choose_rr(times, (1.0, "HeartRate"), 10) == (1.0, "HeartRate", ())
    rr, source, notes = choose_rr(times, (0.3, "NominalInterval"), 10)
    assert (rr, source) == (pytest.approx(0.5), "trigger times") and "NominalInterval" in notes[0]
    assert choose_rr(times, None, 10)[:2] == (pytest.approx(0.5), "trigger times")
    assert "may be short" in choose_rr(times, None, 20)[2][0]


def test_file_kind_by_sop_class_and_frames():
    assert file_kind("1.2.840.10008.5.1.4.1.1.4", 1, 1) == "classic"
    assert file_kind("1.2.840.10008.5.1.4.1.1.4", 16, 0) == "classic"
    assert file_kind("1.2.840.10008.5.1.4.1.1.4.1", 1, 1) == "enhanced"
    assert file_kind("1.2.840.10008.5.1.4.1.1.4.4", 30, 30) == "enhanced"
    assert file_kind("", 30, 30) == "enhanced" and file_kind("", 1, 1) == "classic"


# ---- frames of different sizes ----

def test_every_other_frame_cropped_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "2ch"
    shutil.copytree(REAL_SAMPLE / "2ch", folder)  # one SeriesInstanceUID per file: a folder-and-plane group
    crop_every_other(folder, shift_position=False)
    message = _one_line_error([folder], "different sizes in one folder and plane")
    assert "15 of 100 x 100 px" in message and "15 of 208 x 168 px" in message


@pytest.mark.parametrize("shift", [False, True])
def test_a_series_with_every_other_frame_cropped_is_refused(tmp_path, shift):
    (folder,), _ = write_vendor("ge-classic", tmp_path)
    crop_every_other(folder, shift_position=shift)
    message = _one_line_error([folder], "different sizes in one series: 15 of 100 x 100 px, 15 of 208 x 168 px")
    assert "CardiacNumberOfImages 30" in message


def test_a_cropped_half_without_cardiac_number_of_images_is_still_refused(tmp_path):
    (folder,), _ = write_vendor("philips-classic", tmp_path)
    crop_every_other(folder)
    _one_line_error([folder], "different sizes in one series")


def test_a_mixed_series_beside_a_good_one_is_left_out_with_a_note(tmp_path):
    write_vendor("siemens-classic", tmp_path / "study", "4ch")
    (folder,), _ = write_vendor("ge-classic", tmp_path / "study", "2ch")
    crop_every_other(folder)
    (cine,) = read_cines([tmp_path / "study"])
    assert cine.view == "4CH" and any("different sizes" in note for note in cine.notes)


def test_whole_cines_of_different_sizes_in_one_series_are_read(tmp_path):
    (two,), _ = write_vendor("siemens-classic", tmp_path / "study", "2ch")
    (four,), _ = write_vendor("siemens-classic", tmp_path / "study", "4ch")
    uid = pydicom.dcmread(next(two.iterdir())).SeriesInstanceUID
    _edit(four, lambda ds: setattr(ds, "SeriesInstanceUID", uid))
    cines = read_cines([tmp_path / "study"])
    assert [(c.view, c.n_frames, c.shape) for c in cines] == [("2CH", 30, (208, 168)), ("4CH", 30, (168, 208))]


def _part(shape, times, rr=1.0, images=None, orientation=(1, 0, 0, 0, 1, 0), position=(0, 0, 0)):
    return SizedPart(shape, np.asarray(times, float), orientation, position, rr, images)


def test_mixed_size_problem_on_its_own():
    full = np.arange(20) * 0.05
    assert mixed_size_problem([_part((8, 8), full)]) is None
    halves = [_part((8, 8), full[::2], rr=None), _part((4, 4), full[1::2], rr=None)]
    problem, parts = mixed_size_problem(halves)
    assert parts == [0, 1] and "10 of 4 x 4 px, 10 of 8 x 8 px" in problem
    assert mixed_size_problem([_part((8, 8), full), _part((4, 4), full[:1])])[1] == [0, 1]
    # two whole cines on one plane with the same trigger times (two acquisitions) are two cines
    assert mixed_size_problem([_part((8, 8), full, images=20), _part((4, 4), full, images=20)]) is None
    # other planes are other cines, whatever their sizes
    other = _part((4, 4), full[1::2], orientation=(0, 1, 0, 0, 0, 1))
    assert mixed_size_problem([_part((8, 8), full[::2]), other]) is None


def test_the_size_helpers_on_their_own():
    full = np.arange(20) * 0.05
    assert is_whole_cine(full, 1.0, 20) and not is_whole_cine(full[::2], 1.0, 20) and not is_whole_cine(full[:5], 1.0, None)
    assert is_whole_cine(full, None, None) and not is_whole_cine(full[:1], None, None)
    assert interleave_as_one_cine(full[::2], full[1::2]) and not interleave_as_one_cine(full, full)
    assert not interleave_as_one_cine(full, full + 0.002)  # shifted whole cines: uneven together
    assert same_plane((1, 0, 0, 0, 1, 0), (0, 0, 0), (1, 0, 0, 0, 1, 0), (30, -5, 0.5))
    assert not same_plane((1, 0, 0, 0, 1, 0), (0, 0, 0), (1, 0, 0, 0, 1, 0), (0, 0, 8))
    assert same_plane(None, None, (1, 0, 0, 0, 1, 0), (0, 0, 8))


def test_the_cli_refuses_a_mixed_series_in_one_line(tmp_path):
    (folder,), _ = write_vendor("ge-classic", tmp_path)
    crop_every_other(folder)
    run = subprocess.run([sys.executable, "-m", "mvtrack", "info", str(folder)], capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "different sizes" in lines[0], run.stderr


def test_the_cli_shows_where_the_rr_came_from(tmp_path):
    (folder,), _ = write_vendor("ge-classic", tmp_path)
    run = subprocess.run([sys.executable, "-m", "mvtrack", "info", str(folder)], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "(from HeartRate)" in run.stdout, run.stdout + run.stderr


def test_analyze_takes_pixel_spacing_and_records_the_rr_source(tmp_path):
    import json

    run = subprocess.run([sys.executable, "-m", "mvtrack", "analyze", str(LEGACY_MULTIFRAME), "--out", str(tmp_path),
                          "--pixel-spacing", "1.367", "--view", "4CH", "--no-movies", "--passes", "0", "--no-search"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    view = json.loads((tmp_path / "heart-16frames" / "results.json").read_text())["views"]["4CH"]
    assert view["pixel_spacing_mm"] == [1.367, 1.367] and view["rr_source"] == "trigger times"
