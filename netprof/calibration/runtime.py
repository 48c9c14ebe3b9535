"""Device profiles of a deployment runtime: micro-benchmarks exported to ONNX and timed in the runtime.

The micro-benchmarks are a lean subset of eager calibration's (every op kind,
a third of each family's shapes, each read on by a mean as a network's next layer
reads it, two chains of many small kernels, thirty synthetic networks), plus the
fusion pairs: an anchor (1x1 convolution, depthwise
convolution, linear) alone, a follower alone, and the two in one model. Each is
captured on meta (the counts ``netprof predict`` will see) and exported with the
dynamo exporter (cached per torch version: exporting is the slow part). Latencies
are plain-session medians under ``netprof.timing.loop``'s rules, the lowest of
three interleaved rounds' (for nn-Meter's fusion rule, each less the per-run cost
of a one-op model on eight numbers). Then every benchmark runs once more under the
runtime's own profiler, its kernels are joined to the captured ops as ``analyze
--time --runtime`` joins them, and ``netprof.calibration.runtime_fit`` decides
fusion from what the profiler saw and fits each kind on those kernels: what an op
costs inside a network, without the layout changes a one-op model pays at its
input and output.

The same data travels as a pack (``write_pack``): the ONNX files, a manifest of
each benchmark's ops, its exported graph and which ops each node computes, the
pairs, and ``run.py``, which also profiles every benchmark and returns the
optimized graph ONNX Runtime ran (without weights); ``import_results`` makes the
profile from what ``run.py`` wrote on the device, with no capture of a model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import json
import math
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from netprof import pipeline
from netprof.analysis import Analysis
from netprof.calibration import runtime_fit
from netprof.calibration.caches import cache_sizes, from_levels, parse_row, pass_cache
from netprof.calibration.microbench import Binary, MicroBench, micro_benchmarks, synthetic_networks
from netprof.calibration.runtime_fit import BenchKernels, KernelTime
from netprof.capture.workload import as_workload
from netprof.datafiles import read_json, write_text
from netprof.environment import cache_dir, processor, versions
from netprof.errors import NetprofError
from netprof.prediction.kinds import Kind
from netprof.prediction.profile import BenchPoint
from netprof.runtimes import openvino, pack_run
from netprof.runtimes.backends import backend_for, require
from netprof.runtimes.export import ExportedModel, OnnxNode, export, read
from netprof.runtimes.fusion import FusionOp, FusionPair, fused_pairs, fusion_op, kernel_counts
from netprof.runtimes.join import compose, ops_by_node
from netprof.runtimes.kernels import Kernel
from netprof.runtimes.layout import REORDER_OPS, Layout
from netprof.runtimes.profile import RuntimeProfile
from netprof.runtimes.reuse import PassCache
from netprof.timing.clocks import clock_for
from netprof.timing.loop import Stop, run_until, time_calls

PACK_FORMAT = "netprof.runtime-pack/3"  # /2: export joins, kernels in the results; /3: ops' layouts
RESULTS_FORMAT = pack_run.RESULTS_FORMAT
DEFAULT_BENCH_BUDGET_S = 0.3
# Every benchmark is timed in this many rounds, one after the other over the whole list, and keeps its
# lowest round median: on a shared machine, a round disturbed by other work only ever runs slower.
ROUNDS = 3
WARMUP, MIN_RUNS, MAX_RUNS = 2, 5, 200
BASELINE = "run baseline: relu 1x8"
_MAX_WEIGHT_BYTES = 16 << 20  # keeps a pack small enough to copy to a phone


class CalibrationError(NetprofError):
    """A runtime calibration, pack or results file that cannot be used; the message says why."""


@dataclass(frozen=True)
class PairBench:
    """Three models, each timed less ``base`` (default: the per-run baseline), which they all start with."""

    anchor: str
    follower: str
    first: MicroBench
    second: MicroBench
    both: MicroBench
    base: MicroBench | None = None


class _Then(nn.Module):
    """``second(first(x))``, or ``first(x) + x`` for a residual add."""

    def __init__(self, first: nn.Module, second: nn.Module | None) -> None:
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.first(x)
        return y + x if self.second is None else self.second(y)


class _Steps(nn.Module):
    """``steps`` element-wise kernels that a runtime cannot merge (a chain of ReLUs is one ReLU to it)."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step in range(self.steps):
            x = x * 1.5 if step % 2 else x + 0.5
        return x


class _AfterPrefix(nn.Module):
    """``body(y)``, ``y + y`` or ``body(y) + y`` with ``y = prefix(x)``: a residual add whose two inputs a
    runtime keeps in its own layout, as in a network (a model input would need a layout change first)."""

    def __init__(self, prefix: nn.Module, body: nn.Module | None, residual: bool) -> None:
        super().__init__()
        self.prefix, self.body, self.residual = prefix, body, residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.prefix(x)
        z = y if self.body is None else self.body(y)
        return z + y if self.residual else z


class _ReadOn(nn.Module):
    """``op(x)`` read by a mean, as a network's next layer reads it: a runtime that computes in bfloat16
    writes a model's output in float32, the output's precision, and a network's inner layers in bfloat16.
    OpenVINO's 7x7 stem convolution took 362 us writing the model's output here, 271 us into a mean."""

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> Any:
        y = self.op(x)
        if isinstance(y, torch.Tensor) and y.is_floating_point() and y.dim() > 1:
            return y.mean(tuple(range(1, y.dim())))
        return y


def _read_on(bench: MicroBench) -> MicroBench:
    return replace(bench, name=f"{bench.name}, read on", build=lambda: _ReadOn(bench.build()))


def _followers(channels: int) -> dict[str, Callable[[], nn.Module | None]]:
    return {
        "batch_norm": lambda: nn.BatchNorm2d(channels),
        "relu": nn.ReLU,
        "clip": nn.ReLU6,
        "hardswish": nn.Hardswish,
        "silu": nn.SiLU,
        "sigmoid": nn.Sigmoid,
        "add": lambda: None,
    }


def pair_benches() -> list[PairBench]:
    """Each anchor at a shape where the follower's time stands well out of the anchor's noise: a 1x1
    convolution from few channels, a depthwise convolution, a linear layer."""
    pairs = []
    c, hw = 64, 56
    anchors = {
        "conv": (f"conv1x1 16->{c} {hw}^2", lambda: nn.Conv2d(16, c, 1, bias=False), 16),
        "depthwise_conv": (
            f"depthwise3x3 {c} {hw}^2",
            lambda: nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False),
            c,
        ),
    }
    out = (1, c, hw, hw)
    for anchor, (anchor_name, build_anchor, c_in) in anchors.items():
        first = MicroBench(f"pair {anchor_name}", build_anchor, (1, c_in, hw, hw))
        for follower, build in _followers(c).items():
            if anchor == "depthwise_conv" and follower in ("add", "sigmoid"):
                continue
            if follower == "add":
                pairs.append(_residual_pair(first, c, hw))
                continue
            both = MicroBench(
                f"pair {anchor_name} + {follower}",
                lambda build_anchor=build_anchor, build=build: _Then(build_anchor(), build()),
                (1, c_in, hw, hw),
            )
            pairs.append(
                PairBench(
                    anchor, follower, first, MicroBench(f"pair {follower} {c}x{hw}^2", build, out), both
                )
            )
    t, width = 197, 256
    first = MicroBench(f"pair linear {t}x{width}->{width}", lambda: nn.Linear(width, width), (1, t, width))
    for follower, build in {"relu": nn.ReLU, "gelu": nn.GELU, "add": lambda: None}.items():
        alone = (lambda: Binary(torch.add, False)) if follower == "add" else build
        second = MicroBench(f"pair {follower} {t}x{width}", alone, (1, t, width))
        both = MicroBench(
            f"pair linear {t}x{width}->{width} + {follower}",
            lambda build=build: _Then(nn.Linear(width, width), build()),
            (1, t, width),
        )
        pairs.append(PairBench("linear", follower, first, second, both))
    return pairs


def _residual_pair(prefix: MicroBench, c: int, hw: int) -> PairBench:
    """A 1x1 convolution and a residual add after ``prefix`` (so that both of the add's inputs are in the
    runtime's own layout, as in a network), each timed less the prefix alone."""
    shape = prefix.input_shape

    def conv() -> nn.Module:
        return nn.Conv2d(c, c, 1, bias=False)

    name = f"pair {prefix.name.removeprefix('pair ')} then"
    return PairBench(
        "conv",
        "add",
        MicroBench(f"{name} conv1x1 {c}->{c}", lambda: _AfterPrefix(prefix.build(), conv(), False), shape),
        MicroBench(f"{name} add {c}x{hw}^2", lambda: _AfterPrefix(prefix.build(), None, True), shape),
        MicroBench(
            f"{name} conv1x1 {c}->{c} + add", lambda: _AfterPrefix(prefix.build(), conv(), True), shape
        ),
        prefix,
    )


def _weight_bytes(bench: MicroBench) -> int:
    return sum(p.numel() * 4 for p in bench.build().parameters())


# Families taken whole: grouped convolutions split into two kinds by alignment, and the unaligned depthwise
# and grouped ones are kinds of their own; a third of each would leave each kind a few points.
_WHOLE_FAMILIES = frozenset({"unaligned", "group3x3"})
# How much more the networks' kernels weigh than the one-op benchmarks' in a runtime's fit (1 elsewhere).
# On the Xeon, two ONNX Runtime calibrations refitted with 1, 2, 4 and 8, against 16 models measured right
# after, put 6, 6, 8, 8 and 6, 6, 6, 8 of the 8 named models within 10% (MAPE 7.4/6.5/4.6/4.5% and
# 8.9/7.3/5.7/5.0%), and three windows calibrated at 8 put 8, 8 and 6 of 8 there; OpenVINO's two went 3
# to 2 and 2 to 5 of 8, and its windows at 8 2 and 1 of 8 (its named models 13-25% fast): it stays at 1.
NETWORK_EMPHASIS = {"onnxruntime": 8.0}
# The cache streams' passes outgrow what a 32 MiB cache keeps of them (the footprint it loses half of)...
_STREAMED_CACHE = PassCache.of_llc(32 << 20).middle_bytes
_MAX_STREAM_SCALE = 8  # ...or one up to 8 times larger, with as many times their layers and pixels


def runtime_benches(cache_bytes: int = 0) -> list[MicroBench]:
    """The per-run baseline, a third of each one-op family (all the unaligned and grouped convolutions),
    two chains of small kernels, thirty synthetic networks, three cache streams (for a pass of which the
    cache loses half at ``cache_bytes``) and every fusion pair's three models, in a fixed order without
    repeats."""
    families: dict[str, list[MicroBench]] = {}
    for bench in micro_benchmarks():
        exportable = bench.capture == "meta"  # not the int8 kernels: the runtimes do not run them here
        if (
            exportable
            and bench.group == "op"
            and "relu modules" not in bench.name
            and "containers" not in bench.name
        ):
            families.setdefault(bench.name.split()[0], []).append(bench)
    chosen = [MicroBench(BASELINE, nn.ReLU, (1, 8))]
    for name, members in families.items():
        if not name.isdigit():  # "16 relu calls": a runtime merges a chain of ReLUs into one
            step = 1 if name in _WHOLE_FAMILIES else 3
            chosen += [_read_on(b) for b in members[::step] if _weight_bytes(b) <= _MAX_WEIGHT_BYTES]
    chosen += [MicroBench(f"{n} add/mul kernels 1x8", lambda n=n: _Steps(n), (1, 8)) for n in (16, 64)]
    chosen += synthetic_networks(30, seed=2)
    chosen += cache_streams(cache_bytes)
    for pair in pair_benches():
        chosen += [b for b in (pair.base, pair.first, pair.second, pair.both) if b is not None]
    unique: dict[str, MicroBench] = {}
    for bench in chosen:
        unique.setdefault(bench.name, bench)
    return list(unique.values())


def cache_streams(cache_bytes: int = 0) -> list[MicroBench]:
    """Networks whose pass outgrows a server's last-level cache, most synthetic networks fitting in it:
    chains of layers with 34 and 25 MB of weights, and one whose 56 MB of feature maps at 224x224 a pass
    writes into buffers the last pass touched: what a weight and a buffer byte fetched from DRAM cost
    (``reuse``). Sized for a 32 MiB cache; for one that loses half of a pass n times larger
    (``cache_bytes``), n times as many layers and n times the pixels (its side a multiple of 32), n at
    most 8."""
    scale = min(_MAX_STREAM_SCALE, max(1, math.ceil(cache_bytes / _STREAMED_CACHE)))
    side = 32 * round(7 * math.sqrt(scale))

    def chain(layer: Callable[[], nn.Module], length: int) -> Callable[[], nn.Module]:
        return lambda: nn.Sequential(*(layer() for _ in range(length)))

    def maps() -> nn.Module:
        return nn.Sequential(
            *_conv_relu(3, 32, 3), *_conv_relu(32, 64, 1), *_conv_relu(64, 32, 1), *_conv_relu(32, 32, 3, 32)
        )

    linear = chain(lambda: nn.Linear(1024, 1024), 8 * scale)
    conv = chain(lambda: nn.Sequential(*_conv_relu(512, 512, 1)), 24 * scale)
    return [
        MicroBench(f"cache stream: {8 * scale} linear 1024x1024", linear, (1, 1024), "network"),
        MicroBench(f"cache stream: {24 * scale} conv1x1 512 at 7x7", conv, (1, 512, 7, 7), "network"),
        MicroBench(f"cache stream: 4 convolutions at {side}x{side}", maps, (1, 3, side, side), "network"),
    ]


def _conv_relu(c_in: int, c_out: int, k: int, groups: int = 1) -> tuple[nn.Module, nn.Module]:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups), nn.ReLU()


# --- what each benchmark computes ------------------------------------------------------------------


def _capture(bench: MicroBench) -> Analysis:
    """The benchmark as ``netprof predict`` captures it (on meta)."""
    module = bench.build().eval()
    return pipeline.analyze(module, torch.empty(bench.input_shape, device="meta"), mode="meta")


def _op_row(op: FusionOp) -> list[Any]:
    row = [op.id, op.kind, op.role, list(op.inputs), op.flops, op.mem_access_bytes, op.weight_bytes]
    return [*row, op.layout, op.input_bytes, op.output_bytes]


def _op_of(row: Sequence[Any]) -> FusionOp:
    op_id, kind, role, inputs, flops, nbytes, weights, layout, input_bytes, output_bytes = row
    Kind(kind)  # an unknown kind or layout is a malformed manifest
    Layout(layout)
    counts = int(flops), int(nbytes), int(weights)
    return FusionOp(
        int(op_id), str(kind), role, tuple(inputs), *counts, layout, int(input_bytes), int(output_bytes)
    )


def _file_name(bench: MicroBench) -> str:
    """Named by the benchmark's name, module structure and input: two benchmarks never share a file."""
    key = f"{bench.name}|{bench.build()!r}|{bench.input_shape}"
    return hashlib.sha1(key.encode()).hexdigest()[:16] + ".onnx"


def exported(bench: MicroBench) -> Path:
    """The benchmark's ONNX file, exported once per torch version (in the cache directory)."""
    folder = cache_dir() / "runtime-exports" / torch.__version__
    path = folder / _file_name(bench)
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.onnx")
        module = bench.build().eval()
        export(module, as_workload(torch.randn(bench.input_shape)), partial)
        partial.replace(path)
    return path


def manifest(benches: Sequence[MicroBench], progress: Callable[[int, int, str], None] | None = None) -> dict:
    """What a pack carries besides its ONNX files: each benchmark's ops, input, exported graph and which
    ops each of its nodes computes (the export join), and the fusion pairs."""
    entries = []
    for index, bench in enumerate(benches):
        if progress:
            progress(index, len(benches), f"capturing and exporting {bench.name}")
        analysis = _capture(bench)
        graph = read(exported(bench))
        entries.append(
            {
                "name": bench.name,
                "file": _file_name(bench),
                "input_shape": list(bench.input_shape),
                "group": "network" if bench.group == "network" else "op",
                "ops": [_op_row(fusion_op(op)) for op in analysis.ops],
                "nodes": [[n.name, n.op_type, list(n.inputs), list(n.outputs)] for n in graph.nodes],
                "constants": sorted({*graph.initializers, *graph.input_names}),
                "node_ops": {name: list(ids) for name, ids in ops_by_node(graph.nodes, analysis.ops).items()},
            }
        )
    document = {
        "format": PACK_FORMAT,
        "versions": versions(),
        "baseline": BASELINE,
        "benches": entries,
        "pairs": [
            {
                "anchor": p.anchor,
                "follower": p.follower,
                "first": p.first.name,
                "second": p.second.name,
                "both": p.both.name,
                "base": None if p.base is None else p.base.name,
            }
            for p in pair_benches()
        ],
    }
    return {**document, "digest": _digest(document)}


def _graph(entry: Mapping[str, Any]) -> ExportedModel:
    """A manifest entry's exported graph, as the runtime join reads it (no file, no weights)."""
    nodes = tuple(
        OnnxNode(str(name), str(op_type), tuple(inputs), tuple(outputs), None, None, None)
        for name, op_type, inputs, outputs in entry["nodes"]
    )
    return ExportedModel(Path(entry["file"]), nodes, (), frozenset(entry["constants"]))


def kernel_times(
    entry: Mapping[str, Any], kernels: Sequence[Kernel], seconds: Sequence[float]
) -> tuple[KernelTime, ...]:
    """The runtime's kernels of one benchmark, each with its median seconds and the ops it computes."""
    joined = compose({k.name: k.nodes for k in kernels}, entry["node_ops"])
    return tuple(
        KernelTime(k.op_type, float(t), tuple(joined.get(k.name, ())), k.precision)
        for k, t in zip(kernels, seconds)
    )


def _digest(document: Mapping[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# --- timing ---------------------------------------------------------------------------------------


def _session(runtime: str, path: Path, threads: int) -> Callable[[np.ndarray], object]:
    if runtime == "onnxruntime":
        import onnxruntime as ort

        from netprof.runtimes.onnxruntime import session_options

        session = ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})
    import openvino as ov

    from netprof.runtimes.openvino import compile_options

    request = (
        ov.Core().compile_model(str(path), "CPU", compile_options(threads, False)).create_infer_request()
    )
    return lambda x: request.infer([x])


def time_file(
    runtime: str, path: Path, shape: Sequence[int], threads: int, budget_s: float
) -> tuple[float, float]:
    """Median and IQR seconds of plain runs of the ONNX file in ``runtime``."""
    run = _session(runtime, path, threads)
    x = np.random.default_rng(0).standard_normal(tuple(shape), dtype=np.float32)
    stop = Stop(budget_s=budget_s, min_runs=MIN_RUNS, max_runs=MAX_RUNS)
    measured = time_calls(
        lambda: run(x), clock_for(torch.device("cpu")), stop, warmup=WARMUP, threads=threads
    )
    return measured.median, measured.iqr


# Runtimes whose profiled runs take a plain run's time: OpenVINO's performance counters took 0.97-1.03x
# here; ONNX Runtime's profiler, writing an event per kernel, 1.02-1.34x (shufflenet_v2 5.35 ms, 4.24 plain).
FREE_PROFILERS = frozenset({"openvino"})


def profile_file(
    runtime: str, path: Path, shape: Sequence[int], threads: int, budget_s: float
) -> tuple[list[Kernel], list[float], float]:
    """The runtime's kernels of the ONNX file, each one's median seconds under its profiler, and the
    median seconds of those profiled runs."""
    x = np.random.default_rng(0).standard_normal(tuple(shape), dtype=np.float32)
    backend = backend_for(runtime, read(path), [x], threads)
    try:
        stop = Stop(budget_s=budget_s, min_runs=MIN_RUNS, max_runs=MAX_RUNS)
        walls = run_until(backend.profiled_run, stop, warmup=WARMUP).timed
        per_run = backend.kernel_times()[WARMUP:]
        kernels = list(backend.kernels())
    finally:
        backend.close()
    seconds = [statistics.median(run.get(k.name, 0.0) for run in per_run) for k in kernels]
    return kernels, seconds, statistics.median(walls)


def runtime_version(runtime: str) -> str:
    return str(getattr(require(runtime), "__version__", "?"))


# --- the profile ----------------------------------------------------------------------------------


def _pairs(
    document: Mapping[str, Any],
    times: Mapping[str, tuple[float, float]],
    evidence: Mapping[tuple[str, str], tuple[int, int]],
) -> tuple[FusionPair, ...]:
    """The timed pairs (less the per-run baseline, or the pair's own prefix) with the profiler's evidence,
    then every pair only the profiler saw."""

    def net(name: str, base: str | None) -> float:
        return max(times[name][0] - times[base or document["baseline"]][0], 0.0)

    timed = {
        (p["anchor"], p["follower"]): tuple(net(p[m], p.get("base")) for m in ("first", "second", "both"))
        for p in document["pairs"]
    }
    keys = list(timed) + [pair for pair in evidence if pair not in timed]
    return tuple(
        FusionPair(*pair, *timed.get(pair, (0.0, 0.0, 0.0)), *evidence.get(pair, (0, 0))) for pair in keys
    )


def build_profile(
    document: Mapping[str, Any],
    times: Mapping[str, tuple[float, float]],
    kernels: Mapping[str, Sequence[KernelTime]],
    *,
    runtime: str,
    version: str,
    threads: int,
    processor_name: str,
    calibration_s: float | None,
    notes: Sequence[str] = (),
    caches: tuple[int, int] = (0, 0),
    cache: PassCache | None = None,
    profiled_walls: Mapping[str, float] | None = None,
) -> RuntimeProfile:
    """The profile from a manifest, each benchmark's ``(median, iqr)`` plain seconds, its profiled
    kernels and, where the runtime's profiler costs a run nothing, the profiled runs' own median seconds
    (``profiled_walls``; without them no time outside the kernels is priced): fusion, then the
    kernel-level fit (``runtime_fit``), what its networks fetch from DRAM past the last-level cache:
    what it keeps of a pass as ``cache`` says (``caches.pass_cache``), else as the size Linux lists in
    ``caches``, ``(l2_bytes, llc_bytes)``, suggests (0: unknown, priced as the one-op benchmarks found
    it)."""
    l2_bytes, llc_bytes = caches
    cache = PassCache.of_llc(llc_bytes) if cache is None else cache
    measured = cache if cache.miss_s_per_byte else PassCache()  # a probe measured what a miss costs
    if measured.loses_bytes:
        held, lost, listed = (size / 2**20 for size in (cache.holds_bytes, cache.loses_bytes, llc_bytes))
        note = f"last-level cache: keeps a pass whole up to {held:.0f} MiB, none of it past {lost:.0f} MiB"
        notes = (*notes, f"{note} (measured; {listed:.0f} MiB listed)")
    benches = [
        BenchKernels(
            entry["name"],
            entry["group"],
            tuple(_op_of(row) for row in entry["ops"]),
            times[entry["name"]][0],
            tuple(kernels.get(entry["name"], ())),
            (profiled_walls or {}).get(entry["name"], 0.0),
        )
        for entry in document["benches"]
    ]
    pairs = _pairs(document, times, runtime_fit.fusion_evidence(benches))
    fused = fused_pairs(pairs)
    reorder_ops = REORDER_OPS.get(runtime, frozenset())
    by_name = {bench.name: bench for bench in benches}
    timed_pairs = {
        (p["anchor"], p["follower"]): (by_name[p["first"]], by_name[p["both"]]) for p in document["pairs"]
    }
    free = runtime_fit.free_followers(timed_pairs, fused)
    emphasis = NETWORK_EMPHASIS.get(runtime, 1.0)
    fitted = runtime_fit.fit(benches, fused, reorder_ops, cache, emphasis, free, l2_bytes)
    if free:
        within = f"each pair's kernels within {runtime_fit.FREE_SHARE:.0%} of its anchor's alone"
        notes = (*notes, f"fused followers priced at zero ({within}): {', '.join(sorted(free))}")
    if reorder_ops:
        layout = fitted.reorders
        note = (
            f"layout: {layout.placed} reorders placed in the benchmarks' captures, {layout.seen} reorder "
            f"kernels run by {runtime}; each costs {layout.per_reorder_s * 1e6:.1f} us + "
            f"{layout.s_per_byte * 1e12:.1f} ps a byte"
        )
        notes = (*notes, note)
    if cache.loses_bytes:
        cold = fitted.cold_costs
        note = (
            f"fetched from DRAM, past the last-level cache: a weight byte {cold.weights * 1e12:.1f} ps, "
            f"a buffer byte {cold.buffers * 1e12:.1f} ps"
        )
        if cache.miss_s_per_byte:
            note += f" (at most the {cache.miss_s_per_byte * 1e12:.1f} ps the probe's reads paid)"
        notes = (*notes, note)
    spilled = fitted.s_per_spilled_byte
    outside = (
        f"{fitted.per_run_s * 1e6:.1f} us + {fitted.per_input_byte_s * 1e12:.1f} ps a byte of the model's input"
        if profiled_walls
        else f"not priced ({runtime}'s profiler slows the runs it times: their kernels' times hold it)"
    )
    notes = (
        *notes,
        f"a matrix-vector weight byte in a network (beyond L2): {fitted.s_per_streamed_byte * 1e12:.1f} ps",
        f"a kernel's input or output byte past L2 ({l2_bytes / 2**20:.1f} MiB): {spilled * 1e12:.1f} ps"
        if l2_bytes
        else "a kernel's input or output byte past L2: not priced (L2's size unknown)",
        f"a run outside its kernels: {outside}",
    )
    points = tuple(
        BenchPoint(
            bench.name,
            kernel_counts(list(bench.ops), fused),
            0,
            bench.seconds,
            times[bench.name][1],
            bench.group,
        )
        for bench in benches
    )
    return RuntimeProfile(
        device="cpu",
        processor=processor_name,
        threads=threads,
        dtype="float32",
        versions={**dict(document.get("versions", {})), runtime: version},
        kinds=fitted.kinds,
        per_module_call_s=0.0,
        per_run_s=fitted.per_run_s,
        points=points,
        fit_mape=fitted.mape if math.isfinite(fitted.mape) else None,
        calibration_s=calibration_s,
        notes=tuple(notes),
        runtime=runtime,
        runtime_version=version,
        fusion=pairs,
        fused_s_per_flop=fitted.fused_s_per_flop,
        reorder_s=fitted.reorders.per_reorder_s,
        reorder_s_per_byte=fitted.reorders.s_per_byte,
        l2_bytes=l2_bytes,
        llc_bytes=llc_bytes,
        cache_holds_bytes=measured.holds_bytes,
        cache_loses_bytes=measured.loses_bytes,
        s_per_cold_weight_byte=fitted.cold_costs.weights,
        s_per_cold_buffer_byte=fitted.cold_costs.buffers,
        per_input_byte_s=fitted.per_input_byte_s,
        s_per_streamed_byte=fitted.s_per_streamed_byte,
        s_per_spilled_byte=fitted.s_per_spilled_byte,
    )


def calibrate(
    runtime: str,
    threads: int = 1,
    *,
    budget_s: float = DEFAULT_BENCH_BUDGET_S,
    benches: Sequence[MicroBench] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> RuntimeProfile:
    """Probe the cache this process gets (``pack_run.cache_probe``), then export, time, profile and fit
    every runtime micro-benchmark (default: ``runtime_benches()`` with cache streams for that cache) in
    ``runtime``."""
    version = runtime_version(runtime)
    started = time.perf_counter()
    if progress:
        progress(0, 1, "cache probe: reading 1 MiB to 1 GiB over and over")
    caches = cache_sizes()
    cache = pass_cache(pack_run.cache_probe(), *caches)
    if benches is None:
        benches = runtime_benches(cache.middle_bytes)
    document = manifest(benches, progress)
    files = [exported(bench) for bench in benches]
    rounds: dict[str, list[tuple[float, float]]] = {bench.name: [] for bench in benches}
    for round_ in range(ROUNDS):
        for index, (bench, path) in enumerate(zip(benches, files)):
            if progress:
                progress(index, len(benches), f"{runtime} round {round_ + 1}/{ROUNDS}: {bench.name}")
            rounds[bench.name].append(time_file(runtime, path, bench.input_shape, threads, budget_s / ROUNDS))
    kernels, walls = {}, {}
    for index, (entry, path) in enumerate(zip(document["benches"], files)):
        if progress:
            progress(index, len(benches), f"{runtime} profiler: {entry['name']}")
        ran, seconds, wall = profile_file(runtime, path, entry["input_shape"], threads, budget_s / ROUNDS)
        kernels[entry["name"]] = kernel_times(entry, ran, seconds)
        walls[entry["name"]] = wall
    return build_profile(
        document,
        {name: min(measured) for name, measured in rounds.items()},
        kernels,
        runtime=runtime,
        version=version,
        threads=threads,
        processor_name=processor(),
        calibration_s=time.perf_counter() - started,
        caches=caches,
        cache=cache,
        notes=openvino.precision_notes(openvino.default_precision()) if runtime == "openvino" else (),
        profiled_walls=walls if runtime in FREE_PROFILERS else None,
    )


# --- packs for devices netprof cannot reach -------------------------------------------------------


def write_pack(
    folder: Path,
    benches: Sequence[MicroBench] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """``folder`` (new or empty) with one ONNX file per benchmark, ``manifest.json`` and ``run.py``."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CalibrationError(f"{folder} exists and is not an empty directory: give a new one")
    benches = runtime_benches() if benches is None else list(benches)
    document = manifest(benches, progress)
    folder.mkdir(parents=True, exist_ok=True)
    for index, bench in enumerate(benches):
        if progress:
            progress(index, len(benches), f"exporting {bench.name}")
        shutil.copyfile(exported(bench), folder / _file_name(bench))
    write_text(folder / "manifest.json", json.dumps(document, indent=1) + "\n")
    spec = importlib.util.find_spec(pack_run.__name__)
    assert spec is not None and spec.origin is not None
    shutil.copyfile(spec.origin, folder / "run.py")
    return document


def _check_results(data: Any, where: str) -> tuple[dict, dict[str, tuple[float, float]]]:
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CalibrationError(f"{where}: not the results of a netprof pack's run.py (format {found!r})")
    document = data.get("manifest")
    if not isinstance(document, dict) or document.get("format") != PACK_FORMAT:
        raise CalibrationError(f"{where}: its manifest is not a {PACK_FORMAT} manifest")
    if document.get("digest") != _digest(document):
        raise CalibrationError(f"{where}: its manifest does not match its digest (edited or truncated)")
    if data.get("runtime") != "onnxruntime":
        raise CalibrationError(f"{where}: measured in {data.get('runtime')!r}, not in onnxruntime")
    threads = data.get("threads")
    if not isinstance(threads, int) or threads < 1:
        raise CalibrationError(f"{where}: 'threads' must be a positive integer, got {threads!r}")
    raw = data.get("times")
    if not isinstance(raw, dict):
        raise CalibrationError(f"{where}: 'times' must be an object of benchmark name -> times")
    times = {}
    for entry in document["benches"]:
        found = raw.get(entry["name"])
        try:
            median, iqr = float(found["median_s"]), float(found["iqr_s"])
        except (KeyError, TypeError, ValueError):
            raise CalibrationError(f"{where}: no usable time for micro-benchmark {entry['name']!r}") from None
        if not (math.isfinite(median) and median > 0):
            raise CalibrationError(f"{where}: micro-benchmark {entry['name']!r} has median {median!r}")
        times[entry["name"]] = (median, iqr)
    return document, times


def _imported_kernels(
    data: Mapping[str, Any], document: Mapping[str, Any], where: str
) -> dict[str, tuple[KernelTime, ...]]:
    """Each benchmark's profiled kernels from ``run.py``'s results, joined through its optimized graph."""
    import onnx

    from netprof.runtimes.onnxruntime import optimized_kernels

    found = data.get("kernels")
    if not isinstance(found, dict):
        raise CalibrationError(
            f"{where}: no profiled kernels: results of an older run.py, run the pack again"
        )
    kernels = {}
    for entry in document["benches"]:
        try:
            profiled = found[entry["name"]]
            graph = onnx.load_from_string(base64.b64decode(profiled["graph"])).graph
            executed = {
                name: (op_type, provider) for name, (op_type, provider, _) in profiled["kernels"].items()
            }
            ran = optimized_kernels(graph, executed, _graph(entry))
            seconds = [float(profiled["kernels"][k.name][2]) for k in ran]
        except (
            KeyError,
            TypeError,
            ValueError,
            binascii.Error,
            onnx.checker.ValidationError,
        ) as error:
            raise CalibrationError(
                f"{where}: unusable kernels for micro-benchmark {entry['name']!r} ({type(error).__name__})"
            ) from None
        kernels[entry["name"]] = kernel_times(entry, ran, seconds)
    return kernels


def _caches(rows: Any, where: str) -> tuple[int, int]:
    """``(l2_bytes, llc_bytes)`` of the caches ``run.py`` found (``[level, type, size]`` rows); 0 where
    it found none."""
    try:
        return from_levels([parse_row(row) for row in rows])
    except (TypeError, ValueError):
        raise CalibrationError(
            f"{where}: 'caches' must be [level, type, size] rows, got {rows!r:.80}"
        ) from None


def _probe(rows: Any, where: str) -> list[tuple[float, float]]:
    """The ``[bytes, seconds per byte]`` rows of ``run.py``'s cache probe (none from an older run.py)."""
    try:
        probe = [(float(size), float(price)) for size, price in rows]
    except (TypeError, ValueError):
        probe = []
    if rows and (not probe or not all(size > 0 and price > 0 for size, price in probe)):
        raise CalibrationError(
            f"{where}: 'cache_probe' must be [bytes, seconds per byte] rows, got {rows!r:.80}"
        )
    return probe


def import_results(path: Path) -> RuntimeProfile:
    """The profile of the device ``run.py`` ran on, from the ``results.json`` it wrote."""
    data = read_json(path, CalibrationError, "results file not found")
    document, times = _check_results(data, str(path))
    kernels = _imported_kernels(data, document, str(path))
    caches = _caches(data.get("caches", []), str(path))
    try:
        return build_profile(
            document,
            times,
            kernels,
            runtime="onnxruntime",
            version=str(data.get("runtime_version", "?")),
            threads=data["threads"],
            processor_name=str(data.get("processor") or data.get("machine") or "unknown"),
            calibration_s=data.get("seconds"),
            notes=(f"imported from {path.name}: measured by a pack's run.py on {data.get('machine', '?')}",),
            caches=caches,
            cache=pass_cache(_probe(data.get("cache_probe", []), str(path)), *caches),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CalibrationError(f"{path}: malformed manifest ({type(error).__name__}: {error})") from None
