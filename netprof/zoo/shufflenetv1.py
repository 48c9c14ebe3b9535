"""ShuffleNet V1 with g = 1, 2, 3, 4, 8 groups and scale factors s.

Paper: Zhang, Zhou, Lin, Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural Network
for Mobile Devices", arXiv 1707.01083 (Table 1 for the layers, Figure 2 for the unit).

Choices the paper leaves open:
- the bottleneck width is a quarter of the stage's output width, also in the stride-2 unit
  whose branch outputs only (out - in) channels;
- the first unit of stage 2 has an ungrouped first 1x1 conv (Section 3.3), so it is not
  followed by a channel shuffle either: one group has nothing to interleave;
- every conv has batch norm and no bias; the FC layer has a bias;
- the paper's "ShuffleNet s x" scales the filter counts of the 1x network by s without saying
  whether conv1 is included; here it is. Scaled widths are rounded half up, conv1 to a multiple
  of g and stage 2 to a multiple of 4 g (stages 3 and 4 double it), so the bottleneck (out / 4)
  and the stride-2 branch (out - in) both split into g equal groups. At s = 1 the widths are
  Table 1's exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from netprof.zoo.layers import ConvBNAct, channel_shuffle

STEM_CHANNELS = 24
STAGE_REPEATS = (4, 8, 4)  # units per stage (the first has stride 2), paper Table 1
# output width of stage 2 at s = 1; stages 3 and 4 double it, paper Table 1
STAGE2_CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}


class ShuffleV1Unit(nn.Module):
    """Group 1x1 + ReLU, channel shuffle, depthwise 3x3, group 1x1; then add (stride 1) or concat.

    The stride-2 unit concatenates a 3x3 average-pooled shortcut to a branch of
    ``out_channels - in_channels`` channels; the ReLU comes after the merge in both cases.
    """

    def __init__(
        self, in_channels: int, out_channels: int, groups: int, stride: int = 1, group_first: bool = True
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.shuffle_groups = groups if group_first else 1
        mid = out_channels // 4
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        self.compress = ConvBNAct(in_channels, mid, 1, groups=self.shuffle_groups)
        self.depthwise = ConvBNAct(mid, mid, 3, stride=stride, groups=mid, activation=None)
        self.expand = ConvBNAct(mid, branch_out, 1, groups=groups, activation=None)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.compress(x)
        if self.shuffle_groups > 1:
            out = channel_shuffle(out, self.shuffle_groups)
        out = self.expand(self.depthwise(out))
        if self.stride == 2:
            return self.relu(torch.cat([self.shortcut(x), out], 1))
        return self.relu(x + out)


def round_to(value: float, multiple: int) -> int:
    """``value`` rounded half up to a multiple of ``multiple``, at least ``multiple``."""
    return max(multiple, int(value / multiple + 0.5) * multiple)


def widths(groups: int, scale: float) -> tuple[int, list[int]]:
    """Output widths of conv1 and of stages 2-4 at scale ``scale`` (see the module docstring)."""
    stage2 = round_to(STAGE2_CHANNELS[groups] * scale, 4 * groups)
    return round_to(STEM_CHANNELS * scale, groups), [stage2, 2 * stage2, 4 * stage2]


class ShuffleNetV1(nn.Module):
    def __init__(self, groups: int = 3, scale: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        if groups not in STAGE2_CHANNELS:
            raise ValueError(f"groups must be one of {sorted(STAGE2_CHANNELS)}, got {groups}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        channels, stage_widths = widths(groups, scale)
        self.conv1 = ConvBNAct(3, channels, 3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages: list[nn.Sequential] = []
        for stage, (repeats, out) in enumerate(zip(STAGE_REPEATS, stage_widths)):
            units = [ShuffleV1Unit(channels, out, groups, stride=2, group_first=stage > 0)]
            units += [ShuffleV1Unit(out, out, groups) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            channels = out
        self.stage2, self.stage3, self.stage4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def shufflenet_v1(*, groups: int = 3, scale: float = 1.0, num_classes: int = 1000) -> ShuffleNetV1:
    """ShuffleNet V1 ``scale``x with ``groups`` groups in its pointwise convs."""
    return ShuffleNetV1(groups=groups, scale=scale, num_classes=num_classes)
