"""The share of a network's weights that one pass finds evicted from the last-level cache.

A runtime reads each weight once per pass; between two reads of it the pass reads
every other weight and writes every kernel's output. A one-op micro-benchmark reads
the same weights again from the cache, so it prices weights hot; a network whose
pass touches more than the cache holds reads most of them from DRAM. Measured on
this project's machine (ONNX Runtime 1.32, one thread, a 32 MiB L3): a chain of
``Linear(1024, 1024)`` layers ran 52 us a layer up to 17 MB of weights, 87 us at
34 MB, 104 us at 67 MB and 111 us at 134 MB: 59%, 88% and all of the 134 MB chain's
slowdown. ``1 - (llc / 2) / footprint`` gives 0.50, 0.75 and 0.875, that is 57%, 86%
and all of it: as if half the cache kept what the pass touched last and the other
half a random sample of the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netprof.runtimes.fusion import FusionOp, KernelGroup


def footprint_bytes(ops: Mapping[int, FusionOp], kernels: Sequence[KernelGroup]) -> int:
    """Bytes one pass touches between two reads of a weight: every kernel's weights and output."""
    return sum(ops[k.anchor].weight_bytes + ops[k.ops[-1]].output_bytes for k in kernels)


def evicted_share(footprint: int, llc_bytes: int) -> float:
    """The share of weight reads that miss the last-level cache; 0 where its size is unknown."""
    if llc_bytes <= 0 or footprint <= 0:
        return 0.0
    return max(0.0, 1.0 - llc_bytes / 2 / footprint)


def cold_weight_bytes(
    ops: Sequence[FusionOp], kernels: Sequence[KernelGroup], llc_bytes: int
) -> dict[int, float]:
    """Per kernel's anchor: the weight bytes a pass of ``ops`` reads from DRAM."""
    by_id = {op.id: op for op in ops}
    share = evicted_share(footprint_bytes(by_id, kernels), llc_bytes)
    return {k.anchor: share * by_id[k.anchor].weight_bytes for k in kernels}
