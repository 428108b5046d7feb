"""Initialise the paper's ResNet-50 from a local ImageNet checkpoint (never downloaded).

torchvision and timm ResNet-50 state dicts use the same parameter names as MONAI's ResNet
(conv1, bn1, layer1.0.conv1, ..., layer1.0.downsample.0/1, fc). The RGB first convolution is
summed over its input channels to take one grayscale channel; the 1000-class head is dropped.
"""

from __future__ import annotations

from pathlib import Path

from mvtrack.errors import ModelError

_PREFIXES = ("module.", "model.", "backbone.", "encoder.")


def imagenet_state_dict(path: Path | str, target_state: dict) -> dict:
    """Map a torchvision/timm ResNet state dict onto ``target_state`` (a MONAI ResNet's state dict).

    Returns the subset of tensors whose names and (after the grayscale sum) shapes match; raises
    ModelError if fewer than 90 % of the target's convolution weights are found.
    """
    import torch

    loaded = torch.load(path, weights_only=True, map_location="cpu")
    if isinstance(loaded, dict) and "state_dict" in loaded and isinstance(loaded["state_dict"], dict):
        loaded = loaded["state_dict"]
    mapped = {}
    for name, tensor in loaded.items():
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name.startswith("fc.") or name not in target_state:
            continue
        if name == "conv1.weight" and tensor.ndim == 4 and tensor.shape[1] == 3:
            tensor = tensor.sum(dim=1, keepdim=True)
        if tuple(tensor.shape) == tuple(target_state[name].shape):
            mapped[name] = tensor.float()
    conv_names = [n for n, t in target_state.items() if n.endswith("weight") and t.ndim == 4]
    found = sum(n in mapped for n in conv_names)
    if found < 0.9 * len(conv_names):
        raise ModelError(f"{path}: only {found} of {len(conv_names)} convolution weights match this network "
                         "(ImageNet initialisation needs the paper's ResNet-50: --depth 50 --width 64)")
    return mapped
