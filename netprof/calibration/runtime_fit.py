"""A runtime profile's latency models, fitted on the kernels the runtime's own profiler timed.

A one-op micro-benchmark's latency is not what its op costs inside a network: a
runtime lays the model's input out for its kernels and back again at the output
(ONNX Runtime's NCHWc ``ReorderInput``/``ReorderOutput``, OpenVINO's ``Reorder``),
and for a 3x3 depthwise convolution those two reorders took 228 of 349 us in
OpenVINO, where the convolution itself took 44. So each kind is fitted on the
*kernels* of every micro-benchmark and synthetic network, as the profiler timed
them and joined to the captured ops they compute:

- a kernel's time goes to the kernel group (``fusion.group_kernels``) of the op
  that does its arithmetic, and a group whose first op ran inside another group's
  kernel (a residual add the runtime fused, one MatMul run for two linear layers)
  is left out of the fit: what it cost is in that kernel, as is a group ten times
  faster per flop than the fastest tenth of its kind; a kernel joined to no op (a
  layout reorder) or a Transpose of views alone (``_computes``) between two
  joined ones goes to the next, whose input it prepares, and one before the
  first or after the last (the model's own input and output) goes nowhere;
- which pairs fuse is what the profiler saw: a follower is fused into its anchor
  where it ran in the anchor's kernel in most of the places it followed one;
- a group costs its anchor's kind model plus, for each fused follower, a cost per
  flop of its own (OpenVINO's fused SiLU triples a 1x1 convolution's time), zero
  for one whose timed pairs show no clear cost (``free_followers``): one
  non-negative least-squares fit of every kind's four coefficients and the
  followers' together, in relative error, the synthetic networks' kernels carrying
  ``network_emphasis`` times the one-op benchmarks' total weight (what is predicted
  is networks, whose kernels can run slower than one-op loops of the same kinds),
  but for the kinds that only move data, fitted on the networks that ran them
  (``_MOVES``);
- views and allocations cost their mean time in the networks (most run no kernel);
- the cost per run is a line in the bytes of the model's input (``outside_kernels``)
  through the synthetic networks' profiled runs less the kernels that computed
  their ops: the runtime copies the input in (no kernel times it) and lays it out
  for its first kernel (timed as a kernel of no op); none where the profiler slows
  the runs it times, whose kernels then hold it;
- a network's matrix-vector products (a classifier, squeeze-and-excitation's 1x1
  convolutions) read their weights from beyond L2, where its feature maps evicted
  them; a one-op loop keeps them in L2: network groups carry those weight bytes
  (``reuse.streamed_weights``), priced by one cost per byte;
- a network's pass fetches its weights, its input and its fresh output buffers
  from DRAM where it touches more than the cache holds (``reuse``), a one-op
  benchmark from the cache: network groups carry those bytes, priced by one cost
  per weight byte and one per buffer byte for all kinds;
- where ``layout.reorders`` places a runtime's reorder kernels (ONNX Runtime's
  ``ReorderInput``/``ReorderOutput``), those kernels are credited to no group: a
  cost per reorder and per byte reordered are fitted on every benchmark's
  reorder kernels against the reorders its capture implies, and priced apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from netprof.prediction.fit import fit_relative, nnls, theil_sen
from netprof.prediction.kinds import Kind
from netprof.prediction.profile import KindModel
from netprof.runtimes.fusion import ANCHORS, STAGES, FusionOp, group_kernels
from netprof.runtimes.layout import Reorder, reorders
from netprof.runtimes.predict import STAND_INS
from netprof.runtimes.reuse import (
    NONE_FETCHED,
    UNKNOWN_CACHE,
    Cold,
    PassCache,
    cold_bytes,
    evicted_share,
    footprint_bytes,
    model_input_bytes,
    spilled_bytes,
    streamed_weights,
)

_COLD_PRICES = len(Cold._fields)  # the design's last columns: a price per byte of each kind fetched
_STREAMED = -_COLD_PRICES - 1  # the column before them: a matrix-vector weight byte from beyond L2
_SPILLED = _STREAMED - 1  # and before it: a byte of a kernel's input and output past L2

# Every pair a runtime could fuse: the candidates the profiler's evidence is counted for.
CANDIDATES = frozenset((anchor, follower) for anchor in set(ANCHORS.values()) for follower in STAGES)
_FREE = (str(Kind.VIEW), str(Kind.OTHER))
# Kinds that only move data: what they cost depends on the layout their neighbours' kernels leave, which a
# one-op benchmark's plain input does not have (OpenVINO shuffles ShuffleNet's channels at 100 GB/s alone,
# at 11 GB/s between blocked convolutions). They are fitted on networks where networks ran them.
_MOVES = frozenset({str(Kind.DATA_MOVEMENT), str(Kind.PERMUTED_COPY)})
# A kind whose own kernels the profiler timed fewer times than this gets no model where it has a stand-in
# (``runtimes.predict.STAND_INS``), which prices it instead. OpenVINO ran all but one of the calibration's
# 96 normalization groups inside another kernel, and four prices fitted on one kernel are its time as a
# constant: 57 us for each of DenseNet-121's batch norms, whose kernels (with their ReLU) took 28 us.
MIN_TIMED_KERNELS = 2


@dataclass(frozen=True, slots=True)
class KernelTime:
    """One kernel of a benchmark as the runtime's profiler timed it: its op type, median seconds, the
    captured ops it computes (none for a kernel the runtime added) and the precision it computed in,
    where the runtime names it (``Kernel.precision``)."""

    op_type: str
    seconds: float
    op_ids: tuple[int, ...]
    precision: str = ""


@dataclass(frozen=True, slots=True)
class BenchKernels:
    """A benchmark's captured ops, its plain latency and its kernels, in the order they ran, and the
    median seconds of the runs that profiled them where the profiler costs a run nothing (0: not known)."""

    name: str
    group: str  # "op" or "network"
    ops: tuple[FusionOp, ...]
    seconds: float
    kernels: tuple[KernelTime, ...]
    profiled_s: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One kernel group of a benchmark: its anchor's counts, its fused followers' flops by name, and the
    seconds of the kernels credited to it."""

    kind: str
    flops: int
    mem_access_bytes: int
    weight_bytes: int
    followers: Mapping[str, int]  # follower name -> flops
    seconds: float
    group: str
    cold: Cold = NONE_FETCHED  # what a network's pass fetches for it from DRAM (``reuse``)
    precision: str = ""  # of the kernel that did the group's arithmetic, where the runtime names it
    streamed: float = 0.0  # a network's matrix-vector weights from beyond L2 (``reuse.streamed_weights``)
    spilled: int = 0  # its anchor's input and output bytes past L2 (``reuse.spilled_bytes``)


@dataclass(frozen=True)
class ReorderFit:
    """Seconds per reorder kernel and per byte reordered, and how many reorder kernels the profiler saw
    against how many the captures imply (``layout.reorders``)."""

    per_reorder_s: float = 0.0
    s_per_byte: float = 0.0
    seen: int = 0
    placed: int = 0

    def seconds(self, found: Sequence[Reorder]) -> float:
        return math.fsum(self.per_reorder_s + self.s_per_byte * r.nbytes for r in found)


@dataclass(frozen=True)
class KernelFit:
    kinds: dict[Kind, KindModel]
    fused_s_per_flop: dict[str, float]  # follower name -> seconds per flop inside its anchor's kernel
    per_run_s: float
    mape: float  # over the kernel groups it was fitted on
    reorders: ReorderFit = ReorderFit()
    cold_costs: Cold = NONE_FETCHED  # seconds per weight and per buffer byte fetched from DRAM
    per_input_byte_s: float = 0.0  # on top of per_run_s, per byte of the model's input
    s_per_streamed_byte: float = 0.0  # a network's matrix-vector weight byte (``reuse.streamed_weights``)
    s_per_spilled_byte: float = 0.0  # a kernel's input or output byte past L2 (``reuse.spilled_bytes``)


def fusion_evidence(benches: Sequence[BenchKernels]) -> dict[tuple[str, str], tuple[int, int]]:
    """Per ``(anchor, follower)``: how often the follower came right after such an anchor, and how often
    the profiler showed the two in one kernel."""
    seen: Counter[tuple[str, str]] = Counter()
    together: Counter[tuple[str, str]] = Counter()
    for bench in benches:
        by_id = {op.id: op for op in bench.ops}
        kernel_of: dict[int, int] = {}
        for index, kernel in enumerate(bench.kernels):
            for op_id in kernel.op_ids:
                kernel_of.setdefault(op_id, index)
        for group in group_kernels(bench.ops, CANDIDATES):
            anchor = by_id[group.anchor]
            for op_id in group.ops[1:]:
                role = by_id[op_id].role
                if role is None or role not in STAGES:
                    continue
                pair = (ANCHORS[anchor.kind], role)
                seen[pair] += 1
                together[pair] += anchor.id in kernel_of and kernel_of.get(op_id) == kernel_of[anchor.id]
    return {pair: (seen[pair], together[pair]) for pair in sorted(seen)}


# A fused follower costs nothing where every timed pair's anchor kernel ran at most this much longer with
# it: fused into a one-op convolution, a ReLU, ReLU6, hardswish or batch norm added 3-34% in OpenVINO
# (whose fit prices a fused ReLU at zero), a SiLU or sigmoid 106-279%, a GELU into a MatMul 50-64%.
FREE_SHARE = 0.4


def free_followers(
    pairs: Mapping[tuple[str, str], tuple[BenchKernels, BenchKernels]], fused: frozenset[tuple[str, str]]
) -> frozenset[str]:
    """The followers whose every fused pair, ``(anchor, follower) -> (anchor alone, both)``, ran its ops'
    kernels within ``FREE_SHARE`` of the anchor's alone.

    A follower's cost per flop is fitted from few rows (a convolution met a ReLU6 in 15 places among the
    benchmarks), and where it costs nothing the fit prices noise: OpenVINO's fused ReLU6 got 41 ps a flop
    (mobilenet_v2 +20%) where its fused ReLU got 0, ONNX Runtime's folded batch norm 35 ps. Such a
    follower is priced at zero. Kernels, not latencies: a one-op model's latency is mostly the layout
    reorders around its kernel (OpenVINO: 161 of a 201 us convolution pair), which hide the follower."""
    cheap: dict[str, bool] = {}
    for (anchor, follower), (alone, both) in pairs.items():
        before = _computing_seconds(alone)
        if (anchor, follower) in fused and before > 0:
            added = _computing_seconds(both) - before
            cheap[follower] = cheap.get(follower, True) and added <= FREE_SHARE * before
    return frozenset(name for name, free in cheap.items() if free)


def group_rows(
    bench: BenchKernels,
    fused: frozenset[tuple[str, str]],
    reorder_ops: frozenset[str] = frozenset(),
    cache: PassCache = UNKNOWN_CACHE,
    l2_bytes: int = 0,
) -> list[GroupRow]:
    """The benchmark's kernel groups with the measured seconds credited to each; kernels of the
    ``reorder_ops`` types are credited to none (``fit_reorders`` prices them). A network's groups carry
    the bytes its pass fetches from DRAM past the last-level ``cache``; a one-op benchmark's loop finds
    them all in the cache. Every group carries its anchor's bytes past an L2 of ``l2_bytes``."""
    by_id = {op.id: op for op in bench.ops}
    groups = group_kernels(bench.ops, fused)
    cold = {}
    if bench.group == "network":
        cold = cold_bytes(by_id, groups, evicted_share(footprint_bytes(by_id, groups), cache))
    anchor_of = {op_id: group.anchor for group in groups for op_id in group.ops}
    anchors = {group.anchor for group in groups}
    seconds: Counter[int] = Counter()
    precision: dict[int, str] = {}
    absorbed: set[int] = set()  # groups whose anchor ran inside a kernel credited to another group
    joined = {index for index, kernel in enumerate(bench.kernels) if _computes(kernel, by_id)}
    inside = range(min(joined), max(joined)) if joined else range(0)
    pending = 0.0
    for index, kernel in enumerate(bench.kernels):
        if index not in joined:
            if index in inside and kernel.op_type not in reorder_ops:
                pending += kernel.seconds  # a reorder inside the model: its next kernel's input
            continue
        worker = max(kernel.op_ids, key=lambda i: (by_id[i].flops, by_id[i].mem_access_bytes, -i))
        seconds[anchor_of[worker]] += kernel.seconds + pending
        precision.setdefault(anchor_of[worker], kernel.precision)
        pending = 0.0
        absorbed |= {i for i in kernel.op_ids if i in anchors and anchor_of[i] != anchor_of[worker]}
    return [
        GroupRow(
            group.kind,
            by_id[group.anchor].flops,
            by_id[group.anchor].mem_access_bytes,
            by_id[group.anchor].weight_bytes,
            follower_flops([by_id[i] for i in group.ops[1:]]),
            0.0 if group.anchor in absorbed else seconds[group.anchor],
            bench.group,
            cold.get(group.anchor, NONE_FETCHED),
            precision.get(group.anchor, ""),
            streamed_weights(by_id[group.anchor], cold.get(group.anchor, NONE_FETCHED))
            if bench.group == "network"
            else 0.0,
            spilled_bytes(by_id[group.anchor], l2_bytes),
        )
        for group in groups
    ]


def _computing_seconds(bench: BenchKernels) -> float:
    """The seconds of the benchmark's kernels that compute its ops' work (``_computes``)."""
    by_id = {op.id: op for op in bench.ops}
    return math.fsum(kernel.seconds for kernel in bench.kernels if _computes(kernel, by_id))


def _computes(kernel: KernelTime, by_id: Mapping[int, FusionOp]) -> bool:
    """Whether the kernel computes a captured op's work: not a layout reorder the runtime added, nor a
    Transpose joined to views alone. ONNX Runtime runs ShuffleNet's ``view -> transpose -> contiguous``
    as Reshape, Transpose, Reshape, the Transpose joined to the transpose view (which moves nothing in
    PyTorch); its copy is what the ``contiguous`` costs, and the kernel after it is the one joined to that."""
    if not kernel.op_ids:
        return False
    return kernel.op_type != "Transpose" or any(by_id[i].role != "view" for i in kernel.op_ids)


def follower_flops(followers: Sequence[FusionOp]) -> dict[str, int]:
    """Flops per follower (``relu``, ``silu``, ...) fused into a kernel; views move nothing."""
    flops: Counter[str] = Counter()
    for op in followers:
        if op.role in STAGES:
            flops[op.role] += op.flops
    return dict(flops)


def fit_reorders(
    benches: Sequence[BenchKernels], placed: Sequence[Sequence[Reorder]], reorder_ops: frozenset[str]
) -> ReorderFit:
    """One non-negative least-squares fit of every benchmark's reorder kernels' seconds on the count and
    bytes of the reorders its capture implies (``placed``, per benchmark)."""
    if not reorder_ops:
        return ReorderFit()
    seen = [[k for k in bench.kernels if k.op_type in reorder_ops] for bench in benches]
    rows = [(found, kernels) for found, kernels in zip(placed, seen) if found or kernels]
    if not rows:
        return ReorderFit()
    design = np.array([(len(found), sum(r.nbytes for r in found)) for found, _ in rows], dtype=float)
    seconds = np.array([math.fsum(k.seconds for k in kernels) for _, kernels in rows])
    per_reorder, per_byte = nnls(design, seconds)
    return ReorderFit(float(per_reorder), float(per_byte), sum(map(len, seen)), sum(map(len, placed)))


def fit(
    benches: Sequence[BenchKernels],
    fused: frozenset[tuple[str, str]],
    reorder_ops: frozenset[str] = frozenset(),
    cache: PassCache = UNKNOWN_CACHE,
    network_emphasis: float = 1.0,
    free: frozenset[str] = frozenset(),
    l2_bytes: int = 0,
) -> KernelFit:
    """Every kind's kernel model, every fused follower's cost per flop (the ``free`` ones' zero) and the
    costs of a weight and a buffer byte a network fetches from DRAM past the last-level ``cache``
    (unknown: none), from ``benches``, the networks' kernels weighing ``network_emphasis`` times the
    one-op benchmarks'; and, where the runtime's reorder kernels are the ``reorder_ops`` types, the
    reorders' cost; where ``l2_bytes`` is known, the cost of a kernel's input and output byte past L2."""
    placed = [reorders(bench.ops) if reorder_ops else () for bench in benches]
    layout = fit_reorders(benches, placed, reorder_ops)
    rows = [row for bench in benches for row in group_rows(bench, fused, reorder_ops, cache, l2_bytes)]
    kinds = sorted({row.kind for row in rows} - set(_FREE))
    followers = sorted({name for row in rows for name in row.followers} - free)
    models: dict[Kind, KindModel] = {}
    for kind in _FREE:
        times = [row.seconds for row in rows if row.kind == kind and row.group == "network"]
        if times:
            models[Kind(kind)] = KindModel(float(np.mean(times)), 0.0, 0.0, benches=len(times))
    floors = _speed_floors(rows)
    timed = [row for row in rows if row.kind in kinds and row.seconds > 0 and not _too_fast(row, floors)]
    timed = as_networks_run(timed)
    counts = Counter(row.kind for row in timed)
    kinds = [kind for kind in kinds if counts[kind] >= MIN_TIMED_KERNELS or Kind(kind) not in STAND_INS]
    timed = [row for row in timed if row.kind in kinds]
    design, seconds, coefficients = _solve(timed, kinds, followers, cache.miss_s_per_byte, network_emphasis)
    for i, kind in enumerate(kinds):
        models[Kind(kind)] = KindModel(
            *(float(c) for c in coefficients[4 * i : 4 * i + 4]),
            benches=sum(row.kind == kind for row in rows),
        )
    fused_cost = dict.fromkeys(sorted(free), 0.0) | {
        name: float(coefficients[4 * len(kinds) + j]) for j, name in enumerate(followers)
    }
    cold_cost = Cold(*(float(c) for c in coefficients[-_COLD_PRICES:]))
    streamed_cost = float(coefficients[_STREAMED])
    spilled_cost = float(coefficients[_SPILLED])
    per_run, per_input_byte = outside_kernels(benches, reorder_ops)
    mape = float(np.mean(np.abs(design @ coefficients - seconds) / seconds)) if len(timed) else math.nan
    return KernelFit(
        models, fused_cost, per_run, mape, layout, cold_cost, per_input_byte, streamed_cost, spilled_cost
    )


def outside_kernels(
    benches: Sequence[BenchKernels], reorder_ops: frozenset[str] = frozenset()
) -> tuple[float, float]:
    """A network's run outside its ops' kernels, ``(seconds, seconds per byte of the model's input)``:
    Theil and Sen's line, against the input's bytes, through each synthetic network's profiled runs'
    own time (``profiled_s``) less the kernels that computed its ops (``_input_kernels`` are not),
    neither below zero. The runtime copies the input in and lays it out for its first kernel, the second
    timed as a kernel of no op (OpenVINO here: 8 us for 50 KB, 183 us for 1.2 MB), the first not timed at
    all (45 us and 240 us). A runtime's layout reorders (``reorder_ops``) are priced apart.

    The profiled runs, not the plain ones: those were timed minutes apart, and this machine's drift over
    minutes (5-15%) is larger than the cost being measured. Where the profiler slows the runs it times
    (no ``profiled_s``), their kernels' times already hold more than this cost (ONNX Runtime's summed
    past the plain latency in most networks), and none is priced."""
    networks = [bench for bench in benches if bench.group == "network" and bench.kernels and bench.profiled_s]
    if not networks:
        return 0.0, 0.0
    intercept, per_byte = theil_sen(
        [model_input_bytes(bench.ops) for bench in networks],
        [
            bench.profiled_s
            - math.fsum(k.seconds for k in bench.kernels)
            + math.fsum(k.seconds for k in _input_kernels(bench, reorder_ops))
            for bench in networks
        ],
    )
    return max(0.0, intercept), max(0.0, per_byte)


def _input_kernels(bench: BenchKernels, reorder_ops: frozenset[str]) -> list[KernelTime]:
    """The kernels before the first that computes an op (``_computes``), which ``group_rows`` credits to
    no group, less the runtime's priced layout reorders."""
    by_id = {op.id: op for op in bench.ops}
    first = next((i for i, kernel in enumerate(bench.kernels) if _computes(kernel, by_id)), 0)
    return [kernel for kernel in bench.kernels[:first] if kernel.op_type not in reorder_ops]


def as_networks_run(rows: Sequence[GroupRow]) -> list[GroupRow]:
    """The rows that price a kind as networks run it: every network row; a one-op row unless its kind
    only moves data (``_MOVES``) or ran at a precision no network ran that kind at, where networks ran it.

    OpenVINO computes a one-op model's pooling, reduction or element-wise op in its float32 input's
    precision (``jit_avx512_f32``), and the same op after a convolution in the network's (``bf16`` where
    the CPU has it): a 3x3 max pool over 64x112x112 took 299 us alone and 94 us inside ResNet-18 here."""
    in_networks: dict[str, set[str]] = {}
    for row in rows:
        if row.group == "network":
            in_networks.setdefault(row.kind, set()).add(row.precision)
    return [
        row
        for row in rows
        if row.group == "network"
        or row.kind not in in_networks
        or (row.kind not in _MOVES and row.precision in in_networks[row.kind])
    ]


def _solve(
    timed: Sequence[GroupRow],
    kinds: Sequence[str],
    followers: Sequence[str],
    miss_s_per_byte: float = 0.0,
    network_emphasis: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The design matrix of the timed groups (each kind's four columns, each follower's flops, the bytes
    past L2, a network's matrix-vector weight bytes, the weight and buffer bytes fetched from DRAM), their
    seconds and its non-negative fit in relative error; a byte from DRAM costs at most ``miss_s_per_byte``
    (where measured) more than its kind's model says: the few networks past the cache would otherwise
    price into it all that sets a network apart from its kernels' one-op loops."""
    trailing = -_SPILLED  # the columns from the bytes past L2 to the last
    design = np.zeros((len(timed), 4 * len(kinds) + len(followers) + trailing))
    for r, row in enumerate(timed):
        k = 4 * kinds.index(row.kind)
        design[r, k : k + 4] = (1.0, row.flops, row.mem_access_bytes, row.weight_bytes)
        for name, flops in row.followers.items():
            if name in followers:
                design[r, 4 * len(kinds) + followers.index(name)] = flops
        design[r, _STREAMED] = row.streamed
        design[r, _SPILLED] = row.spilled
        design[r, -_COLD_PRICES:] = row.cold
    seconds = np.array([row.seconds for row in timed])
    if not len(timed):
        return design, seconds, np.zeros(design.shape[1])
    ceilings = np.zeros(design.shape[1])
    ceilings[-_COLD_PRICES:] = miss_s_per_byte
    groups = [row.group for row in timed]
    return design, seconds, fit_relative(design, seconds, groups, ceilings, {"network": network_emphasis})


def _speed_floors(rows: Sequence[GroupRow]) -> dict[str, float]:
    """Per kind, a tenth of the seconds per flop of its fastest tenth of timed groups (``_too_fast``)."""
    rates: dict[str, list[float]] = {}
    for row in rows:
        if row.flops and row.seconds > 0:
            rates.setdefault(row.kind, []).append(row.seconds / row.flops)
    return {kind: 0.1 * sorted(found)[len(found) // 10] for kind, found in rates.items()}


def _too_fast(row: GroupRow, floors: Mapping[str, float]) -> bool:
    """A group ten times faster per flop than the fastest tenth of its kind: the join credited its kernel
    to a neighbour (ONNX Runtime's attention output projection got 12 us of its 900), and in relative
    error one such row would decide its kind's cost per flop alone."""
    return bool(row.flops) and row.seconds / row.flops < floors[row.kind]
