"""Convolutions of every rank, group count and direction, and their gradients."""

from __future__ import annotations

import math

from torch.ops import aten

from netprof.capture.ir import OpCall, TensorMeta
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def conv_category(in_channels: int, groups: int) -> Category:
    """Dense, grouped, or depthwise (one group per input channel)."""
    if groups == 1:
        return Category.CONV
    if groups == in_channels:
        return Category.DEPTHWISE_CONV
    return Category.GROUP_CONV


def conv_mult_adds(x: TensorMeta, weight: TensorMeta, out: TensorMeta, transposed: bool) -> int:
    """Multiply-adds of the forward convolution ``out = conv(x, weight)``."""
    kernel_volume = math.prod(weight.shape[2:])
    if transposed:
        # Every input element is scattered into c_out/g outputs per kernel tap.
        return x.numel * weight.shape[1] * kernel_volume
    # Every output element gathers c_in/g inputs per kernel tap.
    return out.numel * weight.shape[1] * kernel_volume


# [n, c_out, *out] = aten::convolution([n, c_in, *in], [c_out, c_in/g, *k], bias?, stride,
#                                       padding, dilation, transposed, output_padding, groups)
# transposed: weight is [c_in, c_out/g, *k]
@formula(aten.convolution, aten._convolution)
def convolution(call: OpCall) -> Cost:
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    transposed, groups = call.arg(6, "transposed"), call.arg(8, "groups")
    mult_adds = conv_mult_adds(x, weight, call.out, transposed)
    bias_adds = call.out.numel if bias is not None else 0
    return Cost(conv_category(x.shape[1], groups), mult_adds, 2 * mult_adds + bias_adds)


# (grad_input [n, c_in, *in], grad_weight [c_out, c_in/g, *k], grad_bias [c_out]) =
#     aten::convolution_backward(grad_output [n, c_out, *out], input [n, c_in, *in], weight,
#         bias_sizes?, stride, padding, dilation, transposed, output_padding, groups, output_mask[3])
# Only the gradients output_mask asks for are computed (the others come back undefined):
# * grad_input is the transposed convolution of grad_output with the same weight (a plain
#   convolution for a transposed one): every (output position, kernel tap, channel pair) of the
#   forward is one multiply-add again, so it costs the forward's multiply-adds.
# * grad_weight correlates the input with grad_output: one multiply-add per weight element per
#   output position, the forward's count again. Per group: a grouped or depthwise convolution's
#   weight gradient touches c_in/g input channels per filter, as its forward does.
#   (FlopCounterMode, torch 2.14, counts c_in, not c_in/g, here: g times too many, which
#   pytorch/pytorch#183405 fixes; see tests/test_training_flops.py.)
# * grad_bias sums grad_output over the batch and every position: a reduction, no multiply-adds,
#   one flop per element of the c_out it produces (the reduction convention).
@formula(aten.convolution_backward)
def convolution_backward(call: OpCall) -> Cost:
    grad_output, x, weight = call.args[0], call.args[1], call.args[2]
    bias_sizes = call.arg(3, "bias_sizes")
    transposed, groups = call.arg(7, "transposed"), call.arg(9, "groups")
    grad_input, grad_weight, grad_bias = call.arg(10, "output_mask")
    forward = conv_mult_adds(x, weight, grad_output, transposed)
    mult_adds = forward * (int(bool(grad_input)) + int(bool(grad_weight)))
    bias_flops = (math.prod(bias_sizes) if bias_sizes else grad_output.shape[1]) if grad_bias else 0
    return Cost(conv_category(x.shape[1], groups), mult_adds, 2 * mult_adds + bias_flops)
