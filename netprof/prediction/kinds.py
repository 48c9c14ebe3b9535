"""The kind of an op for latency: its cost category, split where one category runs unlike kernels.

A device profile fits one latency model per kind. Categories are the counting
conventions' (``netprof.costs.Category``), split three ways: a dense convolution
into 1x1 and larger kernels (different kernels, different efficiencies);
element-wise ops into plain arithmetic and transcendental functions (a sigmoid
or GELU costs several times a ReLU per element); pooling into max and average;
reductions into plain ones, top-k and sorts (a detector's candidate selection: their
cost is in the values they read, ~7 ns each for a top-10 of 1.3 M scores on a CPU, where
a sum reads 100 times faster), and a detector's non-maximum suppression (its cost grows
with the pairs of boxes, which its flops count, at a per-pair price no reduction has);
data movement into plain copies and indexing by a boolean mask (``boxes[scores > t]``:
the kernel first finds the mask's true elements, ~15 us for a few thousand on a CPU,
whatever the few bytes it then copies).
"""

from __future__ import annotations

import enum

import torch

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
    Category.REDUCTION: ("reduction", "topk", "nms"),
    Category.DATA_MOVEMENT: ("data_movement", "masked_index"),
}
Kind = _Named("Kind", [(name.upper(), name) for c in Category for name in _SPLIT.get(c, (c.value,))])


# Element-wise functions that evaluate exp, log, erf or a root per element (softmax included).
_TRANSCENDENTAL = frozenset(
    {"gelu", "silu", "sigmoid", "tanh", "exp", "log", "erf", "softmax", "_softmax", "_safe_softmax",
     "log_softmax", "_log_softmax", "softplus", "mish", "elu", "selu", "celu", "sqrt", "rsqrt", "pow"}
)  # fmt: skip
_SELECTIONS = frozenset({"topk", "sort", "kthvalue", "median", "nanmedian", "mode"})
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
    if category == Category.REDUCTION and _base(node.op) == "nms":
        return Kind.NMS
    if category == Category.REDUCTION and _base(node.op) in _SELECTIONS:
        return Kind.TOPK
    masks = (meta.dtype in (torch.bool, torch.uint8) for meta in node.input_metas[1:])
    if category == Category.DATA_MOVEMENT and _base(node.op) == "index" and any(masks):
        return Kind.MASKED_INDEX
    return Kind(category.value)


def transient_bytes(node: OpNode, threshold_bytes: int) -> int:
    """A depthwise or grouped convolution's per-call buffers (input plus output bytes) when they exceed
    ``threshold_bytes``, else 0. A profile sets the threshold at half its last-level cache.

    On CPU a grouped convolution runs on oneDNN in a blocked layout: each call reorders its plain
    input into a new buffer and its result back, buffers freed at the end of the call. In a network
    large ones land at the top of glibc's heap, which is handed back to the kernel after the call, so
    the next pass touches them as fresh pages (a page fault and a zeroed page per 4 KiB, ~1.3 us here:
    mobilenet_v2's 96-channel 112x112 stride-2 depthwise takes 2.1 ms in the network, 0.6 ms alone,
    with 1176 minor faults per pass, 4.8 MB, its input's size; at batch 8 its 14,000 faults are a
    third of the network's time). A loop of one op never sees this: the same pages come back every
    pass. Small buffers come from the heap's free lists and rarely fault; where the line falls depends
    on the allocator's history, so the profile fits the price on synthetic networks and the threshold
    (half the LLC) was chosen on the torchvision models among 0.5, 1, 2, 4, 8 and 16 MiB.
    """
    if Category(node.category) not in (Category.DEPTHWISE_CONV, Category.GROUP_CONV) or not node.input_metas:
        return 0
    moved = node.input_metas[0].nbytes + sum(meta.nbytes for meta in node.output_metas)
    return moved if moved > threshold_bytes else 0


def past_cache_bytes(node: OpNode, llc_bytes: int) -> int:
    """The bytes an op moves beyond what the last-level cache holds: ``max(0, mem_access_bytes - llc)``.

    An op whose inputs, weights and outputs fit in the LLC streams them from cache, and its producer left
    them there; past that size the rest comes from DRAM, at a higher cost per byte.
    """
    return max(0, node.mem_access_bytes - llc_bytes)


def weight_bytes(node: OpNode) -> int:
    """A convolution's weight bytes: CPU backends re-layout the weight on every call, a cost in its size."""
    if Category(node.category) in _CONVOLUTIONS and len(node.input_metas) > 1:
        return node.input_metas[1].nbytes
    return 0
