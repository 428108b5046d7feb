"""Property-based reader tests (hypothesis, derandomised): whatever the input, the readers give a cine
that passes validation, or a one-line CineError naming the file. Issue 14."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from conftest import make_cine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvtrack.errors import CineError
from mvtrack.io import read_cines
from mvtrack.io.cine import MIN_FRAMES, Cine, validate_cine

PROPERTY_SETTINGS = settings(max_examples=150, derandomize=True, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _assert_valid_or_clear_error(path: Path, read):
    try:
        cines = read()
    except CineError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    for cine in cines:
        assert isinstance(cine, Cine) and cine.frames.dtype == np.float32 and cine.n_frames >= MIN_FRAMES
        assert np.isfinite(cine.frames).all() and np.all(np.diff(cine.times_s) > 0)
        assert validate_cine(cine, path) == cine or validate_cine(cine, path).notes == cine.notes


def _frames(kind: str, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "smooth":
        return rng.random(shape).cumsum(1).cumsum(2) * 10
    if kind == "noise":
        return rng.random(shape)
    if kind == "constant":
        return np.full(shape, 7.0)
    frames = rng.random(shape).cumsum(1).cumsum(2)
    frames.flat[rng.integers(0, frames.size)] = {"nan": np.nan, "inf": np.inf, "huge": 1e30}[kind]
    return frames


def _times(kind: str, n: int, step: float) -> np.ndarray:
    times = np.arange(n) * step
    if kind == "reversed":
        return times[::-1]
    if kind == "repeated" and n > 1:
        times[1] = times[0]
    if kind == "nan" and n > 1:
        times[-1] = np.nan
    return times


@PROPERTY_SETTINGS
@given(frames_kind=st.sampled_from(["smooth", "noise", "constant", "nan", "inf", "huge"]),
       n=st.integers(1, 14), rows=st.integers(1, 48), cols=st.integers(1, 48), seed=st.integers(0, 2**16),
       times_kind=st.sampled_from(["regular", "reversed", "repeated", "nan"]),
       step=st.one_of(st.just(0.04), ANY_FLOAT), spacing=st.tuples(st.one_of(st.just(1.4), ANY_FLOAT), ANY_FLOAT),
       rr=st.one_of(st.none(), ANY_FLOAT))
def test_any_npz_gives_a_valid_cine_or_a_cine_error(tmp_path, frames_kind, n, rows, cols, seed, times_kind, step,
                                                    spacing, rr):
    path = tmp_path / "cine_2ch.npz"
    members = dict(frames=_frames(frames_kind, (n, rows, cols), seed), pixel_spacing_mm=np.asarray(spacing),
                   times_s=_times(times_kind, n, step))
    if rr is not None:
        members["rr_s"] = np.asarray(rr)
    np.savez(path, **members)
    _assert_valid_or_clear_error(path, lambda: read_cines([path]))


@functools.cache
def _enhanced_dicom_bytes() -> bytes:
    """One enhanced MR file holding a whole 10-frame cine."""
    import tempfile

    from mvtrack.io.dicom_write import write_dicom_series

    with tempfile.TemporaryDirectory() as folder:
        (path,) = write_dicom_series(make_cine(n_frames=10, shape=(40, 52)), folder, "2CH", enhanced=True)
        return Path(path).read_bytes()


@PROPERTY_SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12),
       keep=st.one_of(st.none(), st.integers(0, 10**6)))
def test_any_damaged_dicom_file_gives_a_valid_cine_or_a_cine_error(tmp_path, edits, keep):
    data = bytearray(_enhanced_dicom_bytes())
    header_end = len(data) - 10 * 40 * 52 * 2  # edits land in the header, where parsing can break
    for offset, value in edits:
        data[offset % header_end] = value
    if keep is not None:
        data = data[: keep % len(data)]
    path = tmp_path / "cine.dcm"
    path.write_bytes(bytes(data))
    _assert_valid_or_clear_error(path, lambda: read_cines([path], view="2CH"))


def test_the_undamaged_file_and_a_smooth_npz_read(tmp_path):
    """The properties above are not met by refusing everything: the undamaged inputs give cines."""
    path = tmp_path / "cine.dcm"
    path.write_bytes(_enhanced_dicom_bytes())
    assert read_cines([path], view="2CH")[0].n_frames == 10
    np.savez(tmp_path / "cine_2ch.npz", frames=_frames("smooth", (10, 40, 40), 0), pixel_spacing_mm=np.array([1.4, 1.4]),
             times_s=_times("regular", 10, 0.04))
    assert read_cines([tmp_path / "cine_2ch.npz"])[0].n_frames == 10
