"""Normalization layers: one flop per output element, no multiply-adds.

In eval mode batch norm folds into a per-channel scale and shift, which is why
the papers (and torchvision's ``_ops``) give it no multiply-adds.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
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
