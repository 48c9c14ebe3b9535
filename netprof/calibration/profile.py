"""Build a device profile: time every micro-benchmark here and fit one latency model per op kind.

Each micro-benchmark is captured on meta, exactly as ``netprof predict`` will
capture a model, so the fit maps the ops a prediction sees to the time the device
takes for them; its latency is the median of plain forward passes (no dispatch
mode, no instrumentation), the number a user of a model sees. One non-negative
least-squares fit of every benchmark at once, weighted by ``1 / latency`` so that
each counts by its relative error, gives each kind's launch, per-FLOP and per-byte
cost and the framework's cost per module call and per run.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch

from netprof import pipeline
from netprof.calibration.microbench import MicroBench, micro_benchmarks
from netprof.environment import processor, threads_set, versions
from netprof.prediction.fit import nnls
from netprof.prediction.kinds import Kind, kind_of, weight_bytes
from netprof.prediction.profile import BenchPoint, DeviceProfile, KindModel
from netprof.timing.clocks import clock_for
from netprof.timing.loop import Stop, time_calls
from netprof.timing.measurement import Measurement
from netprof.timing.run import TimingError, device_of

DEFAULT_BUDGET_S = 120.0
MIN_PASSES, MAX_PASSES = 3, 200


def _plain_latency(
    module: torch.nn.Module, x: torch.Tensor, device: torch.device, budget_s: float
) -> Measurement:
    """Plain forwards after two warm-ups (allocator, thread pool, kernel selection), each a pass of
    the device's clock (an L2 flush first on CUDA)."""
    stop = Stop(budget_s=budget_s, min_runs=MIN_PASSES, max_runs=MAX_PASSES)
    with torch.no_grad():
        return time_calls(lambda: module(x), clock_for(device), stop, warmup=2)


def measure(bench: MicroBench, device: torch.device, dtype: torch.dtype, budget_s: float) -> BenchPoint:
    """One micro-benchmark's counts per kind (meta capture) and plain latency (a real run here)."""
    module = bench.build().eval()
    analysis = pipeline.analyze(
        module, torch.empty(bench.input_shape, dtype=dtype, device="meta"), mode="meta"
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for node in analysis.ops:
        entry = counts[str(kind_of(node))]
        entry[0] += 1
        entry[1] += node.flops
        entry[2] += node.mem_access_bytes
        entry[3] += weight_bytes(node)
    module = module.to(device=device, dtype=dtype)
    latency = _plain_latency(
        module, torch.randn(bench.input_shape, dtype=dtype, device=device), device, budget_s
    )
    return BenchPoint(
        bench.name,
        {kind: tuple(values) for kind, values in counts.items()},
        sum(summary.calls for summary in analysis.modules),
        latency.median,
        latency.iqr,
        bench.group,
    )


def _features(point: BenchPoint, kinds: Sequence[Kind]) -> list[float]:
    row: list[float] = []
    for kind in kinds:
        row += [float(v) for v in point.kinds.get(str(kind), (0, 0, 0, 0))]
    return [*row, float(point.module_calls), 1.0]


def fit(points: Sequence[BenchPoint]) -> tuple[dict[Kind, KindModel], float, float, float]:
    """Each kind's model, the cost per module call and per run, and the fit's MAPE on ``points``.

    Rows are weighted by ``1 / seconds`` (relative error), and each group of benchmarks (one-op,
    synthetic networks) carries the same total weight, so that neither the many one-op benchmarks nor
    the few networks decide alone.
    """
    kinds = [kind for kind in Kind if any(str(kind) in point.kinds for point in points)]
    design = np.array([_features(point, kinds) for point in points])
    seconds = np.array([point.seconds for point in points])
    groups = Counter(point.group for point in points)
    share = np.array([len(points) / (len(groups) * groups[point.group]) for point in points])
    coefficients = nnls(design * (share / seconds)[:, None], share)
    models = {
        kind: KindModel(
            *(float(c) for c in coefficients[4 * i : 4 * i + 4]),
            benches=sum(str(kind) in point.kinds for point in points),
        )
        for i, kind in enumerate(kinds)
    }
    per_call, per_run = (float(c) for c in coefficients[-2:])
    mape = float(np.mean(np.abs(design @ coefficients - seconds) / seconds))
    return models, per_call, per_run, mape


def calibrate(
    device: str = "cpu",
    threads: int | None = None,
    dtype: torch.dtype = torch.float32,
    budget_s: float = DEFAULT_BUDGET_S,
    progress: Callable[[int, int, str], None] | None = None,
    benches: Sequence[MicroBench] | None = None,
) -> DeviceProfile:
    """Time the micro-benchmarks (default: every one) on ``device`` with ``threads`` threads and fit a
    profile, in about ``budget_s`` seconds."""
    dev = device_of(device)
    benches = micro_benchmarks() if benches is None else list(benches)
    started = time.perf_counter()
    points: list[BenchPoint] = []
    with threads_set(threads) as in_force:
        for index, bench in enumerate(benches):
            if progress:
                progress(index, len(benches), bench.name)
            # What is left of the budget, shared by the benchmarks still to run (warm-ups included).
            left = budget_s - (time.perf_counter() - started)
            points.append(measure(bench, dev, dtype, max(left, 0.0) / (len(benches) - index) / 2))
    if not points:
        raise TimingError("no micro-benchmark to run")
    models, per_call, per_run, mape = fit(points)
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
        fit_mape=mape if math.isfinite(mape) else None,
        calibration_s=time.perf_counter() - started,
    )
