"""A model's latency in a deployment runtime, from its capture and a runtime profile, without running it.

The captured ops are grouped into the kernels the runtime runs (``fusion.group_kernels``
on the profile's measured fusion pairs). A kernel costs its first op's kind model
on that op's counts: the kind's ``overhead_s`` is the runtime's launch cost per
kernel. A fused follower (a folded batch-norm, an activation, a residual add) adds
its flops times the profile's ``fused_s_per_flop`` for it, fitted on the kernels the
runtime's profiler timed: nothing for a ReLU the runtime applies to the anchor's
output while it is still in registers, a SiLU's exponentials for OpenVINO. A
matrix-vector product adds its weight bytes the cache kept at the profile's
``s_per_streamed_byte`` (a network reads them from beyond L2, ``reuse.streamed_weights``); a kernel
adds the bytes of its input and output past L2 at ``s_per_spilled_byte`` (``reuse.spilled_bytes``). Where
the pass touches more than the profile's last-level cache holds, the bytes ``reuse``
finds a kernel fetching from DRAM (its weights, the model's input, a fresh output
buffer, at the share the cache lost) cost the profile's prices of a weight and of a
buffer byte fetched from DRAM on top: a one-op benchmark finds them all in the cache. The
model adds the profile's ``per_run_s`` once and its ``per_input_byte_s`` per byte of the
model's input (copied in and laid out); no cost per module call, since a runtime calls
no Python between kernels. Where the profile prices reorders between
blocked and plain kernels (ONNX Runtime), each reorder ``layout.reorders`` places is
added to the op whose layout needs it: the squeeze-and-excitation mean that reads a
blocked feature map pays for the map's way out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from netprof.analysis import Analysis
from netprof.prediction.kinds import Kind, kind_of
from netprof.prediction.predict import BOUNDS, OpPrediction, Prediction, assemble
from netprof.prediction.profile import KindModel, ProfileError
from netprof.runtimes.fusion import group_kernels, runtime_ops
from netprof.runtimes.layout import reorders
from netprof.runtimes.profile import RuntimeProfile
from netprof.runtimes.reuse import (
    NONE_FETCHED,
    cold_bytes,
    evicted_share,
    footprint_bytes,
    model_input_bytes,
    spilled_bytes,
    streamed_weights,
)

FUSED = "fused"  # the bound of an op whose work its kernel's first op pays for
FOLDED = "folded"  # the bound of a constant op, which the runtime computes once, at load time
# A kind without a model of its own (no micro-benchmark, or too few timed kernels) is priced as the closest
# kind a runtime profile has.
STAND_INS = {
    Kind.CONV_STEM: Kind.CONV_KXK,
    Kind.GROUP_CONV: Kind.CONV_KXK,
    Kind.DEPTHWISE_CONV: Kind.GROUP_CONV,
    Kind.CONV_KXK: Kind.CONV_1X1,
    Kind.CONV_1X1: Kind.GEMM,
    Kind.GEMM: Kind.CONV_1X1,
    Kind.ATTENTION: Kind.GEMM,
    Kind.TRANSCENDENTAL: Kind.ELEMENTWISE,
    Kind.NORMALIZATION: Kind.ELEMENTWISE,
    Kind.REDUCTION: Kind.ELEMENTWISE,
    Kind.TOPK: Kind.REDUCTION,
    Kind.NMS: Kind.OTHER,  # not a reduction: its flops are pairs of boxes, a reduction prices them far too high
    Kind.ROI_ALIGN: Kind.OTHER,  # nor an average pool: their price per flop is far from a RoI's
    # A window's flops are its outputs times its size, a reduction's its inputs: priced per flop as a
    # reduction, Inception-v3's 3x3 average pools cost several times what they took in OpenVINO.
    Kind.POOLING: Kind.MAX_POOLING,
    Kind.MAX_POOLING: Kind.REDUCTION,
    Kind.DATA_MOVEMENT: Kind.ELEMENTWISE,
    Kind.MASKED_INDEX: Kind.DATA_MOVEMENT,
    Kind.PERMUTED_COPY: Kind.DATA_MOVEMENT,
    Kind.DEPTHWISE_UNALIGNED: Kind.DEPTHWISE_CONV,
    Kind.GROUP_CONV_UNALIGNED: Kind.GROUP_CONV,
    Kind.OTHER: Kind.VIEW,
}
# Views and allocations move nothing: without a model of their own they cost nothing.
_FREE = frozenset({Kind.VIEW, Kind.OTHER})


def kind_model(profile: RuntimeProfile, kind: str) -> tuple[KindModel, Kind | None]:
    """The model that prices ``kind``'s kernels and the kind it was fitted for (None: free)."""
    seen, tried = Kind(kind), set()
    while seen not in profile.kinds:
        tried.add(seen)
        following = STAND_INS.get(seen)
        if following is None or following in tried:
            if Kind(kind) in _FREE:
                return KindModel(0.0, 0.0, 0.0), None
            raise ProfileError(f"profile {profile.key} has no latency model for {kind} ops, nor a stand-in")
        seen = following
    return profile.kinds[seen], seen


def predict(analysis: Analysis, profile: RuntimeProfile) -> Prediction:
    """Predicted latency of ``analysis``'s model in ``profile``'s runtime, per op, module, category and kind."""
    nodes = {node.id: node for node in analysis.ops}
    fusion_ops = runtime_ops(analysis.ops)
    by_id = {op.id: op for op in fusion_ops}
    predicted = {
        node.id: OpPrediction(node.id, node.op, node.module, str(kind_of(node)), 0.0, FOLDED)
        for node in analysis.ops
        if node.constant
    }
    kernels = group_kernels(fusion_ops, profile.fused)
    footprint = footprint_bytes(by_id, kernels)
    priced = profile.s_per_cold_weight_byte or profile.s_per_cold_buffer_byte
    cache = profile.pass_cache
    evicted = evicted_share(footprint, cache) if priced else 0.0
    cold = cold_bytes(by_id, kernels, evicted)
    stand_ins: Counter[tuple[str, str]] = Counter()
    for kernel in kernels:
        anchor = by_id[kernel.anchor]
        model, used = kind_model(profile, kernel.kind)
        if used is not None and str(used) != kernel.kind:
            stand_ins[(kernel.kind, str(used))] += 1
        overhead, compute, memory = model.terms(anchor.flops, anchor.mem_access_bytes, anchor.weight_bytes)
        fetched = cold.get(kernel.anchor, NONE_FETCHED)
        memory += (
            profile.s_per_streamed_byte * streamed_weights(anchor, fetched)
            + profile.s_per_spilled_byte * spilled_bytes(anchor, profile.l2_bytes)
            + profile.s_per_cold_weight_byte * fetched.weights
            + profile.s_per_cold_buffer_byte * fetched.buffers
        )
        terms = (overhead, compute, memory)
        bound = BOUNDS[max(range(3), key=terms.__getitem__)]
        for index, op_id in enumerate(kernel.ops):
            node, op = nodes[op_id], by_id[op_id]
            if index == 0:
                seconds, label = math.fsum(terms), bound
            else:
                seconds, label = profile.fused_s_per_flop.get(op.role or "", 0.0) * op.flops, FUSED
            predicted[op_id] = OpPrediction(op_id, node.op, node.module, op.kind, seconds, label)
    fused = len(fusion_ops) - len(kernels)
    notes = (f"{len(kernels)} {profile.runtime} kernels: {fused} op(s) fused into the kernel before them",)
    folded = sum(1 for op in predicted.values() if op.bound == FOLDED and Kind(op.kind) not in _FREE)
    if folded:
        notes += (
            f"{folded} constant op(s) folded, priced at 0: they read only parameters, buffers and shapes, which the runtime computes once, when it loads the model",
        )
    if evicted:
        notes += (
            f"a pass touches {footprint / 2**20:.1f} MiB, and the last-level cache keeps a pass whole up to {cache.holds_bytes / 2**20:.0f} MiB, none of it past {cache.loses_bytes / 2**20:.0f} MiB: {evicted:.0%} of what it last touched a pass ago (weights, input, fresh buffers) priced from DRAM",
        )
    if profile.reorder_s or profile.reorder_s_per_byte:
        placed = reorders(fusion_ops)
        for reorder in placed:
            seconds = profile.reorder_s + profile.reorder_s_per_byte * reorder.nbytes
            op = predicted[reorder.op]
            predicted[reorder.op] = replace(op, predicted_s=op.predicted_s + seconds)
        moved = sum(r.nbytes for r in placed) / 1e6
        notes += (
            f"{len(placed)} reorder(s) between blocked and plain kernels ({moved:.1f} MB), each added to the op that needs it",
        )
    ops = tuple(predicted[node.id] for node in analysis.ops)
    notes += tuple(
        f"{count} {kind} kernel(s) priced as {used}: the profile has no model of its own for them (its calibration timed too few such kernels, or none)"
        for (kind, used), count in sorted(stand_ins.items())
    )
    per_run = profile.per_run_s + profile.per_input_byte_s * model_input_bytes(fusion_ops)
    return assemble(analysis, profile, ops, per_run, notes)  # no Python between kernels
