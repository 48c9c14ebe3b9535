"""One registry of cost formulas, keyed by ATen overload packet.

Formulas are registered with ``@formula(aten.mm, ...)`` in the modules of this
package; registering a packet twice is an error, so there is one source of truth.
Ops without a formula fall back on what the ATen schema says about them: a view
is free, a ``pointwise``-tagged op is element-wise, a ``reduction``-tagged op is
a reduction, and a ``view_copy`` (the copying twin of a view that functionalized
graphs use) moves data. Anything else is *uncounted*: reported, never silently zero.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from netprof.capture.ir import OpCall
from netprof.costs.types import Category, Cost

Formula = Callable[[OpCall], Cost]

_FORMULAS: dict[torch._ops.OpOverloadPacket, Formula] = {}
# lookup() per overload, remembered: the schema tags are slow to read. Emptied on registration.
_RESOLVED: dict[torch._ops.OpOverload, Formula | None] = {}


def formula(*packets: torch._ops.OpOverloadPacket) -> Callable[[Formula], Formula]:
    """Register ``fn`` as the cost formula of every overload of ``packets``."""

    def register(fn: Formula) -> Formula:
        # Check every packet before registering any, so a failed call leaves the registry unchanged.
        for index, packet in enumerate(packets):
            if packet in _FORMULAS or packet in packets[:index]:
                raise ValueError(f"a cost formula for {packet} is already registered")
        for packet in packets:
            _FORMULAS[packet] = fn
        _RESOLVED.clear()
        return fn

    return register


def elementwise_cost(call: OpCall) -> Cost:
    """One flop per output element; no multiply-adds."""
    return Cost(Category.ELEMENTWISE, flops=call.out.numel if call.outputs else 0)


def reduction_cost(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.out.numel if call.outputs else 0)


def lookup(func: torch._ops.OpOverload) -> Formula | None:
    """The formula for ``func``, or None when its arithmetic is unknown."""
    try:
        return _RESOLVED[func]
    except KeyError:
        found = _RESOLVED[func] = _resolve(func)
        return found


def _resolve(func: torch._ops.OpOverload) -> Formula | None:
    found = _FORMULAS.get(func.overloadpacket)
    if found is not None:
        return found
    if func.is_view or torch.Tag.inplace_view in func.tags:
        return _view_cost
    if torch.Tag.view_copy in func.tags:
        return _copy_cost
    if torch.Tag.pointwise in func.tags:
        return elementwise_cost
    if torch.Tag.reduction in func.tags:
        return reduction_cost
    return None


def _view_cost(call: OpCall) -> Cost:
    return Cost(Category.VIEW, moves_memory=False)


def _copy_cost(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT)


def registered() -> frozenset[torch._ops.OpOverloadPacket]:
    """Every packet with an explicit formula (for tests and docs)."""
    return frozenset(_FORMULAS)
