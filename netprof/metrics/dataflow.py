"""The captured ops as a data-flow graph: who feeds whom, and what an op counts as.

Model inputs have no producing op; they get negative ids (``-1`` for the first)
so a block that reads the model input still has an entry. A ``None`` producer
whose tensor is not a model input is a parameter, buffer or constant, and no edge.
An op none of whose inputs depends on a model input (a weight's transpose, a cast of
a parameter) computes a *static* tensor: what a weight is made of.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netprof.analysis import Analysis
from netprof.analysis.pricing import OpNode
from netprof.capture.ir import TensorMeta
from netprof.costs.types import Category

# The paper's fragments: "individual convolution or pooling operations" (Sec. 2, G3).
# A matrix product or a fused attention is one such kernel too. Of attention written out as
# matmul-softmax-matmul (labelled attention as a whole) only the products are fragments:
# the softmax, scaling and mask between them are element-wise (``is_fragment``).
FRAGMENT_CATEGORIES = frozenset(
    {
        Category.CONV,
        Category.GROUP_CONV,
        Category.DEPTHWISE_CONV,
        Category.GEMM,
        Category.ATTENTION,
        Category.POOLING,
    }
)
# Ops that compute something; a path made only of other ops (views, copies) is an identity.
COMPUTE_CATEGORIES = FRAGMENT_CATEGORIES | {Category.ELEMENTWISE, Category.NORMALIZATION, Category.REDUCTION}
# What ShuffleNet V2 (G4) counts as element-wise: activations, adds, bias adds, batch norm,
# and depthwise convolutions for their high MAC / FLOPs ratio.
# A softmax, scaling or mask inside unfused attention carries the attention category; it is
# element-wise all the same (``is_elementwise``): a fused attention kernel keeps it out of memory.
ELEMENTWISE_CATEGORIES = frozenset({Category.ELEMENTWISE, Category.NORMALIZATION, Category.DEPTHWISE_CONV})
CONV_CATEGORIES = frozenset({Category.CONV, Category.GROUP_CONV, Category.DEPTHWISE_CONV})
_ATTENTION = str(Category.ATTENTION)


def in_unfused_attention(node: OpNode) -> bool:
    """An element-wise op of attention written out unfused: the softmax, scaling or mask between
    the two products (no multiply-adds, but arithmetic; a copy or view between them has none)."""
    return node.category == _ATTENTION and node.mult_adds == 0 and node.flops > 0


def is_elementwise(node: OpNode) -> bool:
    """What G4 counts: activations, adds, normalization, depthwise convs, and the softmax,
    scaling and mask of unfused attention."""
    return node.category in ELEMENTWISE_CATEGORIES or in_unfused_attention(node)


def is_fragment(node: OpNode) -> bool:
    """What G3 counts: conv, gemm and pooling ops, and attention ops that multiply (a fused
    attention kernel, or each of the two products of an unfused one)."""
    if node.category == _ATTENTION:
        return node.mult_adds > 0
    return node.category in FRAGMENT_CATEGORIES


@dataclass(frozen=True)
class DataFlow:
    """Edges between ops, model inputs included.

    Attributes:
        nodes: every op by id.
        preds: distinct producers of each op, model inputs as negative ids.
        consumers: the ops reading each producer's output, in execution order.
        input_metas: the model input behind each negative id.
        dynamic: the ops whose output depends on a model input; every other op is static
            (it computes from parameters, buffers and constants only).
    """

    nodes: Mapping[int, OpNode]
    preds: Mapping[int, tuple[int, ...]]
    consumers: Mapping[int, tuple[int, ...]]
    input_metas: Mapping[int, TensorMeta]
    dynamic: frozenset[int] = frozenset()

    def is_static(self, node_id: int, argument: int) -> bool:
        """Whether the ``argument``-th distinct tensor argument of op ``node_id`` depends on no model
        input: a parameter, a buffer, a constant, or an op computing from those only (a weight's
        transpose, view or cast)."""
        node = self.nodes[node_id]
        producer = node.inputs[argument]
        if producer is None:
            return node.input_metas[argument] not in self._input_set
        return producer not in self.dynamic

    @property
    def _input_set(self) -> frozenset[TensorMeta]:
        return frozenset(self.input_metas.values())

    def is_view(self, node_id: int) -> bool:
        return node_id >= 0 and self.nodes[node_id].category == Category.VIEW

    def output_bytes(self, node_id: int) -> int:
        """Bytes of the (first) tensor a node produces."""
        if node_id < 0:
            return self.input_metas[node_id].nbytes
        metas = self.nodes[node_id].output_metas
        return metas[0].nbytes if metas else 0


def dataflow(analysis: Analysis) -> DataFlow:
    """Build the edges once; every metric walks them."""
    inputs: dict[TensorMeta, int] = {}
    for index, meta in enumerate(analysis.inputs):
        if isinstance(meta, TensorMeta):
            inputs.setdefault(meta, -(index + 1))
    preds: dict[int, tuple[int, ...]] = {}
    consumers: dict[int, list[int]] = {}
    dynamic: set[int] = set()
    for node in analysis.ops:
        found: list[int] = []
        for producer, meta in zip(node.inputs, node.input_metas):
            if producer is None:
                producer = inputs.get(meta)  # a parameter or constant stays None: no edge
            if producer is not None and producer not in found:
                found.append(producer)
        preds[node.id] = tuple(found)
        if any(p < 0 or p in dynamic for p in found):  # execution order: producers come first
            dynamic.add(node.id)
        for producer in found:
            consumers.setdefault(producer, []).append(node.id)
    return DataFlow(
        nodes={node.id: node for node in analysis.ops},
        preds=preds,
        consumers={k: tuple(v) for k, v in consumers.items()},
        input_metas={v: k for k, v in inputs.items()},
        dynamic=frozenset(dynamic),
    )
