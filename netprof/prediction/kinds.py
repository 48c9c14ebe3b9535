"""The kind of an op for latency: its cost category, with convolutions split by kernel shape.

A device profile fits one latency model per kind. Categories are the counting
conventions' (``netprof.costs.Category``); a dense convolution is split into
1x1 and larger kernels because the two run different kernels at different
efficiencies on every backend netprof has met.
"""

from __future__ import annotations

import enum

from netprof.analysis import OpNode
from netprof.costs import Category


class Kind(str, enum.Enum):
    CONV_1X1 = "conv_1x1"
    CONV_KXK = "conv_kxk"
    DEPTHWISE_CONV = "depthwise_conv"
    GROUP_CONV = "group_conv"
    GEMM = "gemm"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    NORMALIZATION = "normalization"
    POOLING = "pooling"
    REDUCTION = "reduction"
    DATA_MOVEMENT = "data_movement"
    VIEW = "view"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


_BY_CATEGORY = {
    Category.DEPTHWISE_CONV: Kind.DEPTHWISE_CONV,
    Category.GROUP_CONV: Kind.GROUP_CONV,
    Category.GEMM: Kind.GEMM,
    Category.ATTENTION: Kind.ATTENTION,
    Category.ELEMENTWISE: Kind.ELEMENTWISE,
    Category.NORMALIZATION: Kind.NORMALIZATION,
    Category.POOLING: Kind.POOLING,
    Category.REDUCTION: Kind.REDUCTION,
    Category.DATA_MOVEMENT: Kind.DATA_MOVEMENT,
    Category.VIEW: Kind.VIEW,
    Category.OTHER: Kind.OTHER,
}


def kind_of(node: OpNode) -> Kind:
    """``conv`` ops by their weight's spatial size (``input_metas[1]``: out, in/groups, k...)."""
    if node.category == Category.CONV:
        weight = node.input_metas[1].shape if len(node.input_metas) > 1 else ()
        return Kind.CONV_1X1 if all(size == 1 for size in weight[2:]) else Kind.CONV_KXK
    return _BY_CATEGORY[Category(node.category)]
