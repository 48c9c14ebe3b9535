"""Pooling: one flop per output element (a convention; see ``netprof.costs.types``)."""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


@formula(
    aten.max_pool1d,
    aten.max_pool2d,
    aten.max_pool2d_with_indices,
    aten.max_pool3d,
    aten.max_pool3d_with_indices,
    aten.avg_pool1d,
    aten.avg_pool2d,
    aten.avg_pool3d,
    aten.adaptive_avg_pool1d,
    aten._adaptive_avg_pool2d,
    aten._adaptive_avg_pool3d,
    aten.adaptive_max_pool1d,
    aten.adaptive_max_pool2d,
    aten.adaptive_max_pool3d,
    aten.fractional_max_pool2d,
    aten.fractional_max_pool3d,
)
def pooling(call: OpCall) -> Cost:
    return Cost(Category.POOLING, flops=call.out.numel)
