"""ONNX Runtime: a plain session for latency, a profiled one for each kernel's time.

Session profiling writes a Chrome trace: one ``model_run`` event per run and one
``Node`` event per executed kernel (``<node>_kernel_time``, ``dur`` in
microseconds, ``args.op_name``, ``args.provider``). Kernel names are the
*optimized* graph's, which the profiled session also writes to a file, so that
each kernel can be joined to the original nodes it covers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from netprof.runtimes.export import ExportedModel
from netprof.runtimes.join import KernelNode, covered_nodes
from netprof.runtimes.kernels import Kernel, timed

_SUFFIX = "_kernel_time"


def session_options(threads: int, *, quiet: bool = True):
    """One intra-op thread count, no inter-op pool, the default (all) graph optimizations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if quiet:
        options.log_severity_level = 3  # the NCHWc serialization warning is for people who ship the file
    return options


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, exported: ExportedModel, feeds: Sequence[np.ndarray], threads: int) -> None:
        import onnxruntime as ort

        self.exported = exported
        self._scratch = tempfile.TemporaryDirectory(prefix="netprof-ort-")
        scratch = Path(self._scratch.name)
        providers = ["CPUExecutionProvider"]
        self.plain = ort.InferenceSession(str(exported.path), session_options(threads), providers=providers)
        profiled = session_options(threads)
        profiled.enable_profiling = True
        profiled.profile_file_prefix = str(scratch / "profile")
        profiled.optimized_model_filepath = str(scratch / "optimized.onnx")
        self.profiled = ort.InferenceSession(str(exported.path), profiled, providers=providers)
        self._optimized = scratch / "optimized.onnx"
        self.feeds = dict(zip(exported.input_names, feeds))
        self._events: list[dict] | None = None

    def plain_run(self) -> float:
        return timed(lambda: self.plain.run(None, self.feeds))

    def profiled_run(self) -> float:
        """One run; its kernels' times are read from the trace when the profiler is ended."""
        return timed(lambda: self.profiled.run(None, self.feeds))

    def kernel_times(self) -> list[dict[str, float]]:
        """Kernel name -> seconds for every profiled run, in order (ends the profiler)."""
        events = self._trace()
        runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
        per_run: list[dict[str, float]] = [defaultdict(float) for _ in runs]
        starts = [e["ts"] for e in runs]
        for event in events:
            if event.get("cat") != "Node" or not event["name"].endswith(_SUFFIX):
                continue
            index = _run_index(starts, event["ts"])
            if index is not None:
                per_run[index][event["name"][: -len(_SUFFIX)]] += event["dur"] * 1e-6
        return [dict(run) for run in per_run]

    def _trace(self) -> list[dict]:
        if self._events is None:
            path = self.profiled.end_profiling()
            with open(path, encoding="utf-8") as file:
                self._events = json.load(file)
            os.remove(path)
        return self._events

    def kernels(self) -> Sequence[Kernel]:
        import onnx

        executed = {}
        for event in self._trace():
            if event.get("cat") == "Node" and event["name"].endswith(_SUFFIX):
                args = event.get("args", {})
                executed.setdefault(
                    event["name"][: -len(_SUFFIX)], (args.get("op_name", "?"), args.get("provider", "?"))
                )
        graph = onnx.load(str(self._optimized), load_external_data=False).graph
        return optimized_kernels(graph, executed, self.exported)

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        self._trace()
        self._scratch.cleanup()


def optimized_kernels(
    graph, executed: Mapping[str, tuple[str, str]], exported: ExportedModel
) -> tuple[Kernel, ...]:
    """The kernels that ran (``executed``: name -> op type and provider), in the optimized ``graph``'s
    order, each with the original nodes of ``exported`` it covers."""
    nodes = [
        KernelNode(n.name, n.op_type, tuple(n.input), tuple(n.output), _activation(n)) for n in graph.node
    ]
    constants = {*exported.initializers, *exported.input_names}
    covered = covered_nodes(exported.nodes, nodes, constants)
    return tuple(
        Kernel(node.name, *executed[node.name], covered.get(node.name, ()))
        for node in nodes
        if node.name in executed
    )


def _run_index(starts: list[float], ts: float) -> int | None:
    """The run an event at ``ts`` belongs to: the last run that started at or before it."""
    index = None
    for i, start in enumerate(starts):
        if start <= ts:
            index = i
        else:
            break
    return index


def _activation(node) -> str | None:
    """The activation ONNX Runtime fused into a convolution (``FusedConv``, NCHWc ``Conv``), if any."""
    for attribute in node.attribute:
        if attribute.name == "activation":
            return attribute.s.decode()
    return None
