"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant: no squeeze-excitation, ReLU6) from MONAI's blocks.

MONAI's ``EfficientNet`` built from EfficientNet-B0's block strings without the ``se`` option holds
exactly the tensors of the Lite0 ImageNet checkpoint (lukemelas-style names: ``_conv_stem``,
``_bn0``, ``_blocks.N...``, ``_conv_head``, ``_bn1``, ``_fc``); only its swish activations are swapped for
ReLU6. MONAI nests the blocks by stage (``_blocks.S.N``, N still the flat block number) where the
checkpoint numbers them flat (``_blocks.N``): :func:`lite0_block_names` gives the map. Stage outputs and their strides (160 x 160
input): stage 2 (40 channels) stride 8, stage 4 (112) stride 16, stage 6 (320) stride 32.
"""

from __future__ import annotations

#: EfficientNet-B0's block strings without squeeze-excitation (Lite0: width and depth 1.0, as B0).
LITE0_BLOCKS = ("r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r2_k5_s22_e6_i24_o40", "r3_k3_s22_e6_i40_o80",
                "r3_k5_s11_e6_i80_o112", "r4_k5_s22_e6_i112_o192", "r1_k3_s11_e6_i192_o320")
#: (stage index, channels) of the features at strides 8, 16 and 32.
LITE0_FEATURES = ((2, 40), (4, 112), (6, 320))


def lite0_repeats() -> list[int]:
    """Blocks per stage (1, 2, 2, 3, 3, 4, 1)."""
    return [int(block.split("_")[0][1:]) for block in LITE0_BLOCKS]


def lite0_block_names() -> dict[str, str]:
    """Flat checkpoint block prefix -> MONAI's per-stage prefix: ``_blocks.3.`` -> ``_blocks.2.3.``."""
    names, flat = {}, 0
    for stage, repeats in enumerate(lite0_repeats()):
        for _ in range(repeats):
            names[f"_blocks.{flat}."] = f"_blocks.{stage}.{flat}."
            flat += 1
    return names


def build_efficientnet_lite0(in_channels: int = 1, image_size: int = 160, num_classes: int = 1000):
    """MONAI EfficientNet with Lite0's blocks and ReLU6 activations (random weights)."""
    from monai.networks.nets.efficientnet import EfficientNet
    from torch import nn

    net = EfficientNet(list(LITE0_BLOCKS), spatial_dims=2, in_channels=in_channels, num_classes=num_classes,
                       width_coefficient=1.0, depth_coefficient=1.0, dropout_rate=0.2, image_size=image_size,
                       drop_connect_rate=0.2)
    net._swish = nn.ReLU6()
    for stage in net._blocks:
        for block in stage:
            block._swish = nn.ReLU6()
    return net


def lite0_features(net, x):
    """The stride-8, -16 and -32 features of a :func:`build_efficientnet_lite0` network."""
    x = net._swish(net._bn0(net._conv_stem(net._conv_stem_padding(x))))
    wanted = {stage for stage, _ in LITE0_FEATURES}
    features = []
    for stage, blocks in enumerate(net._blocks):
        x = blocks(x)
        if stage in wanted:
            features.append(x)
    return features


def lite0_state_dict(loaded: dict, target_state: dict) -> dict:
    """Map a Lite0 ImageNet state dict (lukemelas-style names) onto ``target_state``.

    Flat block names become MONAI's per-stage names, the RGB stem is summed over its input channels
    when the target takes one channel (grayscale, as :mod:`mvtrack.models.imagenet` does for the
    ResNet); tensors the target lacks (e.g. the 1000-class ``_fc``) or whose shapes differ are left
    out. Returns the mapped subset.
    """
    renames = lite0_block_names()
    mapped = {}
    for name, tensor in loaded.items():
        for flat, staged in renames.items():
            if name.startswith(flat):
                name = staged + name[len(flat):]
                break
        if name not in target_state:
            continue
        if name == "_conv_stem.weight" and tensor.shape[1] == 3 and target_state[name].shape[1] == 1:
            tensor = tensor.sum(dim=1, keepdim=True)
        if tuple(tensor.shape) == tuple(target_state[name].shape):
            mapped[name] = tensor.float() if tensor.is_floating_point() else tensor
    return mapped
