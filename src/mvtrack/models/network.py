"""ResNet regressors of the two MV points (4 numbers) from one grayscale frame, from MONAI.

The paper's network is ResNet-50 (``NetworkConfig(depth=50, width=64)``); depth and width are
configurable so a CPU-trained model can be narrower. The first convolution has stride 2 as in the
standard ResNet (MONAI's default stride 1 is 4-5x slower).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mvtrack.geometry import CROP_SHAPE, STAGE1_SIZE

_LAYERS = {10: ("basic", [1, 1, 1, 1]), 18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
           50: ("bottleneck", [3, 4, 6, 3])}


@dataclass(frozen=True)
class NetworkConfig:
    """What defines one network: its view, its stage and its size."""

    view: str = "2CH"  # "2CH" or "4CH"
    stage: int = 1  # 1: whole frame at 160 x 160; 2: standardised 118 x 162 crop
    depth: int = 18  # 10, 18, 34 or 50 (paper: 50)
    width: int = 64  # channels after the first convolution (paper: 64); doubles at each of 4 stages ...
    max_width: int = 512  # ... up to this cap (paper: 512); a cap shrinks the last stages most

    @property
    def input_shape(self) -> tuple[int, int]:
        return (STAGE1_SIZE, STAGE1_SIZE) if self.stage == 1 else CROP_SHAPE

    @property
    def name(self) -> str:
        return f"{self.view.lower()}_stage{self.stage}"

    def to_dict(self) -> dict:
        return asdict(self)


PAPER_CONFIG = dict(depth=50, width=64, max_width=512)


def build_network(config: NetworkConfig):
    """A MONAI 2D ResNet with 1 input channel and 4 outputs (x1, y1, x2, y2 in [-1, 1] units)."""
    from monai.networks.nets import ResNet

    if config.depth not in _LAYERS:
        raise ValueError(f"depth must be one of {sorted(_LAYERS)}")
    block, layers = _LAYERS[config.depth]
    widths = [min(config.width * 2**i, config.max_width) for i in range(4)]
    return ResNet(
        block=block, layers=layers, block_inplanes=widths, spatial_dims=2, n_input_channels=1,
        conv1_t_size=7, conv1_t_stride=2, num_classes=4,
    )
