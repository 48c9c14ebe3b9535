"""MobileNet V3 Large and Small.

Paper: Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le, Adam,
"Searching for MobileNetV3", arXiv 1905.02244 (Table 1: Large, Table 2: Small).

Choices the paper leaves open, taken from the authors' TensorFlow release:
- the squeeze-and-excite bottleneck is 1/4 of the expansion width (Section 5.3) rounded to a
  multiple of 8, sits after the depthwise conv, and gates with a hard sigmoid;
- scaled widths are rounded to a multiple of 8 (``make_divisible``);
- the two "NBN" 1x1 convs after the pool act on a 1x1 map, so they are linear layers; the
  first is followed by h-swish and dropout 0.2.
"""

from __future__ import annotations

from torch import nn

from netprof.zoo.layers import ConvBNAct, InvertedResidual, PooledClassifier, make_divisible

# (kernel, expansion width, output width, squeeze-excite, activation, stride) per bneck row.
Row = tuple[int, int, int, bool, str, int]
LARGE: list[Row] = [
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
]
SMALL: list[Row] = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
]
ACTIVATIONS = {"RE": nn.ReLU, "HS": nn.Hardswish}
STEM_CHANNELS = 16
# (width of the last conv before the pool, width of the linear layer after it)
HEADS = {"large": (960, 1280), "small": (576, 1024)}


class MobileNetV3(PooledClassifier):
    def __init__(
        self, variant: str = "large", width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2
    ) -> None:
        rows = {"large": LARGE, "small": SMALL}[variant]
        channels = make_divisible(STEM_CHANNELS * width_mult)
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2, activation=nn.Hardswish)]
        for kernel, expanded, out, se, act, stride in rows:
            expanded = make_divisible(expanded * width_mult)
            out = make_divisible(out * width_mult)
            squeeze = make_divisible(expanded / 4) if se else None
            layers.append(
                InvertedResidual(channels, expanded, out, kernel, stride, ACTIVATIONS[act], squeeze)
            )
            channels = out
        conv_width, hidden = HEADS[variant]
        conv_width = make_divisible(conv_width * width_mult)
        hidden = make_divisible(hidden * width_mult)
        layers.append(ConvBNAct(channels, conv_width, 1, activation=nn.Hardswish))
        classifier = nn.Sequential(
            nn.Linear(conv_width, hidden),
            nn.Hardswish(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        super().__init__(nn.Sequential(*layers), classifier)


def mobilenet_v3_large(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """MobileNet V3 Large (paper Table 1)."""
    return MobileNetV3("large", width_mult=width_mult, num_classes=num_classes)


def mobilenet_v3_small(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """MobileNet V3 Small (paper Table 2)."""
    return MobileNetV3("small", width_mult=width_mult, num_classes=num_classes)
