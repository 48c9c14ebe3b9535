"""A priced op: what was captured plus what it costs."""

from __future__ import annotations

from dataclasses import dataclass

from netprof.capture.ir import CapturedOp, TensorMeta
from netprof.costs import Category, Cost, lookup


@dataclass(frozen=True, slots=True)
class OpNode:
    """A captured op with its cost. See ``netprof.capture.ir.CapturedOp`` for the fields it shares."""

    id: int
    op: str
    module: str
    inputs: tuple[int | None, ...]
    input_metas: tuple[TensorMeta, ...]
    output_metas: tuple[TensorMeta, ...]
    category: str
    mult_adds: int
    flops: int
    mem_access_bytes: int
    counted: bool
    constant: bool = False


_NAMES: dict[object, str] = {}  # str(OpOverload) builds the name anew on every call


def price(op: CapturedOp) -> OpNode:
    """Apply the op's cost formula; ops without one are marked uncounted."""
    formula = lookup(op.func)
    cost = formula(op.call) if formula is not None else Cost(Category.OTHER)
    category = cost.category
    if cost.moves_memory:
        mem_access = sum(m.nbytes for m in op.input_metas) + sum(m.nbytes for m in op.output_metas)
        mem_access += cost.extra_read_bytes
    else:
        mem_access = 0
    name = _NAMES.get(op.func)
    if name is None:
        name = _NAMES[op.func] = str(op.func)
    return OpNode(
        id=op.id,
        op=name,
        module=op.module,
        inputs=op.inputs,
        input_metas=op.input_metas,
        output_metas=op.output_metas,
        category=str(category),
        mult_adds=cost.mult_adds,
        flops=cost.flops,
        mem_access_bytes=mem_access,
        counted=formula is not None,
        constant=op.constant,
    )
