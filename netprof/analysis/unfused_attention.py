"""Find attention that reached ATen unfused, and give its ops the attention category.

Without a fused kernel (on the meta device, for one) ``F.scaled_dot_product_attention``
runs its math path: ``bmm(Q, K^T)`` -> scale / mask -> ``_safe_softmax`` ->
``bmm(P, V)``; ``nn.MultiheadAttention`` with ``need_weights=True`` does the same
with ``_softmax``. A softmax that reads a product and feeds a product is
attention: the region is every op between the two products along the data-flow
edges, the products included. A classifier's softmax feeds no product, so it
stays element-wise. Intercepting the Python-level call instead would need a
TorchFunctionMode, and an active one switches off the no-grad fast paths of
``nn.MultiheadAttention``, changing what is measured.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable

from netprof.analysis.pricing import OpNode
from netprof.costs import Category

_SOFTMAXES = frozenset({"aten._safe_softmax.default", "aten._softmax.default"})
_PRODUCT = str(Category.GEMM)
# Ops that can sit between a product and the softmax: reshapes, scaling, masking.
_PASS_THROUGH = {
    str(Category.VIEW),
    str(Category.ELEMENTWISE),
    str(Category.DATA_MOVEMENT),
    str(Category.OTHER),
}


def _walk(start: OpNode, neighbours: Callable[[OpNode], Iterable[OpNode]]) -> tuple[set[int], bool]:
    """Ids reached from ``start`` through pass-through ops, up to and including the first products,
    and whether any product was reached."""
    region: set[int] = set()
    reached_product = False
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for neighbour in neighbours(node):
            if neighbour.id in region:
                continue
            if neighbour.category == _PRODUCT:
                region.add(neighbour.id)
                reached_product = True
            elif neighbour.category in _PASS_THROUGH:
                region.add(neighbour.id)
                frontier.append(neighbour)
    return region, reached_product


def label_unfused_attention(nodes: tuple[OpNode, ...]) -> tuple[OpNode, ...]:
    softmaxes = [node for node in nodes if node.op in _SOFTMAXES]
    if not softmaxes:
        return nodes
    consumers: dict[int, list[OpNode]] = defaultdict(list)
    for node in nodes:
        for producer in node.inputs:
            if producer is not None:
                consumers[producer].append(node)

    def producers(node: OpNode) -> list[OpNode]:
        return [nodes[i] for i in node.inputs if i is not None]

    def users(node: OpNode) -> list[OpNode]:
        return consumers[node.id]

    region: set[int] = set()
    for softmax in softmaxes:
        scores, from_product = _walk(softmax, producers)
        weighted, to_product = _walk(softmax, users)
        if from_product and to_product:
            region |= {softmax.id} | scores | weighted
    attention = str(Category.ATTENTION)
    return tuple(
        dataclasses.replace(node, category=attention)
        if node.id in region and node.category != str(Category.VIEW)
        else node
        for node in nodes
    )
