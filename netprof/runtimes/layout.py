"""Where ONNX Runtime's blocked layout ends and begins again: the reorders a capture implies.

ONNX Runtime's CPU provider runs convolutions, pooling and what follows them in a
blocked layout (NCHWc, blocks of 16 channels with AVX-512: ``nchwc_transformer.cc``)
and every other op in plain NCHW, with a ``ReorderOutput`` kernel where a blocked
tensor is read by a plain op and a ``ReorderInput`` where a plain one is read by a
blocked op. A squeeze-and-excitation block costs four (its feature map out of the
blocked layout for the mean and the broadcast multiply, the mean into it, the gate
out, the product back in: 0.16 ms of MobileNetV3-Large's 3.2 ms here), a RegNet's
unaligned grouped convolution two. Which ops run blocked, observed in ONNX Runtime
1.32's optimized graphs (one thread, AVX-512):

- a dense convolution of at least 16 input channels that are a multiple of 4; one
  of fewer reads plain NCHW directly and writes blocks; a depthwise one of channels
  a multiple of 4; a grouped one whose groups' channels are multiples of 16;
- max and average pooling and upsampling of channels a multiple of 16; a
  concatenation of inputs each a multiple of 16 channels, when all are blocked;
- an element-wise op of one input (an activation, a batch-norm) in its input's
  layout; one of several inputs of the output's shape when all are blocked (a
  residual add); one that broadcasts (the excitation's multiply) runs plain;
- everything else (a mean, a reshape, a matrix multiply, a split) runs plain.

``layout_class`` reads an op's class from its shapes when it is captured;
``reorders`` walks a capture's ops in order and places the reorders.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netprof.analysis import OpNode
from netprof.costs import Category
from netprof.prediction.kinds import NCHWC_BLOCK, is_int8, op_base, unaligned_channels, unaligned_groups

if TYPE_CHECKING:
    from netprof.runtimes.fusion import FusionOp

# The reorder kernels' op types in each runtime's profiler whose layouts ``reorders`` places.
REORDER_OPS = {"onnxruntime": frozenset({"ReorderInput", "ReorderOutput"})}


class Layout(str, enum.Enum):
    BLOCKED = "blocked"  # reads and writes blocks: a plain input is reordered in
    DIRECT = "direct"  # reads plain, writes blocks (a convolution of few input channels)
    FOLLOWS = "follows"  # runs in its one input's layout
    JOINS = "joins"  # blocked when all its inputs are, else plain
    PLAIN = "plain"

    def __str__(self) -> str:
        return self.value


_CONVOLUTIONS = frozenset({Category.CONV, Category.GROUP_CONV, Category.DEPTHWISE_CONV})
_ELEMENTWISE = frozenset({Category.ELEMENTWISE, Category.NORMALIZATION})
_POOLS = frozenset({"max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d"})
_UPSAMPLES = frozenset({"upsample_nearest2d", "upsample_bilinear2d", "_upsample_nearest_exact2d"})


def _blocks(channels: int) -> bool:
    return channels % NCHWC_BLOCK == 0


def layout_class(node: OpNode) -> Layout:
    """How ONNX Runtime lays out the op's output (the module docstring); int8 ops and ops not on 4-D
    tensors run plain."""
    if not node.input_metas or not node.output_metas or is_int8(node):
        return Layout.PLAIN
    x, out = node.input_metas[0], node.output_metas[0]
    if len(x.shape) != 4 or len(out.shape) != 4:
        return Layout.PLAIN
    category, base, channels = Category(node.category), op_base(node.op), x.shape[1]
    if category in _CONVOLUTIONS:
        if category is Category.DEPTHWISE_CONV:
            return Layout.PLAIN if unaligned_channels(node) else Layout.BLOCKED
        if category is Category.GROUP_CONV:
            return Layout.PLAIN if unaligned_groups(node) else Layout.BLOCKED
        if channels < NCHWC_BLOCK:
            return Layout.DIRECT
        return Layout.BLOCKED if channels % 4 == 0 else Layout.PLAIN
    if base in _POOLS or base in _UPSAMPLES:
        one_by_one = base == "adaptive_avg_pool2d" and out.shape[2:] == (1, 1)  # exported as a ReduceMean
        return Layout.BLOCKED if _blocks(channels) and not one_by_one else Layout.PLAIN
    if base == "cat":
        aligned = all(len(m.shape) == 4 and _blocks(m.shape[1]) for m in node.input_metas)
        return Layout.JOINS if aligned else Layout.PLAIN
    if category in _ELEMENTWISE:
        if base in ("native_batch_norm", "_native_batch_norm_legit_no_training", "batch_norm"):
            return Layout.FOLLOWS
        tensors = [m for m in node.input_metas if m.shape]
        if any(m.shape != out.shape for m in tensors):
            return Layout.PLAIN  # a broadcast
        activations = sum(source is not None for source in node.inputs)
        return Layout.JOINS if activations > 1 else Layout.FOLLOWS
    return Layout.PLAIN


@dataclass(frozen=True, slots=True)
class Reorder:
    """One reorder kernel: the op whose layout needs it (a plain reader of a blocked tensor, or a blocked
    reader of a plain one) and the bytes of the tensor it reorders."""

    op: int
    nbytes: int


def reorders(ops: Sequence[FusionOp]) -> tuple[Reorder, ...]:
    """The reorders ONNX Runtime runs between ``ops`` (``fusion.FusionOp``s, in capture order): one out of
    the blocked layout per blocked tensor a plain op (or the model's output) reads, one into it per plain
    tensor (or the model's input) a blocked op reads."""
    consumed = {source for op in ops for source in op.inputs if source is not None}
    blocked: dict[int, bool] = {}
    out_of: set[int] = set()  # blocked tensors already reordered out
    into: set[int | None] = set()  # plain tensors already reordered in (None: the model's input)
    found: list[Reorder] = []
    by_id = {op.id: op for op in ops}

    def leave(source: int, reader: int) -> None:
        if blocked.get(source) and source not in out_of:
            out_of.add(source)
            found.append(Reorder(reader, by_id[source].output_bytes))

    for op in ops:
        sources = [s for s in op.inputs if s is not None and s in by_id]
        first = op.inputs[0] if op.inputs else None
        layout = Layout(op.layout)
        if layout is Layout.FOLLOWS:
            blocked[op.id] = bool(first is not None and blocked.get(first))
        elif layout is Layout.JOINS:
            blocked[op.id] = bool(sources) and all(blocked.get(s) for s in sources)
        else:
            blocked[op.id] = layout in (Layout.BLOCKED, Layout.DIRECT)
        if layout is Layout.BLOCKED and not (first is not None and blocked.get(first)) and first not in into:
            into.add(first)
            found.append(Reorder(op.id, op.input_bytes))
        if not blocked[op.id] or layout is Layout.DIRECT:
            for source in sources:
                leave(source, op.id)
    for op in ops:
        if op.id not in consumed:
            leave(op.id, op.id)  # the model's output, returned plain
    return tuple(found)
