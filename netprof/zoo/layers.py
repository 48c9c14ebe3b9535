"""Building blocks shared by more than one zoo family.

Kept apart so each family module reads as its paper's table and nothing is copied between families:
MobileNet V2 and V3 share ``InvertedResidual``; both ShuffleNets share ``channel_shuffle``; every
family builds on ``ConvBNAct``; the MobileNets and MobileViT end in ``PooledClassifier``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor``, never more than 10% below it.

    The MobileNet V2/V3 reference code (TensorFlow) scales widths this way so that
    channel counts suit vector units; the papers leave the rounding unstated.
    """
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet V1, Section 3.1).

    A reshape to (groups, channels per group), a transpose, and a flatten back:
    channel ``i`` of group ``j`` moves to position ``i * groups + j``.
    """
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w)
    return x.transpose(1, 2).reshape(n, c, h, w)


class ConvBNAct(nn.Sequential):
    """Convolution without bias, batch norm, then an optional activation ("same" padding)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        activation: Activation | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=(kernel_size - 1) // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
        ]
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., arXiv 1709.01507) with the MobileNet V3 gate.

    Global average pool, 1x1 conv down to ``squeeze_channels``, ReLU, 1x1 conv back up,
    hard sigmoid, then a per-channel rescale of the input.
    """

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))
        return x * scale


class InvertedResidual(nn.Module):
    """MobileNet V2 inverted bottleneck: expand 1x1, depthwise kxk, optional SE, linear project 1x1.

    The expansion is skipped when it would not change the width (expansion factor 1),
    and the identity shortcut is added only when stride is 1 and the width is kept.
    MobileNet V3 reuses the block with its own kernel sizes, activations and SE.
    """

    def __init__(
        self,
        in_channels: int,
        expanded_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        activation: Activation = nn.ReLU6,
        squeeze_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.use_shortcut = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expanded_channels != in_channels:
            layers.append(ConvBNAct(in_channels, expanded_channels, 1, activation=activation))
        layers.append(
            ConvBNAct(
                expanded_channels,
                expanded_channels,
                kernel_size,
                stride=stride,
                groups=expanded_channels,
                activation=activation,
            )
        )
        if squeeze_channels is not None:
            layers.append(SqueezeExcite(expanded_channels, squeeze_channels))
        layers.append(ConvBNAct(expanded_channels, out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_shortcut else out


class PooledClassifier(nn.Module):
    """``features``, global average pooling, then ``classifier``: the end of every MobileNet and of
    MobileViT, under the module paths ``features``, ``pool`` and ``classifier``."""

    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
