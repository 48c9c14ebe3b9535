"""Build a device profile: time every micro-benchmark here and fit one latency model per op kind.

Each micro-benchmark is captured on meta, exactly as ``netprof predict`` will
capture a model, so the fit maps the ops a prediction sees to the time the device
takes for them; its latency is the median of plain forward passes (no dispatch
mode, no instrumentation), the number a user of a model sees. One non-negative
least-squares fit of every benchmark at once, weighted by ``1 / latency`` so that
each counts by its relative error, gives each kind's launch, per-FLOP and per-byte
cost, the cache-aware costs (per byte past what the last-level cache keeps of a pass, as a probe
measures it; and what only a network meets: per byte of a grouped convolution's per-call buffers past
8 MiB, which are fresh pages, held at most at what a page fault costs a byte here; and per op and per
byte of an op that fits in L2, which a one-op loop keeps there) and the framework's cost per module call
and per run.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch

from netprof import pipeline
from netprof.analysis import Analysis, OpNode
from netprof.calibration.caches import cache_sizes, measured_pass_cache
from netprof.calibration.microbench import MicroBench, micro_benchmarks
from netprof.calibration.pages import page_fault_cost
from netprof.environment import processor, threads_set, versions
from netprof.prediction.fit import fit_relative
from netprof.prediction.kinds import (
    FRESH_PAGES_BYTES,
    Kind,
    features,
    kind_of,
    loop_cached_bytes,
    past_cache_bytes,
    runs_kernel,
    transient_bytes,
)
from netprof.prediction.profile import CACHE_FEATURES, SHARED_TERMS, BenchPoint, DeviceProfile, KindModel
from netprof.runtimes.pack_run import cache_probe
from netprof.timing.clocks import clock_for
from netprof.timing.loop import Stop, time_calls
from netprof.timing.measurement import Measurement, quantile
from netprof.timing.run import TimingError, device_of

DEFAULT_BUDGET_S = 100.0  # of timed passes; with warm-ups and captures, about 4 minutes here
DEFAULT_ROUNDS = 3
MIN_PASSES, MAX_PASSES = 3, 200


def _plain_latency(
    module: torch.nn.Module, x: torch.Tensor, device: torch.device, budget_s: float, warmup: int = 2
) -> Measurement:
    """Plain forwards after ``warmup`` untimed ones (allocator, thread pool, kernel selection: two the
    first time, one on a later round), each a pass of the device's clock (an L2 flush first on CUDA)."""
    stop = Stop(budget_s=budget_s, min_runs=MIN_PASSES, max_runs=MAX_PASSES)
    with torch.no_grad():
        return time_calls(lambda: module(x), clock_for(device), stop, warmup=warmup)


def captured(bench: MicroBench, module: torch.nn.Module, dtype: torch.dtype) -> Analysis:
    """``module`` (``bench.build()``) counted as a profile counts it: on meta, or on a real input for a
    quantized kernel, which has no meta implementation."""
    if bench.capture == "real":
        return pipeline.analyze(module, _input(bench, dtype, "cpu"), mode="real")
    return pipeline.analyze(module, _input(bench, dtype, "meta"), mode="meta")


def _prepare(
    bench: MicroBench, device: torch.device, dtype: torch.dtype, cache_bytes: int, l2_bytes: int
) -> tuple[BenchPoint, torch.nn.Module, torch.Tensor]:
    """A micro-benchmark's counts (meta capture; ``seconds`` still 0) and its module and input on ``device``,
    with its cache-aware features on caches of ``cache_bytes`` and ``l2_bytes`` (``cache_features``)."""
    module = bench.build().eval()
    analysis = captured(bench, module, dtype)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for node in analysis.ops:
        kind = kind_of(node)
        entry = counts[str(kind)]
        flops, nbytes, weights = features(node, kind)
        entry[0] += 1
        entry[1] += flops
        entry[2] += nbytes
        entry[3] += weights
    point = BenchPoint(
        bench.name,
        {kind: tuple(values) for kind, values in counts.items()},
        sum(summary.calls for summary in analysis.modules),
        0.0,
        0.0,
        bench.group,
        **cache_features(analysis.ops, bench, device, cache_bytes, l2_bytes),
    )
    module = module.to(device=device, dtype=dtype)
    return point, module, _input(bench, dtype, device)


def cache_features(
    ops: Sequence[OpNode],
    bench: MicroBench,
    device: torch.device,
    cache_bytes: int,
    l2_bytes: int,
    fresh_pages_bytes: int = FRESH_PAGES_BYTES,
) -> dict[str, int]:
    """A micro-benchmark's cache-aware features (``CACHE_FEATURES``): its ops' bytes past
    ``cache_bytes`` (0: unknown, none); and on a CPU, for a network only, its grouped convolutions'
    buffers past ``fresh_pages_bytes``, its ops that run a kernel and their bytes that fit in
    ``l2_bytes``. A one-op loop gets the same pages back every pass (its buffers are never fresh, see
    ``transient_bytes``) and keeps in L2 what fits (``loop_cached_bytes``); the fresh pages are glibc's
    and the L2 a CPU's."""
    network = bench.group == "network" and device.type == "cpu"
    kernels = [node for node in ops if runs_kernel(kind_of(node))] if network else []
    found = (
        sum(past_cache_bytes(node, cache_bytes) for node in ops) if cache_bytes else 0,
        sum(transient_bytes(node, fresh_pages_bytes) for node in kernels),
        len(kernels),
        sum(loop_cached_bytes(node, l2_bytes) for node in kernels),
    )
    return dict(zip(CACHE_FEATURES, found))


def _input(bench: MicroBench, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    x = torch.randn(bench.input_shape, dtype=dtype, device=device)
    return x.contiguous(memory_format=torch.channels_last) if bench.channels_last else x


def _timed(point: BenchPoint, round_medians: Sequence[float]) -> BenchPoint:
    """``point`` with its latency: the median of its rounds' medians, and their IQR as its spread."""
    return replace(
        point,
        seconds=quantile(round_medians, 0.5),
        iqr_s=quantile(round_medians, 0.75) - quantile(round_medians, 0.25),
    )


def measure(
    bench: MicroBench,
    device: torch.device,
    dtype: torch.dtype,
    budget_s: float,
    cache_bytes: int = 0,
    l2_bytes: int = 0,
) -> BenchPoint:
    """One micro-benchmark's counts per kind (meta capture) and plain latency (one round, here);
    ``cache_bytes`` is what the last-level cache keeps and ``l2_bytes`` the L2, for the cache-aware
    features (0: unknown, features 0)."""
    point, module, x = _prepare(bench, device, dtype, cache_bytes, l2_bytes)
    latency = _plain_latency(module, x, device, budget_s)
    return replace(point, seconds=latency.median, iqr_s=latency.iqr)


def _features(point: BenchPoint, kinds: Sequence[Kind]) -> list[float]:
    row: list[float] = []
    for kind in kinds:
        row += [float(v) for v in point.kinds.get(str(kind), (0, 0, 0, 0))]
    shared = [float(getattr(point, name)) for name in CACHE_FEATURES]
    return [*row, *shared, float(point.module_calls), 1.0]


def fit(
    points: Sequence[BenchPoint], page_fault_s_per_byte: float = 0.0
) -> tuple[dict[Kind, KindModel], dict[str, float], float, float, float]:
    """Each kind's model, the prices of the cache-aware features (keyed as ``SHARED_TERMS``), the cost
    per module call and per run, and the fit's MAPE on ``points``; the fresh-pages price held at most at
    ``page_fault_s_per_byte`` (0: not held; see ``pages``).

    Rows are weighted by ``1 / seconds`` (relative error), and each group of benchmarks (one-op,
    synthetic networks) carries the same total weight, so that neither the many one-op benchmarks nor
    the few networks decide alone.
    """
    kinds = [kind for kind in Kind if any(str(kind) in point.kinds for point in points)]
    design = np.array([_features(point, kinds) for point in points])
    seconds = np.array([point.seconds for point in points])
    ceilings = np.zeros(design.shape[1])
    ceilings[4 * len(kinds) + CACHE_FEATURES.index("transient_bytes")] = page_fault_s_per_byte
    coefficients = fit_relative(design, seconds, [point.group for point in points], ceilings)
    models = {
        kind: KindModel(
            *(float(c) for c in coefficients[4 * i : 4 * i + 4]),
            benches=sum(str(kind) in point.kinds for point in points),
        )
        for i, kind in enumerate(kinds)
    }
    *shared, per_call, per_run = (float(c) for c in coefficients[4 * len(kinds) :])
    mape = float(np.mean(np.abs(design @ coefficients - seconds) / seconds))
    return models, dict(zip(SHARED_TERMS, shared, strict=True)), per_call, per_run, mape


class MemoryProbes(NamedTuple):
    """What a CPU's calibration measures of its memory before the micro-benchmarks; 0: not measured."""

    l2_bytes: int  # as the system lists them
    llc_bytes: int
    cache_holds_bytes: int  # what the probe finds the last level keeps of a pass
    page_fault_s_per_byte: float  # what a byte of fresh pages costs (``pages.page_fault_cost``)


def _probe_memory(device: torch.device, progress: Callable[[int, int, str], None] | None) -> MemoryProbes:
    """On a CPU: the cache sizes listed and probed, and what fresh pages cost; nothing on another device."""
    if device.type != "cpu":
        return MemoryProbes(0, 0, 0, 0.0)
    if progress:
        progress(0, 1, "cache probe: reading 1 MiB to 1 GiB over and over; page faults")
    l2_bytes, llc_bytes = cache_sizes()
    holds = measured_pass_cache(cache_probe(), l2_bytes).holds_bytes
    return MemoryProbes(l2_bytes, llc_bytes, holds, page_fault_cost())


def calibrate(
    device: str = "cpu",
    threads: int | None = None,
    dtype: torch.dtype = torch.float32,
    budget_s: float = DEFAULT_BUDGET_S,
    progress: Callable[[int, int, str], None] | None = None,
    benches: Sequence[MicroBench] | None = None,
    rounds: int = DEFAULT_ROUNDS,
) -> DeviceProfile:
    """Time the micro-benchmarks (default: every one) on ``device`` with ``threads`` threads and fit a
    profile, in about ``budget_s`` seconds of timed passes.

    The benchmarks are timed in ``rounds`` interleaved rounds (each round visits every one), and each
    keeps the median of its round medians: on a shared machine a burst of load lands on one round of
    many benchmarks instead of every pass of a few, and the median drops it.
    """
    dev = device_of(device)
    benches = micro_benchmarks() if benches is None else list(benches)
    if dev.type != "cpu" or dtype != torch.float32:  # int8 kernels run on the CPU, from float32 inputs
        benches = [bench for bench in benches if bench.capture == "meta"]
    started = time.perf_counter()
    if not benches:
        raise TimingError("no micro-benchmark to run")
    with threads_set(threads) as in_force:
        memory = _probe_memory(dev, progress)
        cache_bytes = memory.cache_holds_bytes or memory.llc_bytes
        prepared = [_prepare(bench, dev, dtype, cache_bytes, memory.l2_bytes) for bench in benches]
        medians: list[list[float]] = [[] for _ in benches]
        visits = rounds * len(benches)
        for visit in range(visits):
            index = visit % len(benches)
            if progress:
                progress(visit, visits, benches[index].name)
            # What is left of the budget, shared by the visits still to come (warm-ups included).
            left = budget_s - (time.perf_counter() - started)
            _, module, x = prepared[index]
            budget = max(left, 0.0) / (visits - visit) / 2
            latency = _plain_latency(module, x, dev, budget, warmup=2 if visit < len(benches) else 1)
            medians[index].append(latency.median)
    points = [_timed(point, times) for (point, _, _), times in zip(prepared, medians)]
    models, shared, per_call, per_run, mape = fit(points, memory.page_fault_s_per_byte)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else processor()
    return DeviceProfile(
        device=dev.type,
        processor=name,
        threads=in_force,
        dtype=str(dtype).removeprefix("torch."),
        versions=versions(),
        kinds=models,
        per_module_call_s=per_call,
        per_run_s=per_run,
        points=tuple(points),
        **memory._asdict(),
        **shared,
        fit_mape=mape if math.isfinite(mape) else None,
        calibration_s=time.perf_counter() - started,
    )
