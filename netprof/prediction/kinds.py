"""The kind of an op for latency: its cost category, split where one category runs unlike kernels.

A device profile fits one latency model per kind. Categories are the counting
conventions' (``netprof.costs.Category``), split three ways: a dense convolution
into 1x1 and larger kernels (different kernels, different efficiencies);
element-wise ops into plain arithmetic and transcendental functions (a sigmoid
or GELU costs several times a ReLU per element); pooling into max and average.
"""

from __future__ import annotations

import enum

from netprof.analysis import OpNode
from netprof.costs import Category


class _Named(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


# Every category is a kind, but for the three split in two.
_SPLIT = {
    Category.CONV: ("conv_1x1", "conv_kxk"),
    Category.ELEMENTWISE: ("elementwise", "transcendental"),
    Category.POOLING: ("pooling", "max_pooling"),
}
Kind = _Named("Kind", [(name.upper(), name) for c in Category for name in _SPLIT.get(c, (c.value,))])


# Element-wise functions that evaluate exp, log, erf or a root per element (softmax included).
_TRANSCENDENTAL = frozenset(
    {"gelu", "silu", "sigmoid", "tanh", "exp", "log", "erf", "softmax", "_softmax", "_safe_softmax",
     "log_softmax", "_log_softmax", "softplus", "mish", "elu", "selu", "celu", "sqrt", "rsqrt", "pow"}
)  # fmt: skip
_CONVOLUTIONS = frozenset({Category.CONV, Category.GROUP_CONV, Category.DEPTHWISE_CONV})


def _base(op: str) -> str:
    """``"aten.silu_.default"`` -> ``"silu"``: the function, without namespace, overload or in-place mark."""
    parts = op.split(".")
    return (parts[1] if len(parts) > 2 else parts[0]).removesuffix("_")


def kind_of(node: OpNode) -> Kind:
    """``conv`` ops by their weight's spatial size (``input_metas[1]``: out, in/groups, k...)."""
    category = Category(node.category)
    if category == Category.CONV:
        weight = node.input_metas[1].shape if len(node.input_metas) > 1 else ()
        return Kind.CONV_1X1 if all(size == 1 for size in weight[2:]) else Kind.CONV_KXK
    if category == Category.ELEMENTWISE and _base(node.op) in _TRANSCENDENTAL:
        return Kind.TRANSCENDENTAL
    if category == Category.POOLING and _base(node.op).startswith("max_pool"):
        return Kind.MAX_POOLING
    return Kind(category.value)


def weight_bytes(node: OpNode) -> int:
    """A convolution's weight bytes: CPU backends re-layout the weight on every call, a cost in its size."""
    if Category(node.category) in _CONVOLUTIONS and len(node.input_metas) > 1:
        return node.input_metas[1].nbytes
    return 0
