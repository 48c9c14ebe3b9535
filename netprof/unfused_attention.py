"""Find attention that reached ATen unfused, and give its ops the attention category.

Without a fused kernel (on the meta device, for one) ``F.scaled_dot_product_attention``
runs its math path: ``bmm(Q, K^T)`` -> scale / mask -> ``_safe_softmax`` ->
``bmm(P, V)``. ``_safe_softmax`` exists for that path alone, so each one marks
an attention call; the region is every op between the two products along the
data-flow edges, the products included. Intercepting the Python-level call
instead would need a TorchFunctionMode, and an active one switches off the
no-grad fast paths of ``nn.MultiheadAttention``, changing what is measured.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable

from netprof.costs import Category
from netprof.graph import OpNode

_SOFTMAX = "aten._safe_softmax.default"
_PRODUCT = str(Category.GEMM)
# Ops that can sit between a product and the softmax: reshapes, scaling, masking.
_PASS_THROUGH = {str(Category.VIEW), str(Category.ELEMENTWISE), str(Category.DATA_MOVEMENT), str(Category.OTHER)}


def _walk(start: OpNode, neighbours: Callable[[OpNode], Iterable[OpNode]]) -> set[int]:
    """Ids reached from ``start`` through pass-through ops, up to and including the first products."""
    region: set[int] = set()
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for neighbour in neighbours(node):
            if neighbour.id in region:
                continue
            if neighbour.category == _PRODUCT:
                region.add(neighbour.id)
            elif neighbour.category in _PASS_THROUGH:
                region.add(neighbour.id)
                frontier.append(neighbour)
    return region


def label_unfused_attention(nodes: tuple[OpNode, ...]) -> tuple[OpNode, ...]:
    softmaxes = [node for node in nodes if node.op == _SOFTMAX]
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
        region |= {softmax.id} | _walk(softmax, producers) | _walk(softmax, users)
    attention = str(Category.ATTENTION)
    return tuple(
        dataclasses.replace(node, category=attention)
        if node.id in region and node.category != str(Category.VIEW)
        else node
        for node in nodes
    )
