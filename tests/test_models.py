from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mvtrack.errors import ModelError
from mvtrack.models.export import load_checkpoint, network_from_checkpoint
from mvtrack.models.imagenet import imagenet_state_dict
from mvtrack.models.network import NetworkConfig, build_network
from mvtrack.models.preprocess import normalise_images, points_to_targets, targets_to_points
from mvtrack.models.store import ModelSet
from mvtrack.train.augment import AugmentConfig, augment, random_affine
from mvtrack.train.data import build_cache, synthetic_jobs, _synthetic_job
from mvtrack.train.trainer import TrainConfig, train_network

from conftest import TINY


@pytest.mark.parametrize("head", ["fc", "softargmax"])
@pytest.mark.parametrize("stage,shape", [(1, (160, 160)), (2, (118, 162))])
def test_network_outputs_four_numbers(stage, shape, head):
    config = NetworkConfig(stage=stage, head=head, **TINY)
    assert config.input_shape == shape
    out = build_network(config)(torch.randn(3, 1, *shape))
    assert out.shape == (3, 4)
    if head == "softargmax":  # an expectation over the image grid stays inside the image
        assert out.abs().max() < 1


def test_first_convolution_has_stride_two():
    model = build_network(NetworkConfig(**TINY))
    assert model.conv1.stride == (2, 2)


def test_targets_roundtrip_and_normalisation():
    points = np.random.default_rng(0).uniform(0, 150, (5, 2, 2))
    np.testing.assert_allclose(targets_to_points(points_to_targets(points, (118, 162)), (118, 162)), points, atol=1e-4)
    images = np.random.default_rng(1).uniform(100, 900, (2, 20, 30))
    normalised = normalise_images(images)
    q25, q50, q75 = np.percentile(normalised[0], [25, 50, 75])
    assert q50 == pytest.approx(0, abs=1e-5) and q75 - q25 == pytest.approx(1, abs=1e-5)


def test_quartiles_are_numpys_percentiles():
    """The one-partial-sort quartiles give np.percentile's interpolated values, for odd and even
    sizes, ties and a single pixel."""
    from mvtrack.models.preprocess import quartiles

    rng = np.random.default_rng(2)
    for flat in (rng.normal(size=(4, 19)), rng.normal(size=(3, 20)), rng.integers(0, 3, (5, 11)).astype(float),
                 np.array([[7.0]])):
        np.testing.assert_allclose(quartiles(flat), np.percentile(flat, [25, 50, 75], axis=1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,right_angles", [((118, 162), 0.0), ((160, 160), 1.0)])
def test_augmentation_moves_points_with_the_image(shape, right_angles):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    points = np.array([[50.3, 60.2], [110.7, 57.9]])
    image = sum(np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / 4.0) for x, y in points).astype(np.float32)
    config = AugmentConfig(intensity_gamma=0.0, noise=0.0, right_angle_probability=right_angles)
    rng = np.random.default_rng(0)
    for _ in range(5):
        warped, moved = augment(image, points, config, rng)
        for x, y in moved:
            r, c = int(round(y)), int(round(x))
            window = warped[r - 3:r + 4, c - 3:c + 4]
            wr, wc = np.mgrid[r - 3:r + 4, c - 3:c + 4]
            centroid = np.array([(wc * window).sum(), (wr * window).sum()]) / window.sum()
            np.testing.assert_allclose(centroid, [x, y], atol=0.35)


def test_short_training_writes_a_checkpoint_that_roundtrips(tmp_path):
    cache = build_cache(tmp_path / "cache", synthetic_jobs(2, 5), _synthetic_job, workers=1)
    network = NetworkConfig(view="4CH", stage=2, **TINY)
    config = TrainConfig(epochs=0.3, eval_every=2, val_fraction=0.5, val_samples=16, threads=1)
    summary = train_network(network, config, cache["4CH"], tmp_path / "run", progress=False)
    assert summary["iterations"] > 0 and np.isfinite(summary["best_val_mm"])
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint["network"] == network.to_dict() and checkpoint["train"]["epochs"] == 0.3
    restored_config, restored = network_from_checkpoint(checkpoint)
    assert restored_config == network
    x = torch.randn(2, 1, 118, 162)
    again = build_network(network)
    again.load_state_dict(checkpoint["state_dict"])
    again.eval()
    torch.testing.assert_close(restored(x), again(x))
    # resume continues from the saved iteration (here with batches augmented in a loader process)
    resumed = train_network(network, TrainConfig(epochs=0.6, eval_every=2, val_fraction=0.5, val_samples=16, threads=1,
                                                 loader_workers=1),
                            cache["4CH"], tmp_path / "run", resume=True, progress=False)
    assert resumed["iterations"] > summary["iterations"]
    # fine-tuning starts from a checkpoint of the same network only
    from mvtrack.errors import MvtrackError
    from mvtrack.train.trainer import checkpoint_state_dict

    state = checkpoint_state_dict(tmp_path / "run" / "best.pt", network)
    expected = load_checkpoint(tmp_path / "run" / "best.pt")["state_dict"]
    assert state.keys() == expected.keys()
    for key, value in state.items():
        torch.testing.assert_close(value, expected[key])
    with pytest.raises(MvtrackError, match="checkpoint is of network"):
        checkpoint_state_dict(tmp_path / "run" / "best.pt", NetworkConfig(view="2CH", stage=2, **TINY))


def test_imagenet_mapping_loads_a_torchvision_layout_state_dict(tmp_path):
    from monai.networks.nets import ResNet

    # torchvision's resnet50 and MONAI's share parameter names; build an RGB 1000-class one as torchvision would.
    rgb = ResNet("bottleneck", [3, 4, 6, 3], [64, 128, 256, 512], spatial_dims=2, n_input_channels=3,
                 conv1_t_size=7, conv1_t_stride=2, num_classes=1000)
    path = tmp_path / "resnet50_imagenet.pth"
    torch.save({f"module.{k}": v for k, v in rgb.state_dict().items()}, path)
    target = build_network(NetworkConfig(depth=50, width=64, max_width=512))
    mapped = imagenet_state_dict(path, target.state_dict())
    torch.testing.assert_close(mapped["conv1.weight"], rgb.state_dict()["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(mapped["layer4.2.conv3.weight"], rgb.state_dict()["layer4.2.conv3.weight"])
    assert "fc.weight" not in mapped
    target.load_state_dict(mapped, strict=False)
    with pytest.raises(ModelError, match="only"):
        imagenet_state_dict(path, build_network(NetworkConfig(**TINY)).state_dict())


def test_onnx_matches_torch_and_checksums_are_enforced(tiny_model_dir, tmp_path):
    models = ModelSet(tiny_model_dir)
    network = models.network("2CH", 1)
    images = np.random.default_rng(0).uniform(0, 300, (3, 160, 160)).astype(np.float32)
    onnx_points = network.predict(images)
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    weights = tiny_model_dir / manifest["networks"]["2ch_stage1"]["weights"]
    checkpoint = load_checkpoint(weights, manifest["networks"]["2ch_stage1"]["weights_sha256"])
    _, model = network_from_checkpoint(checkpoint)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(normalise_images(images)[:, None])).numpy()
    # fp16 storage of the .pt weights vs fp32 ONNX: agree to about a tenth of a pixel
    np.testing.assert_allclose(targets_to_points(torch_out, (160, 160)), onnx_points, atol=0.3)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    onnx_file = broken / manifest["networks"]["4ch_stage2"]["onnx"]
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="checksum mismatch"):
        ModelSet(broken).network("4CH", 2)
    with pytest.raises(ModelError, match="checksum"):
        load_checkpoint(weights, "0" * 64)


def test_training_from_an_annotated_folder(tmp_path):
    """User data: study folders with cines and annotations in the result-contract form."""
    from mvtrack.synth.generator import generate_subject
    from mvtrack.synth.writer import write_subject
    from mvtrack.train.run import run_training

    for index in range(2):
        folder = write_subject(generate_subject(8, index), tmp_path / "data", "npz")
        (folder / "truth.json").rename(folder / "annotations.json")
    network = NetworkConfig(view="2CH", stage=1, **TINY)
    summary = run_training(network, tmp_path / "run", data=tmp_path / "data", epochs=0.2, workers=1,
                           progress=False, threads=1)
    assert summary["n_train"] > 0 and summary["iterations"] > 0
    assert (tmp_path / "run" / "model" / "manifest.json").exists()
    assert ModelSet(tmp_path / "run" / "model").has("2CH", 1)


def test_mirrored_augmentation_keeps_image_order():
    from mvtrack.geometry.image_order import order_by_image

    image = np.zeros((160, 160), np.float32)
    # Two frames in image order (apex down, point 0 on the left); the second moved toward the apex.
    cine_points = np.array([[[60.0, 70.0], [100.0, 72.0]], [[61.0, 78.0], [99.0, 80.0]]])
    config = AugmentConfig(right_angle_probability=1.0, image_order=True)
    mirrored = 0
    for seed in range(40):
        moved = np.stack([augment(image, p, config, np.random.default_rng(seed))[1] for p in cine_points])
        np.testing.assert_allclose(order_by_image(moved), moved)
        matrix = random_affine(image.shape, config, np.random.default_rng(seed))
        mirrored += np.linalg.det(matrix[:2, :2]) < 0
    assert mirrored > 5  # the mirror case was exercised


def test_appearance_randomisation_changes_the_look_not_the_anatomy():
    from mvtrack.train.augment import random_shallow_convolution, randomise_appearance

    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[:118, :162]
    image = np.where((cols - 60) ** 2 + (rows - 50) ** 2 < 30**2, 1.0, 0.2).astype(np.float32)
    config = AugmentConfig(gin_probability=1.0, bigaug_probability=1.0)
    outputs = [randomise_appearance(image, config, rng) for _ in range(20)]
    for out in outputs:
        assert out.shape == image.shape and out.dtype == np.float32 and np.isfinite(out).all()
    # Different looks: the outputs are far from one another once normalised ...
    normalised = [(o - o.mean()) / o.std() for o in outputs]
    assert np.mean([np.abs(a - b).mean() for a, b in zip(normalised[:-1], normalised[1:])]) > 0.1
    # ... while a random shallow network keeps the edge where it was (the disc boundary).
    remixed = random_shallow_convolution(image, np.random.default_rng(0))
    inside, outside = remixed[50, 60], remixed[50, 130]
    assert abs(inside - outside) > 1e-3 and np.allclose(remixed[45:55, 55:65], inside, atol=abs(inside - outside) * 0.1)


def test_a_3ch_training_cache_holds_3ch_samples_only(tmp_path):
    paths = build_cache(tmp_path / "cache", synthetic_jobs(1, 5, views=("3CH",)), _synthetic_job, workers=1)
    assert set(paths) == {"3CH"}
    with np.load(paths["3CH"]) as cache:
        assert cache["s1_images"].shape[1:] == (160, 160) and len(cache["s2_points"]) > 0


def test_weight_averaging_writes_the_mean_of_the_weights_it_saw(tmp_path):
    """average_from: the weights from that point of the run on, averaged (every 10 iterations) into
    averaged.pt, a checkpoint like best.pt that differs from the last weights."""
    cache = build_cache(tmp_path / "cache", synthetic_jobs(2, 5), _synthetic_job, workers=1)
    network = NetworkConfig(view="4CH", stage=2, **TINY)
    config = TrainConfig(epochs=5, eval_every=10, val_fraction=0.5, val_samples=16, threads=1, average_from=0.0,
                         learning_rate=1e-3)
    summary = train_network(network, config, cache["4CH"], tmp_path / "run", progress=False)
    assert summary["iterations"] >= 30 and np.isfinite(summary["averaged_val_mm"])
    averaged, last = load_checkpoint(tmp_path / "run" / "averaged.pt"), load_checkpoint(tmp_path / "run" / "last.pt")
    _, model = network_from_checkpoint(averaged)  # loads as any checkpoint
    weight = next(k for k in averaged["state_dict"] if k.endswith("conv1.weight"))
    assert not torch.allclose(averaged["state_dict"][weight], last["state_dict"][weight])


def test_weight_interpolation_is_the_straight_line_between_two_networks():
    from mvtrack.train.weight_space import interpolate_state_dicts

    config = NetworkConfig(view="4CH", stage=2, depth=10, width=8, max_width=16)
    torch.manual_seed(0)
    base, tuned = build_network(config).state_dict(), build_network(config).state_dict()
    tuned = {k: v + 1.0 if v.is_floating_point() else v + 3 for k, v in tuned.items()}
    assert all(torch.equal(interpolate_state_dicts(base, tuned, 0.0)[k].to(v.dtype), v) for k, v in base.items())
    half = interpolate_state_dicts(base, tuned, 0.5)
    for name, value in base.items():
        if value.is_floating_point():
            assert torch.allclose(half[name], 0.5 * value + 0.5 * tuned[name])
        else:  # BatchNorm's counters are not averaged
            assert torch.equal(half[name], value)
    build_network(config).load_state_dict(half)
    with pytest.raises(ValueError):
        interpolate_state_dicts(base, tuned, 1.5)
    with pytest.raises(ValueError):
        interpolate_state_dicts(base, {k: v for k, v in tuned.items() if "fc" not in k and "head" not in k}, 0.5)
