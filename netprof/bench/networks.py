"""The networks of the ShuffleNet V2 guideline experiments (Ma et al., ECCV 2018, Tables 1-4).

Each network is ``BLOCKS`` (10) identical blocks applied to a ``RESOLUTION`` x ``RESOLUTION`` (56x56)
feature map and keeps its weights' random initialisation, as the paper states. What the paper leaves
open, and what is chosen here:

- **No BatchNorm, no conv bias, anywhere.** The paper lists only the convolutions (and, in Table 4, the
  ReLU and the shortcut). At inference BN folds into the conv weights, and a bias or BN would add the
  same element-wise op to every row of a table, diluting the differences the tables are about.
- **No activation between the convs of Tables 1-3**: those blocks are bare convolutions.
- **Table 2, g=8 at x1**: the paper's c=180 is not divisible by 8. The width is rounded to the multiple
  of g whose mult_adds are closest to the g=1 row's (184: +3.3%, where 176 would be -5.5%); every other
  width of the paper's CPU column divides by its g and is used unchanged.
- **Table 3 fragment width**: n fragments of width ``round(c / sqrt(n))`` keep the mult_adds of the
  1-fragment block (n * (c/sqrt(n))^2 = c^2), in series and in parallel alike. The whole network then
  runs at that width, so the blocks stack. A parallel block feeds its input to every branch and sums the
  branches with n - 1 element-wise adds, as the paper says.
- **Table 4 widths**: ``c`` is the bottleneck block's input and output width and the 1x1 -> 3x3 -> 1x1
  path runs at ``c // 4`` (ResNet's expansion of 4). The paper's ARM speeds support this reading: at
  c=32 its Table 4 network runs at 57 images/sec, close to Table 1's 76 for 2 * 32^2 mult-adds per
  pixel per block, which fits the c/4 bottleneck's 1.06 * c^2 (with its slower 3x3 conv) and not a
  c-wide bottleneck's 11 * c^2. ReLU follows the first two convs and the shortcut add, as in ResNet;
  "ReLU removed" removes all three, "shortcut removed" removes the add only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

BLOCKS = 10
RESOLUTION = 56


def example_input(channels: int, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, channels, RESOLUTION, RESOLUTION)


def _conv1x1(c_in: int, c_out: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=1, groups=groups, bias=False)


class PointwisePair(nn.Module):
    """Table 1 block: conv1x1 c1 -> c2, then conv1x1 c2 -> c1."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.expand = _conv1x1(c1, c2)
        self.reduce = _conv1x1(c2, c1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.expand(x))


class Fragmented(nn.Module):
    """Table 3 block: ``fragments`` conv1x1 of one width, chained in series or summed in parallel."""

    def __init__(self, width: int, fragments: int, parallel: bool) -> None:
        super().__init__()
        self.parallel = parallel
        self.convs = nn.ModuleList(_conv1x1(width, width) for _ in range(fragments))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            out = self.convs[0](x)
            for conv in self.convs[1:]:
                out = out + conv(x)
            return out
        for conv in self.convs:
            x = conv(x)
        return x


class Bottleneck(nn.Module):
    """Table 4 block: ResNet's 1x1 -> 3x3 -> 1x1 bottleneck, with its ReLUs and shortcut optional."""

    def __init__(self, channels: int, relu: bool, shortcut: bool) -> None:
        super().__init__()
        inner = bottleneck_width(channels)
        self.shortcut = shortcut
        self.reduce = _conv1x1(channels, inner)
        self.conv3x3 = nn.Conv2d(inner, inner, kernel_size=3, padding=1, bias=False)
        self.expand = _conv1x1(inner, channels)
        self.act = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.reduce(x))
        out = self.act(self.conv3x3(out))
        out = self.expand(out)
        if self.shortcut:
            out = out + x
        return self.act(out)


def fragment_width(channels: int, fragments: int) -> int:
    """Width at which ``fragments`` conv1x1 cost what one conv1x1 of ``channels`` costs."""
    return round(channels / math.sqrt(fragments))


def grouped_width(channels: int, groups: int, reference: int) -> int:
    """``channels`` if ``groups`` divides it, else the nearest multiple of ``groups`` (below or above)
    whose mult_adds per pixel, width^2 / groups, are closest to ``reference``^2 (the g=1 row's)."""
    if channels % groups == 0:
        return channels
    below = channels // groups * groups
    candidates = [c for c in (below, below + groups) if c > 0]
    return min(candidates, key=lambda c: abs(c * c / groups - reference * reference))


def bottleneck_width(channels: int) -> int:
    return max(1, channels // 4)


def g1_network(c1: int, c2: int, blocks: int = BLOCKS) -> nn.Sequential:
    """Table 1 (G1): input and output c1 channels."""
    return nn.Sequential(*(PointwisePair(c1, c2) for _ in range(blocks)))


def g2_network(channels: int, groups: int, blocks: int = BLOCKS) -> nn.Sequential:
    """Table 2 (G2): ``blocks`` pointwise group convs channels -> channels."""
    return nn.Sequential(*(_conv1x1(channels, channels, groups) for _ in range(blocks)))


def g3_network(width: int, fragments: int, parallel: bool, blocks: int = BLOCKS) -> nn.Sequential:
    """Table 3 (G3): ``width`` is the fragments' width (see ``fragment_width``)."""
    return nn.Sequential(*(Fragmented(width, fragments, parallel) for _ in range(blocks)))


def g4_network(channels: int, relu: bool, shortcut: bool, blocks: int = BLOCKS) -> nn.Sequential:
    """Table 4 (G4): ``channels`` is the block's input and output width."""
    return nn.Sequential(*(Bottleneck(channels, relu, shortcut) for _ in range(blocks)))


BUILDERS = {
    "g1_network": g1_network,
    "g2_network": g2_network,
    "g3_network": g3_network,
    "g4_network": g4_network,
}
