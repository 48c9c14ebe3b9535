"""Channel widths and memory access of every convolution and every linear map (guidelines G1 and G2).

All memory access here is in elements, as in the paper: inputs read once, outputs
written once, weights read once; biases left out, as the paper's formulas do. The
batch is folded into ``hw`` (the paper's batch is 1). ``itemsize`` turns elements
into the bytes netprof reports everywhere else.

A linear map applied at every position (``nn.Linear`` over tokens or over a channels-last
feature map, ``x @ W``, attention's q/k/v and output projections) is a 1x1 convolution:
``T`` rows of ``c_in`` features times a ``c_in x c_out`` weight is a 1x1 conv with
``hw = T``, the same FLOPs ``B = hw*c1*c2`` and the same memory access, so the paper's
bound holds for it unchanged. It reaches ATen as ``mm`` / ``addmm`` (``bmm`` when a
broadcast weight is batched) with exactly one operand *static*: computed from parameters
only, never from a model input. Attention's own products (``Q @ K^T``, ``P @ V``) read two
activations and are not linear maps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netprof.analysis import Analysis
from netprof.analysis.pricing import OpNode
from netprof.metrics.blocks import Block
from netprof.metrics.dataflow import CONV_CATEGORIES, DataFlow

STEM = "stem"
BODY = "body"
HEAD = "head"
CONV = "conv"
LINEAR = "linear"


@dataclass(frozen=True, slots=True)
class ConvMetrics:
    """One convolution call.

    Attributes:
        module: innermost module path of the op; op_id: its id.
        c_in, c_out, groups, kernel: the layer's shape (``c1``, ``c2``, ``g`` in the paper).
        hw_in, hw: input and output positions (batch x spatial), the paper's ``hw``.
        mult_adds: ``B``, the paper's FLOPs.
        mac_elements: memory access in elements (not bytes), ``hw_in*c1 + hw*c2 + c1*c2*k/g``.
        itemsize: bytes per element of the output.
        position: ``"stem"`` (before the first block), ``"body"`` or ``"head"`` (after the last).
        g1_bound: the paper's lower bound ``2*sqrt(hw*B) + B/hw`` with ``B = hw*c1*c2/g``;
            only for 1x1 convs, where it holds (None otherwise).
        g1_ratio: ``mac_elements / g1_bound``.
        balanced_mac_elements: the least MAC any choice of c1, c2 reaches at the same FLOPs, groups,
            kernel and positions: ``2*sqrt(hw_in*hw*c1*c2) + c1*c2*k/g``. For a dense 1x1
            stride-1 conv it is ``g1_bound``.
        dense_mac_elements: for a group conv, the MAC of the dense conv with the same input and the
            same FLOPs (c2 / g outputs), G2's comparison; None for dense and depthwise convs.
        operator: ``"conv"``, or ``"linear"`` for a linear map measured as the 1x1 conv it is
            (``kernel`` is then ``()``, ``groups`` 1 and ``hw`` its rows: tokens x batch).
    """

    module: str
    op_id: int
    c_in: int
    c_out: int
    groups: int
    kernel: tuple[int, ...]
    hw_in: int
    hw: int
    mult_adds: int
    mac_elements: int
    itemsize: int
    position: str
    g1_bound: float | None
    g1_ratio: float | None
    balanced_mac_elements: float
    dense_mac_elements: int | None
    operator: str = CONV

    @property
    def pointwise(self) -> bool:
        return all(k == 1 for k in self.kernel)

    @property
    def name(self) -> str:
        """``"1x1 conv"`` or ``"linear"``: the operator as findings name it."""
        return LINEAR if self.operator == LINEAR else f"{self.kernel_text} conv"

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.c_in

    @property
    def kernel_text(self) -> str:
        """``"3x3"``: the kernel as findings name it."""
        return "x".join(map(str, self.kernel))

    @property
    def width_ratio(self) -> float:
        """``mac_elements / balanced_mac_elements``: what unequal channel widths cost (G1's measure)."""
        return self.mac_elements / self.balanced_mac_elements

    @property
    def width_excess_bytes(self) -> int:
        return round((self.mac_elements - self.balanced_mac_elements) * self.itemsize)

    def evidence(self) -> dict[str, Any]:
        """The conv's shape and memory access, as every conv finding reports them (a linear map's
        with ``"operator": "linear"`` after them)."""
        shape = {
            "op_id": self.op_id,
            "c_in": self.c_in,
            "c_out": self.c_out,
            "groups": self.groups,
            "kernel": list(self.kernel),
            "hw": self.hw,
            "mult_adds": self.mult_adds,
            "mac_elements": self.mac_elements,
        }
        return shape if self.operator == CONV else {**shape, "operator": self.operator}

    @property
    def group_excess_bytes(self) -> int:
        """Memory access the groups add over ``dense_mac_elements`` (0 for a dense conv)."""
        if self.dense_mac_elements is None:
            return 0
        return (self.mac_elements - self.dense_mac_elements) * self.itemsize


def _metrics(
    node: OpNode,
    position: str,
    *,
    c_in: int,
    c_out: int,
    groups: int,
    kernel: tuple[int, ...],
    hw_in: int,
    hw: int,
    operator: str = CONV,
) -> ConvMetrics:
    """The memory access of a conv of this shape, and its bounds: one set of formulas for convs and
    for the linear maps measured as the 1x1 convs they are (``kernel=()``)."""
    weights = c_in * c_out * math.prod(kernel) // groups
    mac = hw_in * c_in + hw * c_out + weights
    b = node.mult_adds
    g1_bound = 2 * math.sqrt(hw * b) + b / hw if all(s == 1 for s in kernel) and hw else None
    return ConvMetrics(
        module=node.module,
        op_id=node.id,
        c_in=c_in,
        c_out=c_out,
        groups=groups,
        kernel=kernel,
        hw_in=hw_in,
        hw=hw,
        mult_adds=b,
        mac_elements=mac,
        itemsize=node.output_metas[0].itemsize,
        position=position,
        g1_bound=g1_bound,
        g1_ratio=mac / g1_bound if g1_bound else None,
        balanced_mac_elements=2 * math.sqrt(hw_in * hw * c_in * c_out) + weights,
        dense_mac_elements=hw_in * c_in + hw * c_out // groups + weights if 1 < groups < c_in else None,
        operator=operator,
    )


def _measure(node: OpNode, position: str) -> ConvMetrics:
    x, weight, out = node.input_metas[0], node.input_metas[1], node.output_metas[0]
    c_in, c_out = x.shape[1], out.shape[1]
    if weight.shape[0] == c_out:  # [c_out, c_in/g, *k]
        groups = c_in // weight.shape[1]
    else:  # transposed: [c_in, c_out/g, *k]
        groups = c_out // weight.shape[1]
    return _metrics(
        node,
        position,
        c_in=c_in,
        c_out=c_out,
        groups=groups,
        kernel=tuple(weight.shape[2:]),
        hw_in=x.shape[0] * math.prod(x.shape[2:]),
        hw=out.shape[0] * math.prod(out.shape[2:]),
    )


def _positions(blocks: Mapping[str, Block] | None) -> Callable[[int], str]:
    """Where an op sits: before the first block (stem), after the last one (head), or between."""
    first = min((b.ops[0] for b in blocks.values()), default=None) if blocks else None
    last = max((b.ops[-1] for b in blocks.values()), default=None) if blocks else None

    def position(op_id: int) -> str:
        if first is not None and op_id < first:
            return STEM
        if last is not None and op_id > last:
            return HEAD
        return BODY

    return position


def conv_metrics(
    analysis: Analysis, blocks: Mapping[str, Block] | None = None
) -> dict[str, tuple[ConvMetrics, ...]]:
    """Every convolution call, keyed by module path (a module run twice has two entries)."""
    position = _positions(blocks)
    found: dict[str, list[ConvMetrics]] = {}
    for node in analysis.ops:
        if node.category not in CONV_CATEGORIES or len(node.input_metas) < 2 or not node.output_metas:
            continue
        found.setdefault(node.module, []).append(_measure(node, position(node.id)))
    return {path: tuple(calls) for path, calls in found.items()}


# ATen matrix products a linear map reaches, and the positions of their two matrix operands among
# the op's distinct tensor arguments (the add* variants take their bias first).
_PRODUCTS = {
    "mm": (0, 1),
    "_int_mm": (0, 1),
    "_scaled_mm": (0, 1),
    "addmm": (1, 2),
    "_addmm_activation": (1, 2),
    "bmm": (0, 1),
    "baddbmm": (1, 2),
}


def _linear_shape(node: OpNode, flow: DataFlow) -> tuple[int, int, int] | None:
    """``(c_in, c_out, rows)`` of a product that is a linear map, else None.

    Exactly one operand must be static (the weight); a batched weight (``bmm``) must be one
    matrix broadcast over the batch. ``x [n, m] @ W [m, p]`` maps ``m`` to ``p`` features at
    ``n`` rows; ``W [n, m] @ x [m, p]`` (a channels-first pointwise map) ``m`` to ``n`` at ``p``.
    """
    packet = node.op.split(".")[1] if node.op.startswith("aten.") else ""
    where = _PRODUCTS.get(packet)
    if where is None or len(node.input_metas) <= max(where) or not node.output_metas:
        return None
    left, right = (node.input_metas[i] for i in where)
    static = [flow.is_static(node.id, i) for i in where]
    if static[0] == static[1]:  # two activations (attention's products) or two constants
        return None
    batched = len(left.shape) == 3
    if len(left.shape) != len(right.shape) or len(left.shape) not in (2, 3):
        return None
    weight = right if static[1] else left
    if batched and weight.shape[0] > 1 and weight.stride[0] != 0:
        return None  # one weight matrix per batch entry: not one linear map
    batch = left.shape[0] if batched else 1
    n, m = left.shape[-2:]
    p = right.shape[-1]
    return (m, p, batch * n) if static[1] else (m, n, batch * p)


def linear_metrics(
    analysis: Analysis, flow: DataFlow, blocks: Mapping[str, Block] | None = None
) -> dict[str, tuple[ConvMetrics, ...]]:
    """Every linear map applied per position, measured as a 1x1 conv, keyed by module path."""
    position = _positions(blocks)
    found: dict[str, list[ConvMetrics]] = {}
    for node in analysis.ops:
        shape = _linear_shape(node, flow)
        if shape is None:
            continue
        c_in, c_out, hw = shape
        found.setdefault(node.module, []).append(
            _metrics(
                node,
                position(node.id),
                c_in=c_in,
                c_out=c_out,
                groups=1,
                kernel=(),
                hw_in=hw,
                hw=hw,
                operator=LINEAR,
            )
        )
    return {path: tuple(calls) for path, calls in found.items()}
