"""ResNet regressors of the two MV points (4 numbers) from one grayscale frame, from MONAI.

The paper's network is ResNet-50 (``NetworkConfig(depth=50, width=64)``); depth and width are
configurable so a CPU-trained model can be narrower. The first convolution has stride 2 as in the
standard ResNet (MONAI's default stride 1 is 4-5x slower). ``backbone="efficientnet-lite0"`` takes
EfficientNet-Lite0 instead (:mod:`mvtrack.models.efficientnet_lite`; ImageNet weights for it:
:func:`mvtrack.models.imagenet.lite0_imagenet_state_dict`), with the soft-argmax head on its
stride-8/16/32 features; depth, width and max_width are then unused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mvtrack.geometry import CROP_SHAPE, STAGE1_SIZE

BACKBONES = ("resnet", "efficientnet-lite0")
_LAYERS = {10: ("basic", [1, 1, 1, 1]), 18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
           50: ("bottleneck", [3, 4, 6, 3])}


@dataclass(frozen=True)
class NetworkConfig:
    """What defines one network: its view, its stage and its size."""

    view: str = "2CH"  # "2CH", "4CH" or "3CH"
    stage: int = 1  # 1: whole frame at 160 x 160; 2: standardised 118 x 162 crop
    depth: int = 18  # 10, 18, 34 or 50 (paper: 50)
    width: int = 64  # channels after the first convolution (paper: 64); doubles at each of 4 stages ...
    max_width: int = 512  # ... up to this cap (paper: 512); a cap shrinks the last stages most
    head: str = "fc"  # "fc": pooled features -> 4 numbers (paper); "softargmax": heatmaps -> expected x, y
    backbone: str = "resnet"  # "resnet" (MONAI ResNet of depth / width) or "efficientnet-lite0" (softargmax head only)

    @property
    def input_shape(self) -> tuple[int, int]:
        return (STAGE1_SIZE, STAGE1_SIZE) if self.stage == 1 else CROP_SHAPE

    @property
    def name(self) -> str:
        return f"{self.view.lower()}_stage{self.stage}"

    def to_dict(self) -> dict:
        """The fields; ``backbone`` only when it is not the ResNet, so that the dicts in checkpoints and
        manifests written before it existed still compare equal."""
        fields = asdict(self)
        if fields["backbone"] == "resnet":
            del fields["backbone"]
        return fields


PAPER_CONFIG = dict(depth=50, width=64, max_width=512)


def build_network(config: NetworkConfig):
    """A MONAI 2D ResNet with 1 input channel and 4 outputs (x1, y1, x2, y2 in [-1, 1] units)."""
    from monai.networks.nets import ResNet

    if config.backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}")
    if config.head not in ("fc", "softargmax"):
        raise ValueError("head must be 'fc' or 'softargmax'")
    if config.backbone == "efficientnet-lite0":
        return _lite0_network(config)
    if config.depth not in _LAYERS:
        raise ValueError(f"depth must be one of {sorted(_LAYERS)}")
    block, layers = _LAYERS[config.depth]
    widths = [min(config.width * 2**i, config.max_width) for i in range(4)]
    resnet = ResNet(
        block=block, layers=layers, block_inplanes=widths, spatial_dims=2, n_input_channels=1,
        conv1_t_size=7, conv1_t_stride=2, num_classes=4,
    )
    if config.head == "fc":
        return resnet
    expansion = 4 if block == "bottleneck" else 1
    return _soft_argmax_network(resnet, [w * expansion for w in widths[1:]], _resnet_features)


def _resnet_features(b, x):
    """A MONAI ResNet's features at strides 8, 16 and 32 (layer2, layer3, layer4)."""
    x = b.maxpool(b.act(b.bn1(b.conv1(x))))
    f2 = b.layer2(b.layer1(x))
    f3 = b.layer3(f2)
    return [f2, f3, b.layer4(f3)]


def _lite0_network(config: NetworkConfig):
    """EfficientNet-Lite0 (one input channel) with the soft-argmax head; its 1280-channel head
    convolution and classifier are dropped (the head reads the stride-8/16/32 stage outputs)."""
    from torch import nn

    from mvtrack.models.efficientnet_lite import LITE0_FEATURES, build_efficientnet_lite0, lite0_features

    if config.head != "softargmax":
        raise ValueError("the efficientnet-lite0 backbone has the softargmax head only")
    net = build_efficientnet_lite0(in_channels=1, image_size=max(config.input_shape))
    for name in ("_conv_head", "_conv_head_padding", "_bn1", "_avg_pooling", "_dropout", "_fc"):
        setattr(net, name, nn.Identity())
    return _soft_argmax_network(net, [channels for _, channels in LITE0_FEATURES], lite0_features)


def _soft_argmax_network(backbone, channels: list[int], features, n_points: int = 2):
    """The backbone's features at strides 8, 16 and 32 (``features(backbone, x)``) merged at stride 8
    into one heatmap per point; each point is the expectation of the coordinate grid under its
    heatmap's softmax (DSNT-style), in the same normalised units as the plain head."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SoftArgmaxResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            merged = channels[0]
            self.lateral = nn.ModuleList([nn.Conv2d(c, merged, 1) for c in channels])
            self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(merged, merged, 3, padding=1), nn.BatchNorm2d(merged),
                                      nn.ReLU(), nn.Conv2d(merged, n_points, 1))

        def forward(self, x):
            f2, f3, f4 = features(self.backbone, x)
            size = f2.shape[-2:]
            merged = self.lateral[0](f2) + F.interpolate(self.lateral[1](f3), size=size, mode="bilinear",
                                                         align_corners=False) + F.interpolate(
                self.lateral[2](f4), size=size, mode="bilinear", align_corners=False)
            heat = self.head(merged)  # (B, P, h, w)
            batch, points, height, width = heat.shape
            prob = torch.softmax(heat.flatten(2), dim=-1).view(batch, points, height, width)
            grid_x = (torch.arange(width, dtype=x.dtype, device=x.device) + 0.5) / width * 2 - 1
            grid_y = (torch.arange(height, dtype=x.dtype, device=x.device) + 0.5) / height * 2 - 1
            ex = (prob.sum(2) * grid_x).sum(-1)
            ey = (prob.sum(3) * grid_y).sum(-1)
            return torch.stack([ex, ey], dim=-1).flatten(1)  # (B, 4): x1, y1, x2, y2

    return SoftArgmaxResNet()
