"""The small models the golden files of ``tests/test_formats.py`` are made of.

``bottleneck``: 1x1 convs 64 -> 16 -> 64 over 56x56, a channel ratio of 4 that violates
ShuffleNet V2's G1 (equal channel width minimizes memory access cost).
``balanced``: the same FLOPs budget at equal width (32 -> 32 -> 32): no G1 finding.
``bottleneck_twice``: the bottleneck plus a second, wider one (64 -> 8 -> 64): one new finding.
"""

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, outer: int, inner: int):
        super().__init__()
        self.reduce = nn.Conv2d(outer, inner, 1, bias=False)
        self.expand = nn.Conv2d(inner, outer, 1, bias=False)

    def forward(self, x):
        return self.expand(self.reduce(x))


class Net(nn.Module):
    def __init__(self, *blocks: nn.Module):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)


def bottleneck():
    return Net(Bottleneck(64, 16)), torch.randn(1, 64, 56, 56)


def balanced():
    return Net(Bottleneck(32, 32)), torch.randn(1, 32, 56, 56)


def bottleneck_twice():
    return Net(Bottleneck(64, 16), Bottleneck(64, 8)), torch.randn(1, 64, 56, 56)
