"""Which captured ops a runtime runs as one kernel: fusion pairs, measured, and the grouping they give.

A deployment runtime fuses an activation, a batch-norm or a residual add into
the convolution or matrix multiply before it. Which pairs it fuses is measured,
not assumed, two ways: by the runtime's profiler (the pair ran as one kernel in
most places of the calibration's benchmarks and networks where the follower came
right after such an anchor), and, where no profiler saw the pair, by nn-Meter's
rule (Zhang et al., MobiSys 2021): ops 1 and 2 fuse when ``T1 + T2 - T12 > 0.5 *
min(T1, T2)``, where ``T12`` is the two in one model. The profiler decides where it
saw the pair: ONNX Runtime fuses a ReLU6 into its convolution at no saving the
timing rule could see, and OpenVINO fuses a residual add into a convolution in a
network but not in the pair's own three-op model. ``group_kernels`` then walks a
capture in order and lets a follower join the kernel that writes its input when
the runtime fuses that pair, the kernel's result is read by nothing else, and the
follower comes later in a fused kernel's order (batch-norm, then the residual
add, then one activation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from netprof.analysis import OpNode
from netprof.prediction.kinds import Kind, kind_of, op_base, weight_bytes
from netprof.runtimes.layout import Layout, layout_class

# The op kinds a fused kernel starts from, by the name fusion pairs use.
ANCHORS = {
    str(Kind.CONV_1X1): "conv",
    str(Kind.CONV_KXK): "conv",
    str(Kind.CONV_STEM): "conv",
    str(Kind.GROUP_CONV): "conv",
    str(Kind.GROUP_CONV_UNALIGNED): "conv",
    str(Kind.DEPTHWISE_CONV): "depthwise_conv",
    str(Kind.DEPTHWISE_UNALIGNED): "depthwise_conv",
    str(Kind.GEMM): "linear",
}
# Followers by the op's name (no namespace, overload or in-place mark), and their place in a kernel.
_FOLLOWERS = {
    "native_batch_norm": "batch_norm",
    "_native_batch_norm_legit_no_training": "batch_norm",
    "batch_norm": "batch_norm",
    "add": "add",
    "relu": "relu",
    "hardtanh": "clip",
    "clamp": "clip",
    "relu6": "clip",
    "hardswish": "hardswish",
    "silu": "silu",
    "sigmoid": "sigmoid",
    "gelu": "gelu",
}
STAGES = {"batch_norm": 0, "add": 1, "relu": 2, "clip": 2, "hardswish": 2, "silu": 2, "sigmoid": 2, "gelu": 2}
_VIEW = "view"  # a view passes through a kernel with an anchor: it moves nothing


def fuses(first_s: float, second_s: float, both_s: float) -> bool:
    """nn-Meter's rule: the pair saves more than half the cheaper op's time when run as one model."""
    return first_s + second_s - both_s > 0.5 * min(first_s, second_s)


@dataclass(frozen=True, slots=True)
class FusionPair:
    """One measured pair: the anchor alone, the follower alone and both, each less the per-run cost, and
    the profiler's evidence: ``seen`` places the follower came right after such an anchor, ``together``
    of them in its kernel."""

    anchor: str
    follower: str
    first_s: float
    second_s: float
    both_s: float
    seen: int = 0
    together: int = 0

    @property
    def fused(self) -> bool:
        if self.seen:
            return 2 * self.together > self.seen
        return fuses(self.first_s, self.second_s, self.both_s)


def fused_pairs(pairs: Sequence[FusionPair]) -> frozenset[tuple[str, str]]:
    return frozenset((p.anchor, p.follower) for p in pairs if p.fused)


@dataclass(frozen=True, slots=True)
class FusionOp:
    """What grouping and pricing need of a captured op; a pack's manifest carries these, not models."""

    id: int
    kind: str
    role: str | None  # follower name, "view", or None
    inputs: tuple[int | None, ...]
    flops: int
    mem_access_bytes: int
    weight_bytes: int
    layout: str = str(Layout.PLAIN)  # ONNX Runtime's layout of its output (``layout.layout_class``)
    input_bytes: int = 0  # its first input's
    output_bytes: int = 0


# Views in PyTorch that an exported graph computes as copies (ONNX Split, Slice, Gather).
_SLICES = frozenset({"split", "split_with_sizes", "chunk", "slice", "narrow", "select", "unbind"})


def fusion_op(node: OpNode) -> FusionOp:
    """A slice is a view to PyTorch but a copy to a runtime: it is data movement of its output, read and
    written."""
    kind, base = kind_of(node), op_base(node.op)
    if kind is Kind.VIEW and base in _SLICES:
        moved = 2 * sum(meta.nbytes for meta in node.output_metas)
        return FusionOp(node.id, str(Kind.DATA_MOVEMENT), None, node.inputs, 0, moved, 0, *_layout(node))
    role = _VIEW if kind is Kind.VIEW else _FOLLOWERS.get(base)
    return FusionOp(
        node.id,
        str(kind),
        role,
        node.inputs,
        node.flops,
        node.mem_access_bytes,
        weight_bytes(node),
        *_layout(node),
    )


def runtime_ops(nodes: Sequence[OpNode]) -> list[FusionOp]:
    """The ops a runtime runs for each input: not the constant ones (``CapturedOp.constant``), which
    an exported graph holds as initializers and a runtime folds when it loads the model."""
    return [fusion_op(node) for node in nodes if not node.constant]


def _layout(node: OpNode) -> tuple[str, int, int]:
    """What ``layout.reorders`` needs of the op: its layout class, its first input's and output's bytes."""
    first = node.input_metas[0].nbytes if node.input_metas else 0
    output = node.output_metas[0].nbytes if node.output_metas else 0
    return str(layout_class(node)), first, output


@dataclass(frozen=True, slots=True)
class KernelGroup:
    """One kernel: the op that starts it (priced) and every op it computes, that one first."""

    kind: str
    ops: tuple[int, ...]

    @property
    def anchor(self) -> int:
        return self.ops[0]


@dataclass(slots=True)
class _Open:
    kind: str
    anchor: str | None  # the anchor's fusion name, None for a kernel nothing fuses into
    ops: list[int]
    output: int  # the op whose result the kernel writes so far
    stage: int = -1


def group_kernels(ops: Sequence[FusionOp], fused: Collection[tuple[str, str]]) -> tuple[KernelGroup, ...]:
    """The kernels ``ops`` (in capture order) run as, when the runtime fuses the ``(anchor, follower)``
    pairs in ``fused``."""
    consumers = Counter(source for op in ops for source in set(op.inputs) if source is not None)
    kernels: list[_Open] = []
    kernel_of: dict[int, int] = {}
    for op in ops:
        joined = None
        if op.role is not None:
            for source in op.inputs:
                index = kernel_of.get(source) if source is not None else None
                if index is None:
                    continue
                kernel = kernels[index]
                if kernel.anchor is None or kernel.output != source or consumers[source] != 1:
                    continue
                if op.role == _VIEW or ((kernel.anchor, op.role) in fused and STAGES[op.role] > kernel.stage):
                    joined = index
                    break
        if joined is None:
            kernel_of[op.id] = len(kernels)
            kernels.append(_Open(op.kind, ANCHORS.get(op.kind), [op.id], op.id))
            continue
        kernel = kernels[joined]
        kernel.ops.append(op.id)
        kernel.output = op.id
        if op.role != _VIEW:
            kernel.stage = STAGES[op.role]
        kernel_of[op.id] = joined
    return tuple(KernelGroup(k.kind, tuple(k.ops)) for k in kernels)


def kernel_counts(
    ops: Sequence[FusionOp], fused: Collection[tuple[str, str]]
) -> dict[str, tuple[int, int, int, int]]:
    """Per kind: ``(kernels, flops, mem_access_bytes, weight_bytes)`` of the kernels it starts; what a
    fused follower computes is priced in its kernel's launch, not again."""
    by_id = {op.id: op for op in ops}
    counts: dict[str, list[int]] = {}
    for kernel in group_kernels(ops, fused):
        anchor = by_id[kernel.anchor]
        entry = counts.setdefault(kernel.kind, [0, 0, 0, 0])
        entry[0] += 1
        entry[1] += anchor.flops
        entry[2] += anchor.mem_access_bytes
        entry[3] += anchor.weight_bytes
    return {kind: (n, flops, nbytes, weights) for kind, (n, flops, nbytes, weights) in counts.items()}
