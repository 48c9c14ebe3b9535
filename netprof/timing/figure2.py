"""The run-time breakdown of ShuffleNet V2's Figure 2: Conv, Data, Elemwise, Shuffle, Other.

The paper names its categories without defining them; its text says "the FLOPs
metric only account[s] for the convolution part ... other operations including
data I/O, data shuffle and element-wise operations (AddTensor, ReLU, etc)
also occupy considerable amount of time". netprof maps its own categories so:

========  ==================================================================
Conv      every op that has multiply-adds: conv, group_conv, depthwise_conv,
          gemm (the classifier), attention. This is exactly the part FLOPs
          count. Depthwise convs stay here: G4 calls them element-wise-like for
          their MAC/FLOPs ratio, but Figure 2 reports them as convolutions.
Shuffle   channel shuffle: ``channel_shuffle`` / ``native_channel_shuffle``,
          and a copy (``clone``, ``contiguous``, ``copy_``, ``_to_copy``) of a
          tensor that reached it through views including a ``transpose`` or
          ``permute`` (``view -> transpose -> contiguous``, the ShuffleNet idiom;
          a transformer's head reshuffles land here too).
Data      the other data movement: cat, copies, padding, upsampling, indexing.
Elemwise  elementwise and normalization (batch norm at inference is a
          per-channel affine map, applied element by element).
Other     pooling, reductions, views, allocations and ops without a formula.
========  ==================================================================

Python and framework time between kernels is in no category: it is the
overhead line (the paper's G3 cost), reported beside the breakdown.
"""

from __future__ import annotations

from netprof.analysis.pricing import OpNode
from netprof.costs.types import Category

FIGURE2 = ("Conv", "Data", "Elemwise", "Shuffle", "Other")

_OF_CATEGORY: dict[str, str] = {
    Category.CONV: "Conv",
    Category.GROUP_CONV: "Conv",
    Category.DEPTHWISE_CONV: "Conv",
    Category.GEMM: "Conv",
    Category.ATTENTION: "Conv",
    Category.DATA_MOVEMENT: "Data",
    Category.ELEMENTWISE: "Elemwise",
    Category.NORMALIZATION: "Elemwise",
}
_SHUFFLE_OPS = ("aten.channel_shuffle.", "aten.native_channel_shuffle.")
_COPY_OPS = ("aten.clone.", "aten.contiguous.", "aten.copy_.", "aten._to_copy.")
_REORDER_OPS = ("aten.transpose.", "aten.permute.")


def _reordered(node: OpNode, nodes: tuple[OpNode, ...]) -> bool:
    """Did one of ``node``'s inputs reach it through views that include a transpose or permute?"""
    pending = [i for i in node.inputs if i is not None]
    seen: set[int] = set()
    while pending:
        producer = nodes[pending.pop()]
        if producer.id in seen or producer.category != Category.VIEW:
            continue
        seen.add(producer.id)
        if producer.op.startswith(_REORDER_OPS):
            return True
        pending.extend(i for i in producer.inputs if i is not None)
    return False


def figure2_category(node: OpNode, nodes: tuple[OpNode, ...]) -> str:
    """``node``'s Figure-2 category; ``nodes`` is the whole graph, indexed by op id."""
    if node.op.startswith(_SHUFFLE_OPS):
        return "Shuffle"
    if node.op.startswith(_COPY_OPS) and _reordered(node, nodes):
        return "Shuffle"
    return _OF_CATEGORY.get(node.category, "Other")
