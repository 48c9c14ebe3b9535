"""Convolutions of every rank, group count and direction."""

from __future__ import annotations

import math

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def conv_category(in_channels: int, groups: int) -> Category:
    """Dense, grouped, or depthwise (one group per input channel)."""
    if groups == 1:
        return Category.CONV
    if groups == in_channels:
        return Category.DEPTHWISE_CONV
    return Category.GROUP_CONV


# [n, c_out, *out] = aten::convolution([n, c_in, *in], [c_out, c_in/g, *k], bias?, stride,
#                                       padding, dilation, transposed, output_padding, groups)
# transposed: weight is [c_in, c_out/g, *k]
@formula(aten.convolution, aten._convolution)
def convolution(call: OpCall) -> Cost:
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    transposed, groups = call.arg(6, "transposed"), call.arg(8, "groups")
    kernel_volume = math.prod(weight.shape[2:])
    if transposed:
        # Every input element is scattered into c_out/g outputs per kernel tap.
        mult_adds = x.numel * weight.shape[1] * kernel_volume
    else:
        # Every output element gathers c_in/g inputs per kernel tap.
        mult_adds = call.out.numel * weight.shape[1] * kernel_volume
    bias_adds = call.out.numel if bias is not None else 0
    return Cost(conv_category(x.shape[1], groups), mult_adds, 2 * mult_adds + bias_adds)
