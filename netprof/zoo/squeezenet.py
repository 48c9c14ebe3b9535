"""SqueezeNet 1.0 and 1.1.

Paper: Iandola, Han, Moskewicz, Ashraf, Dally, Keutzer, "SqueezeNet: AlexNet-level accuracy
with 50x fewer parameters and <0.5MB model size", arXiv 1602.07360 (Table 1 for 1.0).
Version 1.1 is not in the paper; it comes from the authors' release notes
(github.com/forresti/SqueezeNet, "SqueezeNet_v1.1"): a 3x3/2 conv1 with 64 filters and the
max-pools moved earlier (after conv1, fire3, fire5), "2.4x less computation" at equal accuracy.

Choices the paper leaves open, taken from the authors' Caffe release:
- max-pooling rounds its output size up (Caffe's ceil mode), so 224 -> 109 -> 54 after conv1;
- dropout 0.5 after fire9 (Section 3.3.1 says so), a ReLU after conv10, then global average pooling;
- the paper's input is 227x227; the zoo is measured at the 224x224 used everywhere else.
"""

from __future__ import annotations

import torch
from torch import nn

# (squeeze, expand 1x1, expand 3x3) per fire module; "M" is a 3x3/2 max-pool.
FireSpec = tuple[int, int, int]
CONFIGS: dict[str, list[FireSpec | str]] = {
    "1_0": ["M", (16, 64, 64), (16, 64, 64), (32, 128, 128), "M",
            (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), "M", (64, 256, 256)],
    "1_1": ["M", (16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M",
            (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)],
}  # fmt: skip
STEMS = {"1_0": (96, 7), "1_1": (64, 3)}  # conv1 (filters, kernel), stride 2


class FireModule(nn.Module):
    """Squeeze 1x1 + ReLU, then expand 1x1 and 3x3 in parallel, each + ReLU, concatenated."""

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, 1)
        self.squeeze_relu = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_relu = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_relu(self.squeeze(x))
        return torch.cat([self.expand1x1_relu(self.expand1x1(s)), self.expand3x3_relu(self.expand3x3(s))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        stem_channels, stem_kernel = STEMS[version]
        layers: list[nn.Module] = [nn.Conv2d(3, stem_channels, stem_kernel, stride=2), nn.ReLU()]
        channels = stem_channels
        for spec in CONFIGS[version]:
            if spec == "M":
                layers.append(nn.MaxPool2d(3, stride=2, ceil_mode=True))
            else:
                squeeze, e1, e3 = spec
                layers.append(FireModule(channels, squeeze, e1, e3))
                channels = e1 + e3
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv2d(channels, num_classes, 1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def squeezenet1_0(*, num_classes: int = 1000) -> SqueezeNet:
    """SqueezeNet 1.0 (paper Table 1): 1,248,424 parameters."""
    return SqueezeNet("1_0", num_classes=num_classes)


def squeezenet1_1(*, num_classes: int = 1000) -> SqueezeNet:
    """SqueezeNet 1.1: same parameters budget, 2.4x fewer multiply-adds than 1.0."""
    return SqueezeNet("1_1", num_classes=num_classes)
