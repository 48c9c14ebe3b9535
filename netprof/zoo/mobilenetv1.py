"""MobileNet V1 with the width multiplier alpha.

Paper: Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto, Adam, "MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications", arXiv 1704.04861 (Table 1).

The resolution multiplier rho is not a property of the model: the network ends in a global
average pool, so rho is applied by feeding 192, 160 or 128 pixel inputs instead of 224.

Choices the paper leaves open or gets wrong:
- Table 1 marks the last depthwise conv "s2"; it is stride 1 (the feature map stays 7x7);
- every conv is followed by batch norm (Section 3.2) and has no bias; the FC layer has one;
- scaled widths are ``int(alpha * c)``, exact for alpha = 1, 0.75, 0.5, 0.25; no dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from netprof.zoo.layers import ConvBNAct, PooledClassifier

STEM_CHANNELS = 32
# (output channels, stride) of the 13 depthwise-separable blocks, paper Table 1.
BLOCKS: list[tuple[int, int]] = [
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
]  # fmt: skip


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU (paper Figure 3)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = ConvBNAct(in_channels, in_channels, 3, stride=stride, groups=in_channels)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class MobileNetV1(PooledClassifier):
    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000) -> None:
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        channels = int(width_mult * STEM_CHANNELS)
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2)]
        for out, stride in BLOCKS:
            out = int(width_mult * out)
            layers.append(DepthwiseSeparable(channels, out, stride))
            channels = out
        super().__init__(nn.Sequential(*layers), nn.Linear(channels, num_classes))


def mobilenet_v1(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    """MobileNet V1 at width multiplier ``width_mult`` (the paper's alpha)."""
    return MobileNetV1(width_mult=width_mult, num_classes=num_classes)
