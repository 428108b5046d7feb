"""Shared fixtures: small cines made on the fly, and the real sample shipped with the package."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mvtrack.io import Cine
from mvtrack.models.store import ModelSet, read_manifest, sha256_of

REAL_SAMPLE = Path(__file__).resolve().parents[1] / "src" / "mvtrack" / "data" / "mvnet-sample"
LEGACY_MULTIFRAME = Path(__file__).resolve().parent / "data" / "legacy-multiframe" / "heart-16frames.dcm"


def make_cine(n_frames: int = 10, shape=(40, 52), spacing=(1.5, 1.7), seed: int = 0, view: str = "2CH") -> Cine:
    """A small random cine (smooth random blobs, so that it looks like an image to the reader's checks)
    whose frame t holds the value 10 t in its top-left pixel (to check order)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 500, size=(n_frames, *shape))
    frames = ((ndimage.gaussian_filter(noise, (0, 1.5, 1.5)) - 250) * 6 + 250).clip(0, 500).astype(np.float32)
    frames[:, 0, 0] = np.arange(n_frames) * 10
    times = np.arange(n_frames) * 0.04
    return Cine(frames=frames, pixel_spacing_mm=spacing, times_s=times, rr_s=n_frames * 0.04, view=view,
                orientation=np.array([1.0, 0, 0, 0, 1, 0]), position_mm=np.array([0.0, 0, 0]))


@pytest.fixture
def small_cine() -> Cine:
    return make_cine()


TINY = dict(depth=10, width=8, max_width=16)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A complete model folder (4 networks) of tiny random ResNets: exercises the plumbing, not accuracy."""
    import torch

    from mvtrack.models.export import export_model_dir
    from mvtrack.models.network import NetworkConfig, build_network

    root = tmp_path_factory.mktemp("tiny_model")
    checkpoints = {}
    torch.manual_seed(0)
    for view in ("2CH", "4CH"):
        for stage in (1, 2):
            head = "fc" if view == "2CH" else "softargmax"  # exercise both heads through ONNX
            config = NetworkConfig(view=view, stage=stage, head=head, **TINY)
            path = root / f"{config.name}.ckpt"
            torch.save({"network": config.to_dict(), "state_dict": build_network(config).state_dict(),
                        "best_val_mm": 99.0, "iteration": 0}, path)
            checkpoints[config.name] = path
    export_model_dir(checkpoints, root / "model", model_id="tiny-test")
    return root / "model"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """Three synthetic DICOM studies (2CH + 4CH each), shared by the pipeline and cohort tests: read only."""
    from mvtrack.synth.generator import generate_subject
    from mvtrack.synth.writer import write_subject

    root = tmp_path_factory.mktemp("studies")
    for index in range(3):
        write_subject(generate_subject(77, index), root, "dicom")
    return root


def with_critics(model_dir, out, critics: dict[str, str]):
    """A copy of a model folder whose manifest names, per view, one of its ONNX files as the critic."""
    shutil.copytree(model_dir, out)
    manifest = read_manifest(out)
    manifest["critics"] = {}
    for view, onnx in critics.items():
        entry = manifest["networks"][onnx.removesuffix(".onnx")]
        manifest["critics"][f"{view.lower()}_stage2"] = {"onnx": onnx, "onnx_sha256": sha256_of(out / onnx),
                                                         "network": entry["network"]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return ModelSet(out)


def with_ensemble(model_dir, out, view: str, member: str):
    """A copy of a model folder whose stage 2 for ``view`` is an ensemble with another of its ONNX files."""
    shutil.copytree(model_dir, out)
    manifest = read_manifest(out)
    entry = manifest["networks"][f"{view.lower()}_stage2"]
    entry["ensemble"] = [{"onnx": member, "onnx_sha256": sha256_of(out / member), "network": entry["network"]}]
    (out / "manifest.json").write_text(json.dumps(manifest))
    return ModelSet(out)
