"""Ops that truly have no arithmetic, each with the reason it is free.

Listing them is deliberate: an op missing from every list is reported as
*uncounted*, so an op is only free when someone decided it is.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


# Allocation without initialisation writes nothing.
@formula(aten.empty, aten.empty_like, aten.empty_strided, aten.new_empty, aten.new_empty_strided)
def allocation(call: OpCall) -> Cost:
    return Cost(Category.OTHER, moves_memory=False)


# Aliases that the schema does not mark as views; they return the same storage.
# ``unsafe_split`` is ``split`` without view tracking (the RNN cells use it on their gates).
@formula(
    aten._unsafe_view,
    aten.lift_fresh,
    aten.detach,
    aten.alias,
    aten._reshape_alias,
    aten.unsafe_split,
    aten.unsafe_split_with_sizes,
)
def alias(call: OpCall) -> Cost:
    return Cost(Category.VIEW, moves_memory=False)


# Factories write their output once (counted as memory access) and compute nothing worth counting.
@formula(
    aten.zeros,
    aten.zeros_like,
    aten.ones,
    aten.ones_like,
    aten.full,
    aten.full_like,
    aten.scalar_tensor,
    aten.arange,
    aten.linspace,
    aten.eye,  # the identity matrix of timm's bilinear attention transform (bat_resnext26ts)
    aten.new_zeros,
    aten.new_ones,
    aten.new_full,
    aten.rand,
    aten.randn,
    aten.randint,
    aten.rand_like,
    aten.randn_like,
)
def factory(call: OpCall) -> Cost:
    return Cost(Category.OTHER)


# Reading a scalar back to Python (``.item()``) moves one element; so does ``torch._assert_async``,
# which checks its one-element condition on the device (timm's Gemma 4 vision encoder).
@formula(aten._local_scalar_dense, aten.sym_size, aten.sym_stride, aten.sym_numel, aten._assert_async)
def scalar_read(call: OpCall) -> Cost:
    return Cost(Category.OTHER)
