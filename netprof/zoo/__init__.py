"""Seed networks, written from their papers' architecture tables.

Every builder takes keyword arguments only and has defaults for all of them, so each is a
``module:callable`` spec for the command line (``netprof.zoo:shufflenet_v1``). ``ZOO`` names
every published variant; where torchvision has the same network the name is torchvision's
and the parameter count is identical to it (MobileViT, a hybrid torchvision lacks: timm's).

    >>> from netprof.zoo import ZOO
    >>> model = ZOO["shufflenet_v1_g8"]()
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from netprof.zoo.layers import ConvBNAct, InvertedResidual, SqueezeExcite, channel_shuffle, make_divisible
from netprof.zoo.mobilenetv1 import DepthwiseSeparable, MobileNetV1, mobilenet_v1
from netprof.zoo.mobilenetv2 import MobileNetV2, mobilenet_v2
from netprof.zoo.mobilenetv3 import MobileNetV3, mobilenet_v3_large, mobilenet_v3_small
from netprof.zoo.mobilevit import (
    MobileViT,
    MobileViTBlock,
    mobilevit,
    mobilevit_s,
    mobilevit_xs,
    mobilevit_xxs,
)
from netprof.zoo.shufflenetv1 import ShuffleNetV1, ShuffleV1Unit, shufflenet_v1
from netprof.zoo.shufflenetv2 import ShuffleNetV2, ShuffleV2Unit, shufflenet_v2
from netprof.zoo.squeezenet import FireModule, SqueezeNet, squeezenet1_0, squeezenet1_1
from netprof.zoo.yolo import YOLO, yolo

Builder = Callable[..., nn.Module]

shufflenet_v1_g1 = partial(shufflenet_v1, groups=1)
shufflenet_v1_g2 = partial(shufflenet_v1, groups=2)
shufflenet_v1_g3 = partial(shufflenet_v1, groups=3)
shufflenet_v1_g4 = partial(shufflenet_v1, groups=4)
shufflenet_v1_g8 = partial(shufflenet_v1, groups=8)
shufflenet_v2_x0_5 = partial(shufflenet_v2, scale=0.5)
shufflenet_v2_x1_0 = partial(shufflenet_v2, scale=1.0)
shufflenet_v2_x1_5 = partial(shufflenet_v2, scale=1.5)
shufflenet_v2_x2_0 = partial(shufflenet_v2, scale=2.0)

ZOO: dict[str, Builder] = {
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_1": squeezenet1_1,
    **{f"mobilenet_v1_{w}": partial(mobilenet_v1, width_mult=w) for w in (1.0, 0.75, 0.5, 0.25)},
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_large": mobilenet_v3_large,
    "mobilenet_v3_small": mobilenet_v3_small,
    "shufflenet_v1_g1": shufflenet_v1_g1,
    "shufflenet_v1_g2": shufflenet_v1_g2,
    "shufflenet_v1_g3": shufflenet_v1_g3,
    "shufflenet_v1_g4": shufflenet_v1_g4,
    "shufflenet_v1_g8": shufflenet_v1_g8,
    **{f"shufflenet_v1_g3_{s:g}x": partial(shufflenet_v1, groups=3, scale=s) for s in (0.25, 0.5, 1.5, 2.0)},
    "shufflenet_v2_x0_5": shufflenet_v2_x0_5,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "shufflenet_v2_x1_5": shufflenet_v2_x1_5,
    "shufflenet_v2_x2_0": shufflenet_v2_x2_0,
    "mobilevit_xxs": mobilevit_xxs,
    "mobilevit_xs": mobilevit_xs,
    "mobilevit_s": mobilevit_s,
}

__all__ = [
    "YOLO",
    "ZOO",
    "ConvBNAct",
    "DepthwiseSeparable",
    "FireModule",
    "InvertedResidual",
    "MobileNetV1",
    "MobileNetV2",
    "MobileNetV3",
    "MobileViT",
    "MobileViTBlock",
    "ShuffleNetV1",
    "ShuffleNetV2",
    "ShuffleV1Unit",
    "ShuffleV2Unit",
    "SqueezeExcite",
    "SqueezeNet",
    "channel_shuffle",
    "make_divisible",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mobilevit",
    "mobilevit_s",
    "mobilevit_xs",
    "mobilevit_xxs",
    "shufflenet_v1",
    "shufflenet_v1_g1",
    "shufflenet_v1_g2",
    "shufflenet_v1_g3",
    "shufflenet_v1_g4",
    "shufflenet_v1_g8",
    "shufflenet_v2",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "yolo",
]
