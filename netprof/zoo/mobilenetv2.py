"""MobileNet V2.

Paper: Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", arXiv 1801.04381 (Table 2 for the layers, Table 1 for the block).

Choices the paper leaves open, taken from the authors' TensorFlow release:
- scaled widths are rounded to a multiple of 8 (``make_divisible``); the last 1x1 conv keeps
  1280 channels for width multipliers below 1 (Section 6.1 says so) and scales above 1;
- the final "conv2d 1x1, k" of Table 2 is a linear layer after the pool, with dropout 0.2;
- the first bottleneck (t = 1) has no expansion conv, since it would be an identity width.
"""

from __future__ import annotations

from torch import nn

from netprof.zoo.layers import ConvBNAct, InvertedResidual, PooledClassifier, make_divisible

STEM_CHANNELS = 32
LAST_CHANNELS = 1280
# (expansion t, output channels c, repeats n, first stride s), paper Table 2.
STAGES: list[tuple[int, int, int, int]] = [
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
]  # fmt: skip


class MobileNetV2(PooledClassifier):
    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2) -> None:
        channels = make_divisible(STEM_CHANNELS * width_mult)
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2, activation=nn.ReLU6)]
        for t, c, n, s in STAGES:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, channels * t, out, 3, s if i == 0 else 1, nn.ReLU6))
                channels = out
        last = make_divisible(LAST_CHANNELS * max(1.0, width_mult))
        layers.append(ConvBNAct(channels, last, 1, activation=nn.ReLU6))
        super().__init__(
            nn.Sequential(*layers), nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        )


def mobilenet_v2(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV2:
    """MobileNet V2 at width multiplier ``width_mult``."""
    return MobileNetV2(width_mult=width_mult, num_classes=num_classes)
