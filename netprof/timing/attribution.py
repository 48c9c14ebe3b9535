"""From raw per-op times to shares, rates, the roofline and the disagreement ranking.

The definitions, stated once:

* An op's time is the **median** over the timed passes of that op's time.
* A group's (module, category, op type, Figure-2 class) time is the **sum of its
  ops' medians**, so groups add up exactly; its spread is the IQR of the
  group's per-pass sums.
* ``attributed_s`` is the sum of all op medians.
* ``overhead_s = end_to_end.median - attributed_s``: time no op accounts for
  (Python and framework work between kernels, the paper's G3 cost, plus the
  instrumentation itself), so ``attributed_s + overhead_s == end_to_end.median``
  exactly. Its spread is the per-pass overhead ``e2e_r - sum_i op_i,r``.
* Shares of time are of ``attributed_s``, the same ops over which mult_adds and
  memory access shares are taken; the overhead's share is of the end-to-end time.
* ``time_over_mult_adds`` = time share / mult_adds share: 1 where FLOPs (the
  papers' multiply-adds) predict time perfectly; ``None`` for zero mult_adds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from netprof.analysis.pricing import OpNode
from netprof.module_paths import ancestors
from netprof.timing.calibrate import Calibration
from netprof.timing.figure2 import FIGURE2, figure2_category
from netprof.timing.measurement import Measurement


@dataclass(frozen=True, slots=True)
class OpTiming:
    """One op of the analysis graph with its measured time.

    ``bound`` is ``"compute"`` or ``"memory"`` on the calibrated roofline
    (``None`` without a calibration, or for an op that has neither flops nor
    memory traffic); ``roofline_s`` is ``max(flops / peak, bytes / bandwidth)``.
    """

    id: int
    op: str
    module: str
    category: str
    figure2: str
    mult_adds: int
    flops: int
    mem_access_bytes: int
    time: Measurement
    bound: str | None = None
    roofline_s: float | None = None

    @property
    def op_type(self) -> str:
        """``aten.max_pool2d_with_indices.default`` -> ``max_pool2d_with_indices``."""
        name = self.op.removeprefix("aten.")
        return name.rsplit(".", 1)[0] if "." in name else name


@dataclass(frozen=True, slots=True)
class GroupTiming:
    """Ops grouped by a key (a module subtree, a category, an op type), with shares of the whole.

    ``time_s`` is the sum of the member ops' medians; ``spread`` holds the
    per-pass sums (their IQR is the group's spread). Rates are ``None`` for a
    group whose median time is zero.
    """

    name: str
    ops: int
    mult_adds: int
    flops: int
    mem_access_bytes: int
    time_s: float
    spread: Measurement
    time_share: float
    mult_adds_share: float
    mem_access_share: float
    gflop_per_s: float | None
    gb_per_s: float | None
    time_over_mult_adds: float | None
    roofline_s: float | None


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A place where time departs from what multiply-adds predict: ``excess`` = time share - mult_adds share."""

    kind: str  # "op" (an ATen op type) or "module" (the innermost module running the ops)
    name: str
    mult_adds_share: float
    time_share: float
    excess: float
    time_over_mult_adds: float | None

    def describe(self) -> str:
        return (
            f"{self.name}: {percent(self.mult_adds_share)} of mult_adds, {percent(self.time_share)} of time"
        )


def percent(share: float) -> str:
    """``0.11`` -> ``11%``; below 10% one decimal, so that 0.4% does not read as nothing."""
    if share == 0:
        return "0%"
    return f"{100 * share:.1f}%" if abs(share) < 0.1 else f"{100 * share:.0f}%"


@dataclass(frozen=True, slots=True)
class KernelTiming:
    """One kernel a deployment runtime executed, and the captured ops it computes.

    ``op_ids`` are analysis op ids (several for a fused kernel: a Conv+BN+ReLU
    lists all three; none for a kernel the runtime added, a layout reorder);
    ``worker`` is the one its time is credited to (the op doing its arithmetic).
    ``provider`` is where it ran (ONNX Runtime's execution provider, OpenVINO's
    primitive); ``fused`` is set when it computes more than one op that does work.
    """

    name: str
    op_type: str
    provider: str
    time: Measurement
    op_ids: tuple[int, ...]
    fused: bool
    worker: int | None = None


@dataclass(frozen=True)
class Timing:
    """Measured kernel times of every op of an analysis, and everything derived from them.

    Attributes:
        device: where it ran (``cpu``, ``cuda:0``).
        threads: intra-op threads in force while timing.
        runs: timed passes kept; ``warmup``: passes run before timing of each kind.
        diverged_runs: timed passes whose op sequence differed from the analysis graph
            (a data-dependent model), dropped from every figure.
        end_to_end: instrumented passes, start to end.
        plain: plain forward passes without the dispatch mode, interleaved with the
            instrumented ones; ``end_to_end.median - plain.median`` is the cost of
            instrumenting.
        attributed_s, overhead_s, overhead: see the module docstring.
        ops: per op, in execution order (``op.id`` is the analysis op id).
        modules: per module subtree, keyed like ``Analysis.modules``.
        categories, op_types, figure2: per netprof category, ATen op type, Figure-2 class.
        disagreements: ATen op types slower than their mult_adds predict, ranked by ``excess``.
        module_disagreements: the same for innermost modules (the ops a module runs itself).
        calibration, roofline_s: the roof used and ``sum_i max(flops_i / peak, bytes_i / bandwidth)``.
        warnings: noisy measurements, divergence, a missing calibration.
        runtime: what ran the model: ``eager`` (PyTorch, op by op) or a deployment runtime
            (``netprof.runtimes``), whose kernels' times are credited to the ops they compute.
        kernels: a runtime's executed kernels, in execution order (empty for eager).
    """

    device: str
    threads: int
    runs: int
    warmup: int
    diverged_runs: int
    end_to_end: Measurement
    plain: Measurement
    attributed_s: float
    overhead_s: float
    overhead: Measurement
    ops: tuple[OpTiming, ...]
    modules: tuple[GroupTiming, ...]
    categories: tuple[GroupTiming, ...]
    op_types: tuple[GroupTiming, ...]
    figure2: tuple[GroupTiming, ...]
    disagreements: tuple[Disagreement, ...]
    module_disagreements: tuple[Disagreement, ...]
    calibration: Calibration | None
    roofline_s: float | None
    warnings: tuple[str, ...] = ()
    runtime: str = "eager"
    kernels: tuple[KernelTiming, ...] = ()

    @property
    def fused_into(self) -> dict[int, str]:
        """Op id -> the runtime kernel that computes it as part of another op's work (empty for eager)."""
        return {
            op_id: kernel.name
            for kernel in self.kernels
            if kernel.fused
            for op_id in kernel.op_ids
            if op_id != kernel.worker
        }

    @property
    def instrumentation_s(self) -> float:
        """What the dispatch mode adds to a pass: instrumented minus plain end-to-end median."""
        return self.end_to_end.median - self.plain.median

    @property
    def framework_overhead_s(self) -> float:
        """Estimated time between kernels without instrumentation: plain median minus the ops' time.

        ``overhead_s == instrumentation_s + framework_overhead_s``. An estimate from
        two separately measured medians: on a noisy machine it can come out negative.
        """
        return self.plain.median - self.attributed_s

    def group(self, key: Callable[[OpTiming], str | Iterable[str] | None]) -> tuple[GroupTiming, ...]:
        """Group the ops by any key: the hook for blocks (``key=lambda op: block_of(op.module)``)."""
        return group(self.ops, key, self.attributed_s)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def roofline(
    flops: int, mem_access_bytes: int, calibration: Calibration | None
) -> tuple[str | None, float | None]:
    """``(bound, seconds)`` of an op on the roofline; ``(None, None)`` without a calibration."""
    return (None, None) if calibration is None else calibration.roof.place(flops, mem_access_bytes)


def group(
    ops: tuple[OpTiming, ...],
    key: Callable[[OpTiming], str | Iterable[str] | None],
    attributed_s: float | None = None,
) -> tuple[GroupTiming, ...]:
    """Sum ops into groups named by ``key`` (a name, several names, or ``None`` to skip), in first-seen order."""
    members: dict[str, list[OpTiming]] = defaultdict(list)
    for op in ops:
        names = key(op)
        if names is None:
            continue
        for name in (names,) if isinstance(names, str) else names:
            members[name].append(op)
    whole = attributed_s if attributed_s is not None else sum(op.time.median for op in ops)
    total_mult_adds = sum(op.mult_adds for op in ops)
    total_mem = sum(op.mem_access_bytes for op in ops)
    return tuple(
        _summarize(name, group_ops, whole, total_mult_adds, total_mem) for name, group_ops in members.items()
    )


def _summarize(
    name: str, ops: list[OpTiming], whole: float, total_mult_adds: int, total_mem: int
) -> GroupTiming:
    time_s = math.fsum(op.time.median for op in ops)
    runs = ops[0].time.runs
    per_pass = [math.fsum(op.time.times[r] for op in ops) for r in range(runs)]
    mult_adds = sum(op.mult_adds for op in ops)
    flops = sum(op.flops for op in ops)
    mem = sum(op.mem_access_bytes for op in ops)
    time_share = _share(time_s, whole)
    mult_adds_share = _share(mult_adds, total_mult_adds)
    roof = [op.roofline_s for op in ops]
    return GroupTiming(
        name=name,
        ops=len(ops),
        mult_adds=mult_adds,
        flops=flops,
        mem_access_bytes=mem,
        time_s=time_s,
        spread=Measurement.of(per_pass, ops[0].time.threads),
        time_share=time_share,
        mult_adds_share=mult_adds_share,
        mem_access_share=_share(mem, total_mem),
        gflop_per_s=flops / time_s / 1e9 if time_s > 0 else None,
        gb_per_s=mem / time_s / 1e9 if time_s > 0 else None,
        time_over_mult_adds=time_share / mult_adds_share if mult_adds_share > 0 else None,
        roofline_s=None if any(r is None for r in roof) else math.fsum(roof),
    )


def rank_disagreements(groups: Iterable[GroupTiming], kind: str) -> tuple[Disagreement, ...]:
    """Groups slower than their multiply-adds predict, most excess first.

    Ranked by ``time share - mult_adds share`` rather than by the ratio: a zero
    mult_adds op taking 11% of the time is 11 points off, where the ratio is
    infinite for any time at all. Places faster than predicted (negative excess)
    are left out: they are the ops FLOPs over-count.
    """
    found = [
        Disagreement(
            kind,
            g.name or "(root)",
            g.mult_adds_share,
            g.time_share,
            g.time_share - g.mult_adds_share,
            g.time_over_mult_adds,
        )
        for g in groups
        if g.time_share - g.mult_adds_share > 0
    ]
    return tuple(sorted(found, key=lambda d: -d.excess))


def _op_type_key(ops: tuple[OpTiming, ...]) -> Callable[[OpTiming], str]:
    """The ATen op type, with the category where one op type spans several.

    ``aten.convolution`` runs dense, group and depthwise convolutions, whose
    speed per multiply-add differs by an order of magnitude: they are
    ``convolution [conv]`` and ``convolution [depthwise_conv]``.
    """
    categories: dict[str, set[str]] = defaultdict(set)
    for op in ops:
        categories[op.op_type].add(op.category)

    def key(op: OpTiming) -> str:
        return op.op_type if len(categories[op.op_type]) == 1 else f"{op.op_type} [{op.category}]"

    return key


def attribute(
    nodes: tuple[OpNode, ...],
    op_times: list[list[float]],
    end_to_end: list[float],
    plain: list[float],
    *,
    threads: int,
    device: str,
    warmup: int,
    diverged_runs: int = 0,
    calibration: Calibration | None = None,
    module_order: Iterable[str] = (),
    warnings: Iterable[str] = (),
) -> Timing:
    """Build a ``Timing`` from raw times: ``op_times[r][i]`` is op ``i``'s seconds in pass ``r``.

    ``module_order`` lists module paths in the order to report them (the
    analysis's); paths not run by any op are left out.
    """
    runs = len(op_times)
    if runs == 0:
        raise ValueError("no timed pass to attribute")
    if any(len(times) != len(nodes) for times in op_times):
        raise ValueError("every timed pass must have one time per op of the graph")
    ops = []
    for i, node in enumerate(nodes):
        bound, roof = roofline(node.flops, node.mem_access_bytes, calibration)
        ops.append(
            OpTiming(
                id=node.id,
                op=node.op,
                module=node.module,
                category=node.category,
                figure2=figure2_category(node, nodes),
                mult_adds=node.mult_adds,
                flops=node.flops,
                mem_access_bytes=node.mem_access_bytes,
                time=Measurement.of((times[i] for times in op_times), threads),
                bound=bound,
                roofline_s=roof,
            )
        )
    ops_t = tuple(ops)
    e2e = Measurement.of(end_to_end, threads)
    attributed_s = math.fsum(op.time.median for op in ops_t)
    overhead = Measurement.of((end_to_end[r] - math.fsum(op_times[r]) for r in range(runs)), threads)

    by_module = {g.name: g for g in group(ops_t, lambda op: ancestors(op.module), attributed_s)}
    order = [path for path in module_order if path in by_module]
    modules = tuple(by_module[p] for p in order) + tuple(
        g for p, g in by_module.items() if p not in set(order)
    )
    categories = tuple(sorted(group(ops_t, lambda op: op.category, attributed_s), key=lambda g: -g.time_s))
    op_types = tuple(sorted(group(ops_t, _op_type_key(ops_t), attributed_s), key=lambda g: -g.time_s))
    present = {g.name: g for g in group(ops_t, lambda op: op.figure2, attributed_s)}
    figure2 = tuple(present[name] for name in FIGURE2 if name in present)
    leaves = group(ops_t, lambda op: op.module, attributed_s)

    notes = list(warnings)
    for label, measured in (
        ("end-to-end", e2e),
        ("plain forward", plain_m := Measurement.of(plain, threads)),
    ):
        if measured.warning:
            notes.append(f"{label}: {measured.warning}")
    if calibration is None:
        notes.append(
            "no calibration for this device and thread count: run `netprof calibrate` for the roofline"
        )
    return Timing(
        device=device,
        threads=threads,
        runs=runs,
        warmup=warmup,
        diverged_runs=diverged_runs,
        end_to_end=e2e,
        plain=plain_m,
        attributed_s=attributed_s,
        overhead_s=e2e.median - attributed_s,
        overhead=overhead,
        ops=ops_t,
        modules=modules,
        categories=categories,
        op_types=op_types,
        figure2=figure2,
        disagreements=rank_disagreements(op_types, "op"),
        module_disagreements=rank_disagreements(leaves, "module"),
        calibration=calibration,
        roofline_s=None if calibration is None else math.fsum(op.roofline_s or 0.0 for op in ops_t),
        warnings=tuple(notes),
    )
