"""Bad input gets one clear CineError line; values a cine cannot carry are refused (issue 14, part)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
from conftest import REAL_SAMPLE, make_cine
from typer.testing import CliRunner

from mvtrack.errors import CineError
from mvtrack.io import read_cines
from mvtrack.io.cine import validate_cine


def test_a_corrupt_file_in_a_series_refuses_it_unless_skip_unreadable(tmp_path):
    folder = tmp_path / "2ch"
    shutil.copytree(REAL_SAMPLE / "2ch", folder)
    victim = sorted(folder.glob("*.dcm"))[5]
    victim.write_bytes(b"\0" * 128 + b"DICM" + np.random.default_rng(0).bytes(4000))
    with pytest.raises(CineError, match="--skip-unreadable") as refused:
        read_cines([folder])
    assert str(victim) in str(refused.value)
    (cine,) = read_cines([folder], skip_unreadable=True)
    assert cine.n_frames == 29
    assert any("could not be read" in note and victim.name in note for note in cine.notes)


def test_mutated_files_give_a_cine_or_a_cine_error(tmp_path):
    source = sorted((REAL_SAMPLE / "2ch").glob("*.dcm"))[0].read_bytes()
    rng = np.random.default_rng(1)
    for trial in range(40):
        data = bytearray(source)
        if trial % 2:  # flip bytes anywhere in the header
            for index in rng.integers(128, 2000, 12):
                data[index] = rng.integers(0, 256)
        else:  # cut the file short
            data = data[: int(rng.integers(132, len(data)))]
        path = tmp_path / f"m{trial}.dcm"
        path.write_bytes(bytes(data))
        try:
            read_cines([path], view="2CH")
        except CineError as error:
            assert str(path) in str(error) and "\n" not in str(error)


@pytest.mark.parametrize("change,words", [
    (dict(pixel_spacing_mm=(1e300, 1.0)), "pixel spacing"),
    (dict(pixel_spacing_mm=(0.01, 0.01)), "pixel spacing"),
    (dict(rr_s=float("nan")), "RR interval"),
    (dict(rr_s=12.0), "RR interval"),
    (dict(times_s=np.full(10, np.nan)), "not finite"),
])
def test_implausible_values_are_refused(change, words):
    cine = replace(make_cine(n_frames=10, shape=(40, 52)), **change)
    with pytest.raises(CineError, match=words):
        validate_cine(cine, "some.dcm")


def test_constant_tiny_or_short_cines_are_refused():
    base = make_cine(n_frames=10, shape=(40, 52))
    for cine, words in ((replace(base, frames=np.zeros_like(base.frames)), "constant"),
                        (replace(base, frames=np.repeat(base.frames[:1], 10, axis=0)), "constant"),
                        (make_cine(n_frames=10, shape=(20, 52)), "too small"),
                        (make_cine(n_frames=5, shape=(40, 52)), "at least 8")):
        with pytest.raises(CineError, match=words):
            validate_cine(cine, "x.dcm")


def test_broken_orientation_is_dropped_with_a_note():
    cine = replace(make_cine(n_frames=10, shape=(40, 52)), orientation=np.array([1.0, 0, 0, 1.0, 0, 0]))
    checked = validate_cine(cine, "x.dcm")
    assert checked.orientation is None and checked.position_mm is None and "geometry ignored" in checked.notes[-1]


def test_out_naming_a_file_is_one_clear_line(tmp_path):
    from mvtrack.cli import app

    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    outcome = CliRunner().invoke(app, ["analyze", str(REAL_SAMPLE), "--out", str(existing)])
    assert outcome.exit_code == 2 and "names an existing file" in outcome.output
    assert "Traceback" not in outcome.output and existing.read_text() == "keep me"


@pytest.mark.parametrize("members", [
    dict(frames=np.zeros((10, 40, 40, 2)), pixel_spacing_mm=[1.0, 1.0], times_s=np.arange(10) * 0.05),
    dict(frames=np.array(["a", "b"]), pixel_spacing_mm=[1.0, 1.0], times_s=np.arange(2) * 0.05),
    dict(frames=np.random.default_rng(0).random((10, 40, 40)), pixel_spacing_mm=["x", "y"], times_s=np.arange(10)),
    dict(frames=np.random.default_rng(0).random((10, 40, 40)), pixel_spacing_mm=[1.0, 1.0], times_s=np.zeros((10, 2)),
         rr_s=np.array([1.0, 2.0])),
])
def test_npz_members_of_the_wrong_type_or_shape_are_cine_errors(tmp_path, members):
    from mvtrack.io.npz import read_npz_cine

    path = tmp_path / "bad.npz"
    np.savez(path, **members)
    with pytest.raises(CineError, match="bad.npz"):
        read_npz_cine(path, view="2CH")


def test_a_garbage_nifti_time_unit_is_treated_as_unstated(tmp_path):
    import nibabel as nib

    from mvtrack.io.nifti import read_nifti_cine

    frames = np.random.default_rng(0).random((40, 36, 1, 10)).cumsum(0).cumsum(1).astype(np.float32)
    image = nib.Nifti1Image(frames, np.eye(4))
    image.header.set_zooms((1.5, 1.5, 8.0, 40.0))
    image.header["xyzt_units"] = 255  # no valid unit code
    nib.save(image, str(tmp_path / "cine_2ch.nii.gz"))
    cine = read_nifti_cine(tmp_path / "cine_2ch.nii.gz")
    assert cine.times_s[1] == pytest.approx(0.04)  # a step above 5 is taken as ms


def _analyze(args):
    from mvtrack.cli import app

    return CliRunner().invoke(app, ["analyze", *map(str, args), "--no-movies", "--no-search", "--passes", "1"])


def test_a_force_rerun_on_damaged_input_keeps_the_good_result(tmp_path):
    study, out = tmp_path / "patient", tmp_path / "out"
    shutil.copytree(REAL_SAMPLE, study)
    assert _analyze([study, "--out", out]).exit_code == 0
    good = (out / "patient" / "results.json").read_bytes()

    victim = sorted((study / "2ch").glob("*.dcm"))[7]
    victim.write_bytes(np.random.default_rng(5).bytes(9000))  # one file replaced by garbage
    outcome = _analyze([study, "--out", out, "--force"])
    assert outcome.exit_code == 1 and victim.name in outcome.output and "Traceback" not in outcome.output
    assert (out / "patient" / "results.json").read_bytes() == good
    assert victim.name in (out / "patient.error" / "error.json").read_text()

    shutil.rmtree(study / "2ch")  # a degraded study: one view fewer than the kept result
    outcome = _analyze([study, "--out", out, "--force"])
    assert outcome.exit_code == 1 and "earlier result was kept" in outcome.output
    assert (out / "patient" / "results.json").read_bytes() == good


@pytest.mark.parametrize("pixels,words", [("noise", "no image structure"), ("black", "constant"), ("ct", "CT series")])
def test_noise_black_or_ct_series_give_no_numbers(tmp_path, pixels, words):
    import pydicom

    study, out = tmp_path / "patient", tmp_path / "out"
    shutil.copytree(REAL_SAMPLE / "2ch", study / "2ch")
    for index, path in enumerate(sorted((study / "2ch").glob("*.dcm"))):
        ds = pydicom.dcmread(path)
        if pixels == "ct":
            ds.Modality = "CT"
        else:
            shape = (ds.Rows, ds.Columns)
            values = np.random.default_rng(index).integers(0, 1000, shape) if pixels == "noise" else np.zeros(shape)
            ds.PixelData = values.astype(np.uint16).tobytes()
        ds.save_as(path)
    outcome = _analyze([study, "--out", out])
    assert outcome.exit_code == 1 and words in outcome.output and "Traceback" not in outcome.output
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    assert len(lines) == 2 and words in lines[0]  # the failure line and the tally
    assert not (out / "patient" / "results.json").exists()
