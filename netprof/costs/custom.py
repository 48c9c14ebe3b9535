"""The public way to give netprof the cost of an op it cannot know.

A custom op (``torch.library.custom_op``, a Triton kernel wrapped as one, a fused
attention from another library) has no formula, so netprof reports it as uncounted.
``register_formula`` gives it one, in the same registry the built-in formulas use::

    import netprof

    def flash_attn_cost(call: netprof.OpCall) -> netprof.Cost:
        q, k, v = call.args[:3]  # tensors arrive as TensorMeta: shape, dtype, stride
        b, h, n, d = q.shape
        scores = b * h * n * k.shape[2]
        mult_adds = scores * (d + v.shape[3])  # q @ k^T, then softmax(.) @ v
        return netprof.Cost(netprof.Category.ATTENTION, mult_adds, 2 * mult_adds + scores)

    netprof.register_formula("mylib::flash_attn", flash_attn_cost)

A package can ship its formulas as a ``netprof.formulas`` entry point, a callable taking
no arguments that calls ``register_formula``; see ``netprof.costs.registry``.
"""

from __future__ import annotations

from typing import Any

import torch

from netprof.costs.registry import Formula, formula, load_plugins

Op = str | torch._ops.OpOverloadPacket | torch._ops.OpOverload


def register_formula(op: Op, fn: Formula, *, replace: bool = False) -> Formula:
    """Make ``fn(call: OpCall) -> Cost`` the cost formula of ``op``, for every overload of it.

    ``op`` is ``"namespace::name"`` (the op ``torch.ops.namespace.name``; a ``".overload"``
    suffix is accepted), an ``OpOverloadPacket``, an ``OpOverload`` or the object
    ``torch.library.custom_op`` returns. Formulas are per packet, as the built-in ones are,
    so an overload stands for its packet. An op that already has a formula, built-in or
    registered before, is a ``ValueError`` unless ``replace=True``; an op torch does not know
    is a ``ValueError`` too. The ``netprof.formulas`` entry points are loaded first, so a
    clash with one of them is reported here. Returns ``fn``.
    """
    packet = resolve_op(op)
    if not callable(fn):
        raise TypeError(f"the cost formula for {packet} must be callable, got {type(fn).__name__}")
    load_plugins()
    return formula(packet, replace=replace)(fn)


def resolve_op(op: Op | Any) -> torch._ops.OpOverloadPacket:
    """The overload packet ``op`` names (see ``register_formula``)."""
    if isinstance(op, torch._ops.OpOverloadPacket):
        return op
    if isinstance(op, torch._ops.OpOverload):
        return op.overloadpacket
    if isinstance(op, str):
        return _by_name(op)
    overload = getattr(op, "_opoverload", None)  # a torch.library.custom_op (CustomOpDef)
    if isinstance(overload, torch._ops.OpOverload):
        return overload.overloadpacket
    raise TypeError(
        f"expected an op as 'namespace::name', an OpOverloadPacket or an OpOverload, got {type(op).__name__}"
    )


def _by_name(name: str) -> torch._ops.OpOverloadPacket:
    namespace, sep, rest = name.partition("::")
    opname, dot, overload = rest.partition(".")
    if not sep or not namespace or not opname or (dot and not overload) or "::" in rest:
        raise ValueError(f"op {name!r}: expected 'namespace::name', e.g. 'mylib::flash_attn'")
    try:
        found = getattr(getattr(torch.ops, namespace), opname)
    except (AttributeError, RuntimeError):
        found = None
    # (torch.ops.aten.name is the namespace's own name, a string, not an op)
    if not isinstance(found, torch._ops.OpOverloadPacket) or (overload and not hasattr(found, overload)):
        raise ValueError(
            f"unknown op {name!r}: torch.ops.{namespace}.{opname}{dot}{overload} does not exist; "
            "the op must be registered with torch.library first (torch.library.custom_op, "
            "or import the library that defines it)"
        )
    return found
