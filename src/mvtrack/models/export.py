"""Turn training checkpoints into a model folder (ONNX + fp16 weights + manifest). Needs torch."""

from __future__ import annotations

import json
from pathlib import Path

from mvtrack.models.network import NetworkConfig, build_network
from mvtrack.models.store import MANIFEST, sha256_of


def load_checkpoint(path: Path | str, expected_sha256: str | None = None) -> dict:
    """Load a checkpoint dict with ``torch.load(weights_only=True)``, checking its sha256 first."""
    import torch

    from mvtrack.errors import ModelError

    if expected_sha256 and sha256_of(path) != expected_sha256:
        raise ModelError(f"{path}: checksum mismatch (corrupt or modified weights)")
    return torch.load(path, weights_only=True, map_location="cpu")


def network_from_checkpoint(checkpoint: dict):
    """(NetworkConfig, torch model in eval mode with fp32 weights) from a checkpoint dict."""
    config = NetworkConfig(**checkpoint["network"])
    model = build_network(config)
    model.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
    return config, model.eval()


def export_onnx(model, config: NetworkConfig, path: Path | str) -> None:
    import torch

    height, width = config.input_shape
    dummy = torch.zeros(1, 1, height, width)
    torch.onnx.export(model, dummy, str(path), input_names=["image"], output_names=["points"],
                      dynamic_axes={"image": {0: "batch"}, "points": {0: "batch"}}, opset_version=17, dynamo=False)


def export_model_dir(checkpoints: dict[str, Path | str], out_dir: Path | str, model_id: str, notes: dict | None = None) -> Path:
    """Write a model folder from ``{network name: checkpoint path}``; returns the manifest path."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"model_id": model_id, "networks": {}, **(notes or {})}
    for name, checkpoint_path in sorted(checkpoints.items()):
        checkpoint = load_checkpoint(checkpoint_path)
        config, model = network_from_checkpoint(checkpoint)
        onnx_path = out_dir / f"{config.name}.onnx"
        export_onnx(model, config, onnx_path)
        weights_path = out_dir / f"{config.name}.pt"
        torch.save({"network": config.to_dict(), "train": checkpoint.get("train"),
                    "state_dict": {k: v.half() for k, v in model.state_dict().items()},
                    "val_mm": checkpoint.get("best_val_mm"), "iteration": checkpoint.get("iteration")}, weights_path)
        manifest["networks"][config.name] = {
            "network": {**config.to_dict(), "input_shape": list(config.input_shape)},
            "onnx": onnx_path.name, "onnx_sha256": sha256_of(onnx_path),
            "weights": weights_path.name, "weights_sha256": sha256_of(weights_path),
            "val_mm": checkpoint.get("best_val_mm"), "iteration": checkpoint.get("iteration"),
            "n_train": checkpoint.get("n_train"),
        }
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=1))
    return path
