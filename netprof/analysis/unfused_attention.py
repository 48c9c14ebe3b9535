"""Find attention that reached ATen unfused, and give its ops the attention category.

Without a fused kernel (on the meta device, for one) ``F.scaled_dot_product_attention``
runs its math path: ``bmm(Q, K^T)`` -> scale / mask -> ``_safe_softmax`` ->
``bmm(P, V)``; ``nn.MultiheadAttention`` with ``need_weights=True`` does the same
with ``_softmax``. A softmax that reads a product of two computed tensors and
feeds one is attention: the region is every op on a data-flow path from the
first product through the softmax to the second, the products included. A
classifier's softmax feeds no product, so it stays element-wise; what builds a
mask or a position bias (Swin's shifted-window mask, its bias table's gather)
feeds the scores but no product reaches it, so it keeps its own category.
Intercepting the Python-level call instead would need a TorchFunctionMode, and
an active one switches off the no-grad fast paths of ``nn.MultiheadAttention``,
changing what is measured.
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


def _is_product(node: OpNode) -> bool:
    """A matrix product of two computed tensors (Q and K^T, P and V); a layer's product with its weight
    reads a parameter (Swin V2's position-bias MLP), which no op computes."""
    return node.category == _PRODUCT and None not in node.inputs


Neighbours = Callable[[OpNode], Iterable[OpNode]]


def _walk(start: OpNode, neighbours: Neighbours) -> tuple[set[int], set[int]]:
    """Ids reached from ``start`` through pass-through ops, and the products where the walk stopped."""
    region: set[int] = set()
    products: set[int] = set()
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for neighbour in neighbours(node):
            if neighbour.id in region or neighbour.id in products:
                continue
            if _is_product(neighbour):
                products.add(neighbour.id)
            elif neighbour.category in _PASS_THROUGH:
                region.add(neighbour.id)
                frontier.append(neighbour)
    return region, products


def _on_paths(region: set[int], products: set[int], back: Neighbours, nodes: tuple[OpNode, ...]) -> set[int]:
    """The products and the ids of ``region`` reached from them through ``region`` in the direction
    ``back`` goes: the walk from the softmax also took what feeds the scores beside the product (a mask,
    a bias), which lies on no path from it."""
    kept, frontier = set(products), [nodes[i] for i in products]
    while frontier:
        for neighbour in back(frontier.pop()):
            if neighbour.id in region and neighbour.id not in kept:
                kept.add(neighbour.id)
                frontier.append(neighbour)
    return kept


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
        scores, first = _walk(softmax, producers)
        weighted, second = _walk(softmax, users)
        if first and second:
            region |= {softmax.id} | _on_paths(scores, first, users, nodes)
            region |= _on_paths(weighted, second, producers, nodes)
    attention = str(Category.ATTENTION)
    return tuple(
        dataclasses.replace(node, category=attention)
        if node.id in region and node.category != str(Category.VIEW)
        else node
        for node in nodes
    )
