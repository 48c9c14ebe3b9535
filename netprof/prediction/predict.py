"""A model's latency from its analysis and a device profile, without running it.

Each op costs its kind's ``overhead + s_per_flop * flops + s_per_byte * bytes +
s_per_weight_byte * weight_bytes``, plus the profile's cache-aware terms (bytes past what the
last-level cache keeps; a depthwise or grouped convolution's per-call buffers past 8 MiB; what an op
costs in a network beyond its one-op loop, per op and per byte that fits in L2), as
``netprof.prediction.profile`` says, and is labelled by its largest term: overhead-,
compute- or memory-bound. The model's latency is the sum over its ops, plus the
profile's cost per module call and per run (the Python between kernels, which the
paper's G3 counts as the price of fragmentation). Module and category times are
sums over their ops, as ``Analysis`` sums counts. An op on int8 tensors is priced by an int8 kind
only (``netprof.prediction.kinds``): on a profile without them the prediction is refused
(``MissingInt8Kinds``), never made up from float kinds.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from netprof.analysis import Analysis, OpNode
from netprof.module_paths import ancestors
from netprof.prediction.kinds import (
    INT8_KINDS,
    MMAP_THRESHOLD_MAX,
    Kind,
    features,
    kind_of,
    loop_cached_bytes,
    mapped_output_bytes,
    past_cache_bytes,
    runs_kernel,
    transient_bytes,
)
from netprof.prediction.profile import DeviceProfile, KindModel, ProfileError

BOUNDS = ("overhead", "compute", "memory")
# A kind the profile has no micro-benchmark for is priced as the closest kind it has.
_STAND_INS = {
    Kind.CONV_STEM: Kind.CONV_KXK,
    Kind.GROUP_CONV: Kind.CONV_KXK,
    Kind.DEPTHWISE_CONV: Kind.CONV_KXK,
    Kind.CONV_1X1: Kind.GEMM,
    Kind.ATTENTION: Kind.GEMM,
    Kind.REDUCTION: Kind.ELEMENTWISE,
    Kind.TOPK: Kind.REDUCTION,
    Kind.NMS: Kind.OTHER,  # not a reduction: its flops are pairs of boxes, a reduction prices them far too high
    Kind.ROI_ALIGN: Kind.OTHER,  # nor an average pool: their price per flop is far from a RoI's
    Kind.NORMALIZATION: Kind.ELEMENTWISE,
    Kind.POOLING: Kind.ELEMENTWISE,
    Kind.MAX_POOLING: Kind.POOLING,
    Kind.TRANSCENDENTAL: Kind.ELEMENTWISE,
    Kind.DATA_MOVEMENT: Kind.ELEMENTWISE,
    Kind.MASKED_INDEX: Kind.DATA_MOVEMENT,
    Kind.PERMUTED_COPY: Kind.DATA_MOVEMENT,
    Kind.DEPTHWISE_UNALIGNED: Kind.DEPTHWISE_CONV,
    Kind.GROUP_CONV_UNALIGNED: Kind.GROUP_CONV,
    Kind.OTHER: Kind.VIEW,
    # int8 kinds stand in for one another, never for a float kind: an int8 kernel is not a float one.
    Kind.INT8_POOLING: Kind.INT8_ELEMENTWISE,
    Kind.INT8_REQUANTIZE: Kind.INT8_ELEMENTWISE,
}


@dataclass(frozen=True, slots=True)
class OpPrediction:
    id: int
    op: str
    module: str
    kind: str
    predicted_s: float
    bound: str  # "overhead", "compute" or "memory": the op's largest term


@dataclass(frozen=True)
class Prediction:
    """Predicted seconds of one model on one profile's device."""

    profile: DeviceProfile
    latency_s: float  # end to end: ops + framework
    ops_s: float
    framework_s: float  # per module call and per run
    ops: tuple[OpPrediction, ...]
    categories: dict[str, float]
    kinds: dict[str, float]
    modules: dict[str, float]  # per module subtree, keyed like Analysis.modules
    notes: tuple[str, ...] = field(default=())


def _model(profile: DeviceProfile, kind: Kind) -> tuple[KindModel, Kind]:
    seen = kind
    while seen not in profile.kinds:
        if seen not in _STAND_INS:
            raise ProfileError(f"profile {profile.key} has no latency model for {kind} ops, nor a stand-in")
        seen = _STAND_INS[seen]
    return profile.kinds[seen], seen


class MissingInt8Kinds(ProfileError):
    """The model runs int8 kernels and the profile has no latency model for them (one calibrated before
    netprof timed int8 kernels): a float kind would misprice them, so nothing is predicted."""


def _require_int8(analysis: Analysis, profile: DeviceProfile) -> None:
    missing = []
    for kind in sorted({kind_of(node) for node in analysis.ops} & INT8_KINDS, key=str):
        try:
            _model(profile, kind)
        except ProfileError:
            missing.append(str(kind))
    if missing:
        raise MissingInt8Kinds(
            f"profile {profile.key} cannot price int8 kernels: it has no {', '.join(missing)} kind "
            "(calibrated before netprof timed int8 kernels; float kinds would misprice them); refit it with "
            f"`netprof calibrate --force --threads {profile.threads}`"
        )


def cache_terms(node: OpNode, profile: DeviceProfile) -> float:
    """Seconds of the profile's cache-aware memory terms for one op: its fresh pages (a grouped
    convolution's buffers at the fitted price, any output glibc maps anew at the measured page-fault cost)
    and its bytes past the cache (free where the cache's size is unknown)."""
    seconds = profile.s_per_transient_byte * transient_bytes(node, profile.fresh_pages_bytes)
    seconds += profile.page_fault_s_per_byte * mapped_output_bytes(node)
    if profile.pass_cache_bytes:
        seconds += profile.s_per_byte_past_llc * past_cache_bytes(node, profile.pass_cache_bytes)
    return seconds


def _op(node: OpNode, profile: DeviceProfile, stand_ins: Counter[tuple[Kind, Kind]]) -> OpPrediction:
    kind = kind_of(node)
    model, used = _model(profile, kind)
    if used is not kind:
        stand_ins[(kind, used)] += 1
    overhead, compute, memory = model.terms(*features(node, kind))
    if runs_kernel(kind):  # what a network costs beyond the one-op loops the kinds were timed in
        overhead += profile.network_op_s
        memory += profile.s_per_loop_cached_byte * loop_cached_bytes(node, profile.l2_bytes)
    memory += cache_terms(node, profile)
    terms = (overhead, compute, memory)
    return OpPrediction(
        node.id,
        node.op,
        node.module,
        str(kind),
        math.fsum(terms),
        BOUNDS[max(range(3), key=terms.__getitem__)],
    )


def predict(analysis: Analysis, profile: DeviceProfile) -> Prediction:
    """Predicted latency of ``analysis``'s model on ``profile``'s device, per op, module, category and kind."""
    _require_int8(analysis, profile)
    stand_ins: Counter[tuple[Kind, Kind]] = Counter()
    ops = tuple(_op(node, profile, stand_ins) for node in analysis.ops)
    calls = sum(summary.calls for summary in analysis.modules)
    notes = tuple(
        f"{count} {kind} op(s) priced as {used}: the profile has no {kind} micro-benchmark"
        for (kind, used), count in sorted(stand_ins.items())
    )
    mapped = sum(map(mapped_output_bytes, analysis.ops))
    if mapped and profile.page_fault_s_per_byte:
        notes += (
            f"{mapped / 1e6:.1f} MB of outputs above glibc's {MMAP_THRESHOLD_MAX >> 20} MiB mmap threshold, mapped fresh on every call, at the {profile.page_fault_s_per_byte * 1e12:.0f} ps a byte page faults cost here",
        )
    return assemble(analysis, profile, ops, calls * profile.per_module_call_s + profile.per_run_s, notes)


def assemble(
    analysis: Analysis,
    profile: DeviceProfile,
    ops: tuple[OpPrediction, ...],
    framework_s: float,
    notes: tuple[str, ...],
) -> Prediction:
    """A ``Prediction`` from each op's predicted seconds: summed per category, kind and module subtree,
    plus ``framework_s`` (the time between kernels), with a note on ops netprof does not count."""
    categories: dict[str, float] = defaultdict(float)
    kinds: dict[str, float] = defaultdict(float)
    modules: dict[str, float] = defaultdict(float)
    for node, op in zip(analysis.ops, ops):
        categories[node.category] += op.predicted_s
        kinds[op.kind] += op.predicted_s
        for path in ancestors(node.module):
            modules[path] += op.predicted_s
    ops_s = math.fsum(op.predicted_s for op in ops)
    if analysis.totals.uncounted_ops:
        notes += (
            f"{analysis.totals.uncounted_ops} op(s) netprof does not count are priced by their launch cost only",
        )
    return Prediction(
        profile=profile,
        latency_s=ops_s + framework_s,
        ops_s=ops_s,
        framework_s=framework_s,
        ops=ops,
        categories=dict(sorted(categories.items(), key=lambda item: -item[1])),
        kinds=dict(sorted(kinds.items(), key=lambda item: -item[1])),
        modules={m.path: modules.get(m.path, 0.0) for m in analysis.modules},
        notes=notes,
    )
