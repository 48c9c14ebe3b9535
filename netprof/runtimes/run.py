"""Time a model in a deployment runtime and credit each kernel's time to the captured ops it computes.

The plain runs come first, in one block, then the profiled runs: ``timing.plain``
is the runtime's own latency (no profiler), and each kernel's median comes from
the profiled runs. The two sessions hold two copies of the model, so alternating
them would evict each other's weights from the caches: on this machine that made
plain runs 5-24% slower than the same model run alone. A kernel's time is credited to the
op that does its arithmetic (its largest in flops, then in bytes), so a fused
batch-norm or activation costs nothing of its own, which is what fusion means;
the kernel list keeps every op it covers. Kernels the runtime added (layout
reorders) belong to no op: their time is overhead, as framework time is in eager.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from netprof.capture.workload import Workload, as_workload
from netprof.runtimes import executorch, inductor
from netprof.runtimes.backends import backend_for, require
from netprof.runtimes.export import ExportedModel, ExportError, export
from netprof.runtimes.join import compose, ops_by_node
from netprof.runtimes.kernels import Kernel
from netprof.timing import calibrate
from netprof.timing.attribution import KernelTiming, Timing, attribute
from netprof.timing.loop import Stop, run_until
from netprof.timing.measurement import Measurement
from netprof.timing.run import DEFAULT_BUDGET_S, DEFAULT_WARMUP, MAX_RUNS, MIN_RUNS, progress_bar

if TYPE_CHECKING:
    from netprof.analysis import Analysis, OpNode

# Ops whose work a kernel does: a fused kernel computes more than one of them.
_NO_WORK = frozenset({"view", "other"})
# The bars for a join worth reporting without a warning.
KERNEL_SUM_TOLERANCE = 0.15
JOINED_SHARE = 0.90


def feeds(workload: Workload, exported: ExportedModel) -> list[np.ndarray]:
    """The workload's tensors as the runtime's inputs, in the exported graph's order."""
    args, kwargs = workload.inputs
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    if len(tensors) != len(exported.input_names):
        raise ExportError(
            f"the exported graph takes {len(exported.input_names)} input(s), the workload has "
            f"{len(tensors)} tensor(s): a runtime runs tensor inputs only"
        )
    return [t.detach().cpu().contiguous().numpy() for t in tensors]


def time_on_runtime(
    model: nn.Module,
    workload: Workload | Any,
    analysis: Analysis,
    runtime: str,
    *,
    repeat: int | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    warmup: int = DEFAULT_WARMUP,
    threads: int | None = None,
    progress: bool = True,
) -> Timing:
    """Export ``model``, run it in ``runtime`` on the CPU and time its kernels, joined to ``analysis``'s ops."""
    require(runtime)
    workload = as_workload(workload)
    threads = threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="netprof-export-") as scratch:
        exported = _export(runtime, model, workload, Path(scratch))
        inputs = feeds(workload, exported)
        with progress_bar(progress, 1.0, _preparing(runtime, analysis.model)) as advance:
            backend = backend_for(runtime, exported, inputs, threads)
            advance(1.0)
        try:
            total = 2.0 * repeat if repeat is not None else budget_s
            with progress_bar(progress, total, f"timing {analysis.model} in {runtime}") as advance:
                plain = _block(backend.plain_run, repeat, budget_s / 2, warmup, advance)
                profiled = _block(backend.profiled_run, repeat, budget_s / 2, warmup, advance)
            per_run = backend.kernel_times()[warmup:]
            kernels = backend.kernels()
            notes = backend.notes()
            exported = backend.exported
        finally:
            backend.close()
    if len(per_run) != len(profiled):
        raise ExportError(f"{runtime} profiled {len(per_run)} runs of {len(profiled)}: cannot attribute them")
    return _attribute(analysis, exported, kernels, per_run, plain, profiled, runtime, threads, warmup, notes)


def _block(
    run: Callable[[], float],
    repeat: int | None,
    budget_s: float,
    warmup: int,
    advance: Callable[[float], None],
) -> list[float]:
    """Seconds of ``run``'s timed calls, after ``warmup``: ``repeat`` of them, else what ``budget_s`` allows."""

    def step() -> float:
        seconds = run()
        advance(1.0 if repeat is not None else seconds)
        return seconds

    return list(run_until(step, Stop(repeat, budget_s, MIN_RUNS, MAX_RUNS), warmup=warmup).timed)


def _export(runtime: str, model: nn.Module, workload: Workload, directory: Path) -> ExportedModel:
    """What the runtime runs: an ExecuTorch program for ExecuTorch, the ``torch.export`` program that
    ``torch.compile`` compiles, ONNX for the others."""
    if runtime == "executorch":
        return executorch.export(model, workload, directory)
    if runtime == "compile":
        return inductor.export(model, workload, directory)
    return export(model, workload, directory / "model.onnx")


def _preparing(runtime: str, model: str) -> str:
    """The progress line while the runtime loads the model (Inductor compiles it: seconds to minutes)."""
    if runtime == "compile":
        return f"compiling {model} with torch.compile (Inductor, C++), not timed"
    return f"loading {model} into {runtime}"


def _attribute(
    analysis: Analysis,
    exported: ExportedModel,
    kernels: Sequence[Kernel],
    per_run: list[dict[str, float]],
    plain: Sequence[float],
    profiled: Sequence[float],
    runtime: str,
    threads: int,
    warmup: int,
    notes: Sequence[str] = (),
) -> Timing:
    kernel_ops = compose({k.name: k.nodes for k in kernels}, ops_by_node(exported.nodes, analysis.ops))
    index = {op.id: i for i, op in enumerate(analysis.ops)}
    op_times = [[0.0] * len(analysis.ops) for _ in per_run]
    timed_kernels = []
    for kernel in kernels:
        ids = kernel_ops.get(kernel.name, ())
        times = [run.get(kernel.name, 0.0) for run in per_run]
        worker = _worker(ids, analysis.ops, index) if ids else None
        if worker is not None:
            for r, seconds in enumerate(times):
                op_times[r][index[worker]] += seconds
        working = [i for i in ids if analysis.ops[index[i]].category not in _NO_WORK]
        timed_kernels.append(
            KernelTiming(
                kernel.name,
                kernel.op_type,
                kernel.provider,
                Measurement.of(times, threads),
                ids,
                len(working) > 1,
            )
        )
    calibration = calibrate.load("cpu", threads)
    timing = attribute(
        analysis.ops,
        op_times,
        list(profiled),
        list(plain),
        threads=threads,
        device="cpu",
        warmup=warmup,
        calibration=calibration,
        module_order=[m.path for m in analysis.modules],
        warnings=[*notes, *_join_notes(analysis.ops, timed_kernels, runtime, plain)],
    )
    return dataclasses.replace(timing, runtime=runtime, kernels=tuple(timed_kernels))


def _worker(ids: Sequence[int], ops: Sequence[OpNode], index: dict[int, int]) -> int:
    """The op that does a kernel's arithmetic: most flops, then most bytes, then the first."""
    return max(ids, key=lambda i: (ops[index[i]].flops, ops[index[i]].mem_access_bytes, -i))


def _join_notes(
    ops: Sequence[OpNode], kernels: Sequence[KernelTiming], runtime: str, plain: Sequence[float]
) -> list[str]:
    """Loud notes where the join or the kernel times fall short of what the report can stand on."""
    notes = []
    joined = {i for kernel in kernels for i in kernel.op_ids}
    working = [op for op in ops if op.mult_adds > 0]
    missing = [op for op in working if op.id not in joined]
    if working and len(missing) > (1 - JOINED_SHARE) * len(working):
        notes.append(
            f"only {len(working) - len(missing)} of {len(working)} ops with mult_adds were joined to "
            f"{runtime}'s kernels (first missing: {missing[0].op} in {missing[0].module or '(root)'})"
        )
    kernel_s = math.fsum(k.time.median for k in kernels)
    latency = float(np.median(plain))
    if latency > 0 and abs(kernel_s - latency) > KERNEL_SUM_TOLERANCE * latency:
        notes.append(
            f"{runtime}'s kernel times sum to {kernel_s * 1e3:.2f} ms, the plain latency is "
            f"{latency * 1e3:.2f} ms: {abs(kernel_s / latency - 1):.0%} apart"
        )
    return notes
