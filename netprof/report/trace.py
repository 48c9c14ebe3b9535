"""A timed forward pass as a Chrome trace-event file, for ui.perfetto.dev and chrome://tracing.

The timeline is one synthetic pass: every op's **median** over the timed passes,
laid end to end in execution order, so that op ``i`` starts where op ``i - 1``
ends and the op slices add up to ``Timing.attributed_s`` exactly. The time no op
accounts for (``Timing.overhead_s``: framework work between kernels and the
instrumentation) is not spread between the ops, where it was never measured op
by op: it is one ``overhead`` slice after the last op, so the whole timeline is
the end-to-end median.

Slices are complete events (``"ph": "X"``, microseconds) on one process and one
thread. Module slices nest by module path: a module's slice runs from the start
of its first op to the end of its last op of one call; a module called twice
(with other modules' ops between the calls) has two slices. The capture records
each op's innermost module path, not call boundaries, so two calls of one
module with nothing else between them read as one slice. Ops are the innermost
slices, with their counts, shapes, achieved rates and, given a prediction, the
predicted seconds in ``args``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netprof import datafiles
from netprof.analysis import Analysis, OpNode
from netprof.capture.ir import TensorMeta
from netprof.environment import __version__
from netprof.module_paths import ancestors
from netprof.timing.attribution import OpTiming, Timing

PID = 1
TID = 1
KERNEL_TID = 2  # a deployment runtime's kernels
OVERHEAD = "overhead"


def _us(seconds: float) -> float:
    return seconds * 1e6


def _rate(amount: int, seconds: float) -> float | None:
    """Achieved giga-units per second; ``None`` for an op that took no measurable time."""
    return amount / seconds / 1e9 if seconds > 0 else None


def _shape(meta: TensorMeta) -> str:
    """``1x3x224x224 float32``; a 0-d tensor is ``() float32``."""
    dims = "x".join(str(size) for size in meta.shape) or "()"
    return f"{dims} {str(meta.dtype).removeprefix('torch.')}"


def _op_args(op: OpTiming, metas: OpNode | None, predicted_s: float | None) -> dict[str, Any]:
    median = op.time.median
    args: dict[str, Any] = {
        "op": op.op,
        "id": op.id,
        "module": op.module,
        "category": op.category,
        "figure2": op.figure2,
        "mult_adds": op.mult_adds,
        "flops": op.flops,
        "mem_access_bytes": op.mem_access_bytes,
        "input_shapes": [_shape(m) for m in metas.input_metas] if metas is not None else [],
        "output_shapes": [_shape(m) for m in metas.output_metas] if metas is not None else [],
        "median_s": median,
        "q1_s": op.time.q1,
        "q3_s": op.time.q3,
        "gflop_per_s": _rate(op.flops, median),
        "gb_per_s": _rate(op.mem_access_bytes, median),
    }
    if op.bound is not None:
        args["bound"] = op.bound
    if op.roofline_s is not None:
        args["roofline_s"] = op.roofline_s
    if predicted_s is not None:
        args["predicted_s"] = predicted_s
    return args


class _Module:
    """A module slice being built: where it starts and the ops it has run so far."""

    def __init__(self, path: str, start_us: float, order: int) -> None:
        self.path, self.start_us, self.order = path, start_us, order
        self.ops: list[OpTiming] = []
        self.predicted: list[float] = []


def build(
    analysis: Analysis,
    timing: Timing,
    predicted_s: Mapping[int, float] | None = None,
    *,
    profile: str | None = None,
) -> dict[str, Any]:
    """The trace-event document of ``timing`` (ops of ``analysis``); ``predicted_s`` maps op id to seconds."""
    nodes = {node.id: node for node in analysis.ops}
    types = {summary.path: summary.type for summary in analysis.modules}
    calls = {summary.path: summary.calls for summary in analysis.modules}
    slices: list[tuple[int, dict[str, Any]]] = []  # (when it opened, event)
    open_modules: list[_Module] = []
    opening = itertools.count()  # slices in the order they open: parents before their children

    def close(until: int, end_us: float) -> None:
        while len(open_modules) > until:
            module = open_modules.pop()
            time_s = math.fsum(op.time.median for op in module.ops)
            args: dict[str, Any] = {
                "path": module.path,
                "type": types.get(module.path, ""),
                "calls": calls.get(module.path, 1),
                "ops": len(module.ops),
                "time_s": time_s,
                "mult_adds": sum(op.mult_adds for op in module.ops),
                "flops": sum(op.flops for op in module.ops),
                "mem_access_bytes": sum(op.mem_access_bytes for op in module.ops),
                "gflop_per_s": _rate(sum(op.flops for op in module.ops), time_s),
                "gb_per_s": _rate(sum(op.mem_access_bytes for op in module.ops), time_s),
            }
            if predicted_s is not None:
                args["predicted_s"] = math.fsum(module.predicted)
            name = module.path or analysis.model
            if types.get(module.path) not in (None, "", name):
                name = f"{name} ({types[module.path]})"
            slices.append((module.order, _slice(name, "module", module.start_us, end_us, args)))

    now = 0.0
    for op in timing.ops:
        path = ancestors(op.module)
        shared = 0
        while shared < min(len(path), len(open_modules)) and open_modules[shared].path == path[shared]:
            shared += 1
        close(shared, now)
        open_modules.extend(_Module(p, now, next(opening)) for p in path[shared:])
        predicted = None if predicted_s is None else predicted_s.get(op.id)
        for module in open_modules:
            module.ops.append(op)
            module.predicted.append(predicted or 0.0)
        end = now + _us(op.time.median)
        event = _slice(op.op_type, op.category, now, end, _op_args(op, nodes.get(op.id), predicted))
        slices.append((next(opening), event))
        now = end
    close(0, now)
    events = _metadata(analysis, timing)
    events += [event for _, event in sorted(slices, key=lambda pair: pair[0])]
    if timing.overhead_s > 0:
        events.append(
            _slice(
                OVERHEAD,
                OVERHEAD,
                now,
                now + _us(timing.overhead_s),
                {
                    "overhead_s": timing.overhead_s,
                    "note": "end-to-end median minus the sum of op medians: time between and around "
                    "the ops that no op accounts for, gathered here at the end, not where it occurred",
                },
            )
        )
    events += _kernel_track(timing)
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": _other_data(analysis, timing, predicted_s, profile),
    }


def _slice(
    name: str, cat: str, start_us: float, end_us: float, args: dict[str, Any], tid: int = TID
) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "ts": start_us,
        "dur": end_us - start_us,
        "pid": PID,
        "tid": tid,
        "args": args,
    }


def _kernel_track(timing: Timing) -> list[dict[str, Any]]:
    """A deployment runtime's kernels on a second track, each its median long, in execution order, with
    the op ids it computes (a fused kernel several; the ops' track credits its time to one of them)."""
    if not timing.kernels:
        return []
    events = [
        {"name": "thread_name", "ph": "M", "ts": 0, "pid": PID, "tid": KERNEL_TID,
         "args": {"name": f"{timing.runtime} kernels: medians, in execution order"}},
    ]  # fmt: skip
    now = 0.0
    for kernel in timing.kernels:
        end = now + _us(kernel.time.median)
        args = {"op_type": kernel.op_type, "provider": kernel.provider, "op_ids": list(kernel.op_ids)}
        args |= {"fused": kernel.fused, "time_s": kernel.time.median}
        events.append(_slice(kernel.name, "fused" if kernel.fused else "kernel", now, end, args, KERNEL_TID))
        now = end
    return events


def _metadata(analysis: Analysis, timing: Timing) -> list[dict[str, Any]]:
    def meta(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "ph": "M", "ts": 0, "pid": PID, "tid": TID, "args": args}

    return [
        meta("process_name", {"name": f"netprof: {analysis.model} on {timing.device}"}),
        meta(
            "thread_name",
            {"name": f"forward pass: op medians of {timing.runs} timed passes, end to end"},
        ),
    ]


def _other_data(
    analysis: Analysis, timing: Timing, predicted_s: Mapping[int, float] | None, profile: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "netprof": __version__,
        "model": analysis.model,
        "device": timing.device,
        "clock": "CUDA events" if timing.device.startswith("cuda") else "time.perf_counter_ns",
        "threads": timing.threads,
        "repeat": timing.runs,
        "warmup": timing.warmup,
        "diverged_runs": timing.diverged_runs,
        "ops": len(timing.ops),
        "timeline": (
            f"one synthetic forward pass: each op's median over {timing.runs} timed passes, laid end to "
            "end in execution order (op slices sum to attributed_s); module slices span their ops; "
            "the overhead no op accounts for is one slice after the last op"
        ),
        "attributed_s": timing.attributed_s,
        "overhead_s": timing.overhead_s,
        "end_to_end_median_s": timing.end_to_end.median,
        "plain_median_s": timing.plain.median,
    }
    if predicted_s is not None:
        data["predicted_ops_s"] = math.fsum(predicted_s.values())
        if profile is not None:
            data["profile"] = profile
    if timing.warnings:
        data["warnings"] = list(timing.warnings)
    return data


def write(
    path: Path,
    analysis: Analysis,
    timing: Timing,
    predicted_s: Mapping[int, float] | None = None,
    *,
    profile: str | None = None,
) -> None:
    """Write the trace of ``timing`` to ``path`` as JSON, atomically."""
    document = build(analysis, timing, predicted_s, profile=profile)
    datafiles.write_text(path, json.dumps(document, separators=(",", ":")) + "\n")
