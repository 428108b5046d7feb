"""Fuzz the readers: N mutated copies of the built-in sample through ``read_cines``, outcomes tabled.

Inputs, each made from the real sample 2CH (first 12 frames): a DICOM series (one file per frame)
with header bytes flipped, files cut short, replaced by random bytes, or elements set to odd values
and VRs through pydicom; one enhanced multi-frame DICOM file with bytes flipped or cut; a NIfTI file
with header bytes flipped; an .npz with members replaced by arrays of odd shapes, types and values;
the vendor-shaped copies of the same frames (``tests/vendor_corpus.py``: Siemens, Philips and GE classic
series, a Philips enhanced file, a legacy multi-frame file), one a case in turn, mutated like the
DICOM inputs above.

An outcome is "read" (cines that pass validation; "read, noted" when a reader note says what was
wrong), "refused" (a one-line CineError naming the input), "silent loss" (a series read with fewer
frames than files and no note), "crash" (any other exception; its signature is listed) or "hang"
(over --timeout seconds). Done means 0 crashes, 0 hangs, 0 silent losses.

    .venv/bin/python benchmarks/fuzz_inputs.py [--n 5000] [--seed 0] [--workers 2] [--memory-gb 4]
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import shutil
import signal
import sys
import tempfile
import time
import traceback
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vendor_corpus import VENDORS, write_vendor  # noqa: E402 - the test helper that builds the vendor corpus

N_FRAMES = 12
KINDS = ("dicom series", "enhanced dicom", "nifti", "npz", "vendor dicom")


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang()


def _base_inputs(root: Path) -> dict[str, Path]:
    """The unmutated inputs, written once per worker into ``root``."""
    import pydicom

    from mvtrack.io import read_cines, write_nifti_cine, write_npz_cine
    from mvtrack.io.dicom_write import write_dicom_series

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample" / "2ch"))
    series = root / "series"
    series.mkdir()
    for source in sorted(sample.glob("*.dcm"))[:N_FRAMES]:
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1125.5000"
        ds.save_as(series / source.name)
    (cine,) = read_cines([series])
    enhanced = root / "enhanced"
    (enhanced_file,) = write_dicom_series(cine, enhanced, "2CH", enhanced=True)
    write_nifti_cine(cine, root / "cine_2ch.nii")
    write_npz_cine(cine, root / "cine_2ch.npz")
    bases = {"dicom series": series, "enhanced dicom": Path(enhanced_file), "nifti": root / "cine_2ch.nii",
             "npz": root / "cine_2ch.npz"}
    for vendor in VENDORS:
        (bases[vendor],), _ = write_vendor(vendor, root / "vendors", "2ch", n_frames=N_FRAMES)
    return bases


def _flip_bytes(data: bytes, rng, lo: int, hi: int, n: int) -> bytes:
    out = bytearray(data)
    for index in rng.integers(lo, max(lo + 1, min(hi, len(out))), n):
        out[index] = rng.integers(0, 256)
    return bytes(out)


ODD_VALUES = ["", "NaN", "inf", "-inf", "1e300", "-1", "0", "abc", "1\\2\\3", "\\", "1e-300", "99999999999"]
ODD_VRS = ["DS", "IS", "LO", "US", "FD", "OB", "SQ", "UN", "CS"]


def _mutate_element(path: Path, rng) -> None:
    """Set a random element of the file to an odd value, an odd VR, or delete it (bytes are flipped
    instead where pydicom cannot write the result)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        tags = [e.tag for e in ds if e.tag != 0x7FE00010]
        tag = tags[int(rng.integers(0, len(tags)))]
        action = rng.integers(0, 3)
        if action == 0:
            del ds[tag]
        else:
            vr = ODD_VRS[int(rng.integers(0, len(ODD_VRS)))] if action == 2 else ds[tag].VR
            value = ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]
            try:
                ds.add_new(tag, vr, [] if vr == "SQ" else (value.encode() if vr in ("OB", "UN") else value))
            except Exception:  # pydicom refused to store it: the raw value as UN
                ds.add_new(tag, "UN", value.encode())
        ds.save_as(path)
    except Exception:  # noqa: BLE001
        path.write_bytes(_flip_bytes(path.read_bytes(), rng, 132, 2000, 8))


def _make_input(kind: str, base: Path, work: Path, rng) -> list[Path]:
    """A mutated copy of the base input of ``kind`` in ``work``; returns the paths to read."""
    if kind == "vendor dicom" and base.is_file():  # one multi-frame file: an element changed, or bytes
        target = work / base.name
        shutil.copy(base, target)
        if rng.random() < 0.5:
            _mutate_element(target, rng)
        else:
            data = _flip_bytes(target.read_bytes(), rng, 128, 4000, int(rng.integers(1, 24)))
            target.write_bytes(data[: int(rng.integers(0, len(data)))] if rng.random() < 0.3 else data)
        return [target]
    if kind in ("dicom series", "vendor dicom"):
        folder = work / "2ch"
        shutil.copytree(base, folder)
        victims = sorted(p for p in folder.iterdir() if p.is_file())
        for victim in [victims[i] for i in rng.choice(len(victims), int(rng.integers(1, 4)), replace=False)]:
            how = rng.integers(0, 5)
            data = victim.read_bytes()
            if how == 0:
                victim.write_bytes(_flip_bytes(data, rng, 128, 2000, int(rng.integers(1, 20))))
            elif how == 1:
                victim.write_bytes(data[: int(rng.integers(0, len(data)))])
            elif how == 2:
                victim.write_bytes(rng.bytes(int(rng.integers(0, 5000))))
            else:
                _mutate_element(victim, rng)
        return [folder]
    target = work / base.name
    data = base.read_bytes()
    if kind == "enhanced dicom":
        pixels_start = len(data) - N_FRAMES * 208 * 168 * 2
        data = _flip_bytes(data, rng, 128, pixels_start, int(rng.integers(1, 24)))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
    elif kind == "nifti":
        data = _flip_bytes(data, rng, 0, 352, int(rng.integers(1, 12)))
        if rng.random() < 0.2:
            data = data[: int(rng.integers(0, len(data)))]
    else:
        target.write_bytes(data)
        _mutate_npz(target, rng)
        return [target]
    target.write_bytes(data)
    return [target]


def _mutate_npz(path: Path, rng) -> None:
    with np.load(path) as stored:
        members = {k: stored[k] for k in stored.files}
    key = list(members)[int(rng.integers(0, len(members)))]
    choice = rng.integers(0, 6)
    if choice == 0:
        del members[key]
    elif choice == 1:
        members[key] = np.asarray(ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))])
    elif choice == 2:
        members[key] = rng.random(tuple(int(s) for s in rng.integers(0, 5, int(rng.integers(0, 4)))))
    elif choice == 3 and np.asarray(members[key]).dtype.kind in "biuf":
        members[key] = np.asarray(members[key], dtype=float) * rng.choice([0.0, -1.0, 1e-6, 1e6, np.nan, np.inf])
    elif choice == 4:
        members[key] = np.asarray(members[key]).reshape(-1)[: int(rng.integers(0, 5))]
    elif choice == 5:
        try:
            members[key] = np.asarray(members[key]).astype(rng.choice(["int8", "bool", "complex64", "U3"]))
        except ValueError:  # text that is not a number
            members[key] = np.asarray(members[key]).astype("U3")
    else:
        members[key] = np.asarray("odd")
    np.savez(path, **members)


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "mvtrack" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def _run_one(args) -> tuple[str, str, str]:
    """(kind, outcome, detail) of input ``index``."""
    index, seed, timeout_s, base_root = args
    from mvtrack.errors import CineError
    from mvtrack.io import read_cines

    kind = KINDS[index % len(KINDS)]
    rng = np.random.default_rng([seed, index])
    bases = _WORKER_BASES[base_root]
    base = bases[kind] if kind != "vendor dicom" else bases[VENDORS[(index // len(KINDS)) % len(VENDORS)]]
    with tempfile.TemporaryDirectory() as work:
        paths = _make_input(kind, base, Path(work), rng)
        n_files = sum(p.is_file() for p in paths[0].iterdir()) if paths[0].is_dir() else 0
        signal.alarm(timeout_s)
        try:
            cines = read_cines(paths, view="2CH")
        except CineError as error:
            message = str(error)
            if "\n" in message or not any(str(p) in message or str(Path(work)) in message for p in paths):
                return kind, "crash", f"unclear CineError: {message[:120]!r}"
            return kind, "refused", ""
        except Hang:
            return kind, "hang", ""
        except BaseException as exc:  # noqa: BLE001 - what we are here to find
            return kind, "crash", _signature(exc)
        finally:
            signal.alarm(0)
    expected = N_FRAMES if kind == "vendor dicom" else n_files
    if kind in ("dicom series", "vendor dicom") and sum(c.n_frames for c in cines) < expected \
            and not any(c.notes for c in cines):
        return kind, "silent loss", ""
    return kind, "read, noted" if any(c.notes for c in cines) else "read", ""


_WORKER_BASES: dict[str, dict[str, Path]] = {}


def _init_worker(base_root: str, memory_gb: float = 0) -> None:
    import resource
    import warnings

    if memory_gb > 0:
        # A header claiming a huge image makes the readers allocate it: with a cap that is a
        # MemoryError (refused as unreadable) instead of the kernel killing the worker, which would
        # leave the pool waiting for it for ever on a machine shared with other work.
        limit = int(memory_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.filterwarnings("ignore")
    signal.signal(signal.SIGALRM, _on_alarm)
    root = Path(tempfile.mkdtemp(dir=base_root))
    _WORKER_BASES[base_root] = _base_inputs(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=20, help="seconds before an input counts as a hang")
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="address-space cap per worker (0: none); past it a read is a MemoryError")
    args = parser.parse_args()

    outcomes = collections.Counter()
    crashes: dict[str, list[int]] = collections.defaultdict(list)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as base_root:
        with multiprocessing.get_context("fork").Pool(args.workers, _init_worker, (base_root, args.memory_gb)) as pool:
            jobs = [(i, args.seed, args.timeout, base_root) for i in range(args.n)]
            for index, (kind, outcome, detail) in enumerate(pool.imap(_run_one, jobs, chunksize=16)):
                outcomes[kind, outcome] += 1
                if outcome == "crash":
                    crashes[detail].append(index)
    seconds = time.perf_counter() - start

    columns = ["read", "read, noted", "refused", "silent loss", "crash", "hang"]
    print(f"{args.n} mutated inputs (seed {args.seed}) in {seconds:.0f} s, {args.workers} workers\n")
    print("| input | n | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for kind in (*KINDS, "all"):
        counts = [sum(v for (k, o), v in outcomes.items() if o == c and kind in (k, "all")) for c in columns]
        print(f"| {kind} | {sum(counts)} | " + " | ".join(map(str, counts)) + " |")
    print()
    if crashes:
        print("| crash signature | count | first input |")
        print("|---|---:|---:|")
        for signature, indices in sorted(crashes.items(), key=lambda item: -len(item[1])):
            print(f"| {signature} | {len(indices)} | {indices[0]} |")
    else:
        print("no crashes")


if __name__ == "__main__":
    main()
