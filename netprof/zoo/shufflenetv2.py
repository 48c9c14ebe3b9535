"""ShuffleNet V2 at 0.5x, 1x, 1.5x and 2x.

Paper: Ma, Zhang, Zheng, Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", arXiv 1807.11164 (Table 5 for the layers, Figure 3 (c, d) for the units).

Choices the paper leaves open:
- the stride-1 unit keeps the first half of the split as the identity and appends the
  branch after it; the stride-2 unit puts the depthwise + 1x1 shortcut branch first;
- the shuffle after the concat uses 2 groups (one per branch);
- every conv has batch norm and no bias; depthwise convs have no ReLU (as in V1 and
  MobileNet V2); the FC layer has a bias.
"""

from __future__ import annotations

import torch
from torch import nn

from netprof.zoo.layers import ConvBNAct, channel_shuffle

STEM_CHANNELS = 24
STAGE_REPEATS = (4, 8, 4)  # units per stage (the first has stride 2), paper Table 5
# output widths of stages 2, 3, 4 and of conv5 per scale, paper Table 5
WIDTHS: dict[float, tuple[int, int, int, int]] = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}


class ShuffleV2Unit(nn.Module):
    """Channel split (stride 1) or two stride-2 branches, concat, then a 2-group channel shuffle.

    Each branch outputs half of ``out_channels``, so input and output widths of every
    1x1 conv are equal (guideline G1) and no conv is grouped (G2).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f"a stride-1 unit keeps its width, got {in_channels} -> {out_channels}")
        self.stride = stride
        half = out_channels // 2
        branch_in = in_channels if stride == 2 else in_channels // 2
        self.shortcut: nn.Module = nn.Identity()
        if stride == 2:
            self.shortcut = nn.Sequential(
                ConvBNAct(in_channels, in_channels, 3, stride=2, groups=in_channels, activation=None),
                ConvBNAct(in_channels, half, 1),
            )
        self.branch = nn.Sequential(
            ConvBNAct(branch_in, half, 1),
            ConvBNAct(half, half, 3, stride=stride, groups=half, activation=None),
            ConvBNAct(half, half, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            kept, x = x.chunk(2, dim=1)
        else:
            kept = self.shortcut(x)
        return channel_shuffle(torch.cat([kept, self.branch(x)], 1), 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, scale: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        if scale not in WIDTHS:
            raise ValueError(f"scale must be one of {sorted(WIDTHS)}, got {scale}")
        *stage_widths, last = WIDTHS[scale]
        self.conv1 = ConvBNAct(3, STEM_CHANNELS, 3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = STEM_CHANNELS
        stages: list[nn.Sequential] = []
        for repeats, out in zip(STAGE_REPEATS, stage_widths):
            units = [ShuffleV2Unit(channels, out, stride=2)]
            units += [ShuffleV2Unit(out, out) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            channels = out
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = ConvBNAct(channels, last, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def shufflenet_v2(*, scale: float = 1.0, num_classes: int = 1000) -> ShuffleNetV2:
    """ShuffleNet V2 ``scale``x, for ``scale`` in 0.5, 1.0, 1.5, 2.0."""
    return ShuffleNetV2(scale=scale, num_classes=num_classes)
