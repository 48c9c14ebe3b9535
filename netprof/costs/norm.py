"""Normalization layers: one flop per output element, no multiply-adds.

In eval mode batch norm folds into a per-channel scale and shift, which is why
the papers (and torchvision's ``_ops``) give it no multiply-adds.

The backward ops follow the same convention: no multiply-adds, and one flop per
element of every gradient they produce (``grad_input``, and the per-channel
``grad_weight`` and ``grad_bias`` when ``output_mask`` asks for them). Like the
forward's one flop per output, this is a convention, not an instruction count:
the real kernel makes a few passes over the input per element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.ops import aten

from netprof.capture.ir import OpCall, TensorMeta
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


@formula(
    aten.native_batch_norm,
    aten._native_batch_norm_legit,
    aten._native_batch_norm_legit_no_training,
    aten._native_batch_norm_legit_functional,
    aten.native_layer_norm,
    aten.native_group_norm,
    aten._fused_rms_norm,
    aten._batch_norm_no_update,
    aten._batch_norm_with_update,
    aten._batch_norm_with_update_functional,
)
def normalization(call: OpCall) -> Cost:
    return Cost(Category.NORMALIZATION, flops=call.out.numel)


def _gradients(x: TensorMeta, params: int, mask: Sequence[bool]) -> Cost:
    """One flop per element of grad_input (mask[0]) and of each parameter gradient (mask[1:])."""
    flops = (x.numel if mask[0] else 0) + params * sum(1 for wanted in mask[1:] if wanted)
    return Cost(Category.NORMALIZATION, flops=flops)


# (grad_input, grad_weight [C], grad_bias [C]) = aten::native_batch_norm_backward(grad_out,
#     input [N, C, *], weight?, running_mean?, running_var?, save_mean?, save_invstd?, train, eps,
#     output_mask[3]);  batch_norm_backward(..., update, eps, output_mask[3], reserve): the same places
@formula(aten.native_batch_norm_backward, aten.batch_norm_backward)
def batch_norm_backward(call: OpCall) -> Cost:
    x = call.args[1]
    return _gradients(x, x.shape[1], call.arg(9, "output_mask"))


# (grad_input, grad_weight [C], grad_bias [C]) = aten::cudnn_batch_norm_backward(input, grad_output,
#     weight, running_mean?, running_var?, save_mean?, save_var?, epsilon, reserveSpace): all three
#     gradients, always (miopen_batch_norm_backward: the same without reserveSpace)
@formula(aten.cudnn_batch_norm_backward, aten.miopen_batch_norm_backward)
def vendor_batch_norm_backward(call: OpCall) -> Cost:
    x = call.args[0]
    return _gradients(x, x.shape[1], (True, True, True))


# (grad_input, grad_weight, grad_bias) = aten::native_layer_norm_backward(grad_out, input,
#     normalized_shape, mean, rstd, weight?, bias?, output_mask[3]); parameters: normalized_shape
@formula(aten.native_layer_norm_backward)
def layer_norm_backward(call: OpCall) -> Cost:
    x, normalized_shape = call.args[1], call.arg(2, "normalized_shape")
    return _gradients(x, math.prod(normalized_shape), call.arg(7, "output_mask"))


# (grad_input, grad_weight [C], grad_bias [C]) = aten::native_group_norm_backward(grad_out,
#     input [N, C, *], mean, rstd, weight?, N, C, HxW, group, output_mask[3])
@formula(aten.native_group_norm_backward)
def group_norm_backward(call: OpCall) -> Cost:
    x = call.args[1]
    return _gradients(x, x.shape[1], call.arg(9, "output_mask"))


# (grad_input, grad_weight) = aten::_fused_rms_norm_backward(grad_out, input, normalized_shape,
#     rstd, weight?, output_mask[2])
@formula(aten._fused_rms_norm_backward)
def rms_norm_backward(call: OpCall) -> Cost:
    x, normalized_shape = call.args[1], call.arg(2, "normalized_shape")
    return _gradients(x, math.prod(normalized_shape), call.arg(5, "output_mask"))
