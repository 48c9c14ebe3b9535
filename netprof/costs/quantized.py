"""Quantized (int8) kernels of ``torch.ao``: what ``quantize=True`` torchvision models run.

A quantized conv or linear takes its weight as an opaque packed object (a
``ScriptObject``), not a tensor; its shape comes from ``unpack()``. The packed
weight is read like any weight, so its bytes are reported through
``Cost.extra_read_bytes``. Multiply-adds follow the float ops' convention;
requantizing the int32 accumulator, the fused ReLU and the bias add are one flop
per output element each.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.conv import conv_category
from netprof.costs.norm import normalization
from netprof.costs.pool import pooling
from netprof.costs.registry import elementwise_cost, formula
from netprof.costs.types import Category, Cost

quantized = torch.ops.quantized


def _nbytes(tensor: torch.Tensor | None) -> int:
    return 0 if tensor is None else tensor.numel() * tensor.element_size()


def _unpacked(packed: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    weight, bias = packed.unpack()[:2]
    return weight, bias


# [n, c_out, *out] = quantized::conv{1,2,3}d[_relu](qx [n, c_in, *in], packed(weight [c_out, c_in/g, *k],
#     bias?, stride, padding, dilation, groups), scale, zero_point)
# transposed (conv_transpose*d): weight is [c_in, c_out/g, *k]
def _quantized_conv(call: OpCall, fused_ops: int) -> Cost:
    x, packed = call.args[0], call.args[1]
    weight, bias = _unpacked(packed)
    kernel_volume = math.prod(weight.shape[2:])
    if packed.transpose():
        # Every input element is scattered into c_out/g outputs per kernel tap.
        mult_adds = x.numel * weight.shape[1] * kernel_volume
    else:
        # Every output element gathers c_in/g inputs per kernel tap.
        mult_adds = call.out.numel * weight.shape[1] * kernel_volume
    # bias add, requantization and each fused op (relu, add): one flop per output element
    per_output = (bias is not None) + 1 + fused_ops
    return Cost(
        conv_category(x.shape[1], packed.groups()),
        mult_adds,
        2 * mult_adds + per_output * call.out.numel,
        extra_read_bytes=_nbytes(weight) + _nbytes(bias),
    )


@formula(
    quantized.conv1d,
    quantized.conv2d,
    quantized.conv3d,
    quantized.conv_transpose1d,
    quantized.conv_transpose2d,
    quantized.conv_transpose3d,
)
def quantized_conv(call: OpCall) -> Cost:
    return _quantized_conv(call, 0)


@formula(quantized.conv1d_relu, quantized.conv2d_relu, quantized.conv3d_relu, quantized.conv2d_add)
def quantized_conv_fused(call: OpCall) -> Cost:
    return _quantized_conv(call, 1)


@formula(quantized.conv2d_add_relu)
def quantized_conv_add_relu(call: OpCall) -> Cost:
    return _quantized_conv(call, 2)


# [*, out] = quantized::linear[_relu][_dynamic](x [*, in], packed(weight [out, in], bias?), ...)
def _quantized_linear(call: OpCall, fused_ops: int) -> Cost:
    x, packed = call.args[0], call.args[1]
    weight, bias = _unpacked(packed)
    # One multiply-add per input element and output feature: (x.numel / in) rows x in x out.
    mult_adds = x.numel * weight.shape[0]
    per_output = (bias is not None) + 1 + fused_ops
    return Cost(
        Category.GEMM,
        mult_adds,
        2 * mult_adds + per_output * call.out.numel,
        extra_read_bytes=_nbytes(weight) + _nbytes(bias),
    )


@formula(quantized.linear, quantized.linear_dynamic, quantized.linear_dynamic_fp16)
def quantized_linear(call: OpCall) -> Cost:
    return _quantized_linear(call, 0)


@formula(quantized.linear_relu, quantized.linear_relu_dynamic)
def quantized_linear_relu(call: OpCall) -> Cost:
    return _quantized_linear(call, 1)


# Element-wise on quantized tensors: one flop per output element, as in float (requantizing is
# part of the op). Quantizing and dequantizing scale and shift every element: element-wise too.
formula(
    quantized.add,
    quantized.add_relu,
    quantized.add_scalar,
    quantized.add_scalar_relu,
    quantized.mul,
    quantized.mul_relu,
    quantized.mul_scalar,
    quantized.mul_scalar_relu,
    quantized.hardswish,
    quantized.relu6,
    quantized.leaky_relu,
    quantized.sigmoid,
    quantized.threshold,
    quantized.celu,
    quantized.elu,
    quantized.clamp,
    quantized.softmax,
    aten.quantize_per_tensor,
    aten.quantize_per_channel,
    aten.dequantize,
)(elementwise_cost)


# Quantized norms and pools cost what the float ones do: one flop per output element.
formula(
    quantized.batch_norm,
    quantized.batch_norm1d,
    quantized.batch_norm2d,
    quantized.batch_norm2d_relu,
    quantized.batch_norm3d,
    quantized.layer_norm,
    quantized.group_norm,
    quantized.instance_norm,
)(normalization)
formula(
    aten.quantized_max_pool1d,
    aten.quantized_max_pool2d,
    aten.quantized_max_pool3d,
    quantized.max_pool1d,
    quantized.max_pool2d,
)(pooling)


# [*] = quantized::cat(tensors, dim, scale, zero_point): a copy, requantized on the way.
@formula(quantized.cat, quantized.cat_relu)
def quantized_cat(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT)
