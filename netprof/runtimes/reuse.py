"""The bytes of a network's pass that come from DRAM: what it last touched a pass ago, past the cache.

A one-op micro-benchmark touches the same bytes every run, so its kernel finds its
weights, its input and its output buffer in the cache. In a network three kinds of
bytes were last touched a whole pass ago: every weight (read once per pass), the
model's input, and the output buffers a pass allocates anew. A runtime's memory
planner hands a kernel's output a buffer freed earlier in the pass when one is large
enough; where none is, the buffer grows into memory only the same kernel of the last
pass touched (the large maps of a network's first layers). Measured on this
project's AMD EPYC (ONNX Runtime 1.32, one thread, a 32 MiB L3): a chain of
``Linear(1024, 1024)`` layers ran 52 us a layer up to 17 MB of weights, 87 us at
34 MB, 104 us at 67 MB and 111 us at 134 MB; mobilenet_v2's first convolution, 95 us
alone, took 232 us as the first kernel of a pass.

The share of those bytes the cache has lost depends on the footprint, every kernel's
weights and output, as it does for a loop reading that many bytes over and over
(``pack_run.cache_probe``): none up to what the cache holds, all past what it loses,
and in between a share rising with the log of the footprint (``PassCache``). The
calibration measures both sizes; where it could not, they are half and four times
the last-level cache Linux lists, which gives the linear chain above 0%, 33%, 67%
and 100% of the 134 MB chain's slowdown at 17, 34, 67 and 134 MB, against 0%, 59%,
88% and 100% measured. On a virtual machine's share of a large cache the two differ
most: on this project's Xeon, whose L3 Linux lists as 480 MiB, the probe measured a
pass held whole up to 48-84 MiB and lost past 146-586 MiB over 20 calibrations.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from netprof.prediction.kinds import Kind
from netprof.runtimes.fusion import FusionOp, KernelGroup

# Kernels that allocate nothing: a view aliases its input, an allocation is written by the kernel after it.
_ALIASES = frozenset({str(Kind.VIEW), str(Kind.OTHER)})


def resident_weights(op: FusionOp) -> int:
    """The bytes of an op's weights: a convolution's weight; a matrix multiply's operands other than its
    first input (its weight and bias at batch 1, where the activation is a sliver of them)."""
    if op.weight_bytes or op.kind != str(Kind.GEMM):
        return op.weight_bytes
    return max(0, op.mem_access_bytes - op.input_bytes - op.output_bytes)


def footprint_bytes(ops: Mapping[int, FusionOp], kernels: Sequence[KernelGroup]) -> int:
    """Bytes one pass touches between two reads of a weight: every kernel's weights and output (a view's
    output is its input's bytes)."""
    return sum(
        resident_weights(ops[k.anchor]) + ops[k.ops[-1]].output_bytes
        for k in kernels
        if k.kind not in _ALIASES
    )


class PassCache(NamedTuple):
    """What the last-level cache keeps of a pass for the next: all of it while the pass touches at most
    ``holds_bytes``, none once it touches ``loses_bytes``; nothing is priced where both are 0 (unknown).
    ``miss_s_per_byte``: what a byte it lost cost more than one it kept where the probe measured it."""

    holds_bytes: int = 0
    loses_bytes: int = 0
    miss_s_per_byte: float = 0.0

    @classmethod
    def of_llc(cls, llc_bytes: int) -> PassCache:
        """Where only the cache's size is known: half of it held, four times it lost."""
        return cls(llc_bytes // 2, 4 * llc_bytes)

    @property
    def middle_bytes(self) -> int:
        """The footprint of which the cache loses half."""
        return round(math.sqrt(self.holds_bytes * self.loses_bytes))


UNKNOWN_CACHE = PassCache()


def evicted_share(footprint: int, cache: PassCache) -> float:
    """The share of a pass's bytes from the pass before that miss the last-level cache: 0 up to what it
    holds, 1 past what it loses, the log of the footprint's place between them in between."""
    holds, loses = max(1, cache.holds_bytes), cache.loses_bytes
    if loses <= holds or footprint <= holds:
        return 0.0
    if footprint >= loses:
        return 1.0
    return math.log(footprint / holds) / math.log(loses / holds)


def fresh_output_bytes(ops: Mapping[int, FusionOp], kernels: Sequence[KernelGroup]) -> dict[int, int]:
    """Per kernel's anchor: the bytes of its output no buffer freed earlier in the pass could hold.

    Buffers are handed out best fit: the smallest free one large enough, else the largest free one grown
    (its growth is fresh), else a new one; a buffer is free once the last kernel reading it has run.
    """
    kernel_of = {op_id: index for index, kernel in enumerate(kernels) for op_id in kernel.ops}
    owner: dict[int, int] = {}  # kernel -> the kernel whose buffer holds its output
    last_read: dict[int, int] = {}  # buffer (its kernel) -> the last kernel reading it
    for index, kernel in enumerate(kernels):
        sources = [
            kernel_of[s]
            for op_id in kernel.ops
            for s in ops[op_id].inputs
            if s is not None and s in kernel_of and kernel_of[s] != index
        ]
        for source in sources:
            if source in owner:
                last_read[owner[source]] = index
        if kernel.kind not in _ALIASES:
            owner[index] = index
        elif sources and sources[0] in owner:
            owner[index] = owner[sources[0]]
    free: list[int] = []  # sizes of free buffers, sorted
    size: dict[int, int] = {}
    fresh: dict[int, int] = {}
    releases = sorted((read, buffer) for buffer, read in last_read.items())
    released = 0
    for index, kernel in enumerate(kernels):
        while released < len(releases) and releases[released][0] < index:
            bisect.insort(free, size.pop(releases[released][1], 0))
            released += 1
        if owner.get(index) != index:
            continue
        wanted = ops[kernel.ops[-1]].output_bytes
        fit = bisect.bisect_left(free, wanted)
        if fit < len(free):
            size[index] = free.pop(fit)
            fresh[kernel.anchor] = 0
        else:
            grown = free.pop() if free else 0
            size[index] = wanted
            fresh[kernel.anchor] = wanted - grown
    return fresh


class Cold(NamedTuple):
    """The bytes a kernel fetches from DRAM: weights, and buffers (the model's input, a fresh output).
    Priced apart, as runtimes plan buffers apart (a profile's notes say what each byte cost)."""

    weights: float = 0.0
    buffers: float = 0.0


NONE_FETCHED = Cold()


# The most times a pass uses each weight of a matrix-vector product: a linear layer on up to 4 rows, a 1x1
# convolution on up to 4 pixels (squeeze-and-excitation's).
STREAMED_USES = 4


def streamed_weights(op: FusionOp, fetched: Cold = NONE_FETCHED) -> float:
    """The weights of a matrix-vector product (each used at most ``STREAMED_USES`` times a pass) that the
    last-level cache kept, else 0: those it lost, ``fetched.weights`` (``cold_bytes``), cost DRAM's price.

    A one-op loop of it finds its weights in L2 while they fit; in a network the feature maps streamed
    through L2 since its last pass have evicted them, and with no reuse to hide it the kernel runs at the
    speed the farther cache delivers them: OpenVINO's classifier layers (1-5 MB) took 2-3 times their
    one-op price inside the synthetic networks and torchvision's."""
    weights = resident_weights(op)
    if not weights or 2 * op.flops > STREAMED_USES * weights:
        return 0.0
    return max(0.0, weights - fetched.weights)


def spilled_bytes(op: FusionOp, l2_bytes: int) -> int:
    """The bytes of an op's first input (``FusionOp.input_bytes``) and its output past what L2 holds
    (none where its size is unknown): they come from and go to the last-level cache. At batch 8 a mobile
    network's early maps do (a 32x112x112 depthwise convolution reads and writes 12.8 MB, 1.6 MB at
    batch 1): ONNX Runtime ran mobilenet_v2's depthwise convolutions at batch 8 1.6 times slower per byte
    than its batch-1 kernels said. A view moves nothing (a linear layer's weight transpose would spill
    the whole weight)."""
    if not l2_bytes or op.kind in _ALIASES:
        return 0
    return max(0, op.input_bytes + op.output_bytes - l2_bytes)


def model_input_bytes(ops: Sequence[FusionOp]) -> int:
    """The bytes of the model's input, as its first op reads it (0 without ops)."""
    return ops[0].input_bytes if ops else 0


def cold_bytes(ops: Mapping[int, FusionOp], kernels: Sequence[KernelGroup], share: float) -> dict[int, Cold]:
    """Per kernel's anchor: the bytes a pass fetches from DRAM, at the ``share`` the cache has lost since
    the last pass (``evicted_share``); none at all where it lost none. The model's input is what the
    pass's first kernel reads first; a view fetches nothing (a weight's transpose is read by its matrix
    multiply, as that kernel's weights)."""
    if not share:
        return {}
    fresh = fresh_output_bytes(ops, kernels)
    computing = [kernel for kernel in kernels if kernel.kind not in _ALIASES]
    cold = {}
    for index, kernel in enumerate(computing):
        anchor = ops[kernel.anchor]
        model_input = anchor.input_bytes if index == 0 else 0
        buffers = model_input + fresh.get(kernel.anchor, 0)
        cold[kernel.anchor] = Cold(share * resident_weights(anchor), share * buffers)
    return cold
