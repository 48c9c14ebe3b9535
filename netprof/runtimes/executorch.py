"""ExecuTorch with the XNNPACK delegate on the CPU: the export to a ``.pte`` program, and its runs.

**Export.** ``torch.export`` then ``to_edge_transform_and_lower`` with the
XNNPACK partitioner: the program a user ships to a phone. The ETRecord written
beside it keeps the edge program as it was before lowering; its FX nodes carry
each node's module (``nn_module_stack``), its ATen op and its *debug handle*,
so they become the ``OnnxNode`` records the export join reads (the name is the
ONNX path's; the fields mean the same).

**Runs.** A plain program (no ETDump) gives the latency; a second one loaded
with ``enable_etdump=True`` records one profiling event per executed
instruction: one ``DELEGATE_CALL`` per call into a delegated (XNNPACK)
partition, one per operator run by ExecuTorch's own (portable) kernels. Each
event names the debug handles of the nodes it computes, so the runtime join is
the runtime's own data. Inside a delegate call, XNNPACK also reports each of
its operators' times, but without debug handles (its lowering writes an empty
delegate map), so netprof cannot say which ops each computes: a delegate call
is one kernel covering every op of its partition, and the report says so.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from netprof.capture.workload import Workload
from netprof.errors import one_line
from netprof.runtimes.export import (
    ExportedModel,
    ExportError,
    fx_node,
    quiet,
    require_forward,
)
from netprof.runtimes.kernels import Kernel, timed

DELEGATE_CALL = "DELEGATE_CALL"
_METHOD = "Method::execute"  # the whole run, around every kernel


def export(model: nn.Module, workload: Workload, directory: Path) -> ExportedModel:
    """Lower an inference forward pass of a copy of ``model`` to ``directory/model.pte`` (XNNPACK), with
    its ETRecord beside it; the model is left as it was."""
    require_forward(workload)
    twin = copy.deepcopy(model).eval()
    args, kwargs = workload.inputs
    path, record = directory / "model.pte", directory / "etrecord.bin"
    try:
        with quiet(), torch.no_grad():
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower

            program = torch.export.export(twin, tuple(args), kwargs=kwargs or None)
            edge = to_edge_transform_and_lower(
                program, partitioner=[XnnpackPartitioner()], generate_etrecord=True
            )
            lowered = edge.to_executorch()
            path.write_bytes(lowered.buffer)
            lowered.get_etrecord().save(str(record))
    except ImportError as error:
        raise ExportError(f"--runtime executorch: {error}: pip install 'netprof[executorch]'") from error
    except Exception as error:  # torch.export and the lowering raise many kinds; each is one line
        raise ExportError(
            f"torch.export / ExecuTorch could not export the model: {one_line(error)}"
        ) from error
    return read(path, record)


def read(path: Path, record: Path) -> ExportedModel:
    """The nodes of the edge program (before lowering) in ``record``, with their debug handles."""
    from executorch.devtools import parse_etrecord

    with quiet():
        program = parse_etrecord(str(record)).edge_dialect_program
    signature = program.graph_signature
    nodes, handles = [], defaultdict(list)
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        nodes.append(fx_node(node))
        handle = node.meta.get("debug_handle")
        for h in handle if isinstance(handle, (tuple, list)) else (handle,):
            if h is not None:
                handles[int(h)].append(node.name)
    constants = {*signature.inputs_to_parameters, *signature.inputs_to_buffers}
    constants |= set(getattr(signature, "inputs_to_lifted_tensor_constants", {}))
    return ExportedModel(
        path,
        tuple(nodes),
        tuple(signature.user_inputs),
        frozenset(constants),
        record=record,
        debug_handles={h: tuple(names) for h, names in handles.items()},
    )


class ExecuTorch:
    name = "executorch"

    def __init__(self, exported: ExportedModel, feeds: Sequence[np.ndarray], threads: int) -> None:
        from executorch.extension.pybindings import portable_lib

        self.exported = exported
        self._lib = portable_lib
        with quiet():
            self._threads_before = portable_lib._threadpool_get_thread_count()
            # XNNPACK runs on ExecuTorch's one process-wide threadpool: --threads is its size.
            portable_lib._unsafe_reset_threadpool(threads)
            self.plain = portable_lib._load_for_executorch(str(exported.path))
            self.profiled = portable_lib._load_for_executorch(str(exported.path), enable_etdump=True)
        self.inputs = tuple(torch.from_numpy(np.ascontiguousarray(f)) for f in feeds)
        self._runs = 0
        self._events: list | None = None

    def plain_run(self) -> float:
        return timed(lambda: self.plain.forward(self.inputs))

    def profiled_run(self) -> float:
        self._runs += 1
        return timed(lambda: self.profiled.forward(self.inputs))

    def _inspect(self) -> list:
        """The ETDump's executed events (once, after the runs), each with one time per profiled run."""
        if self._events is None:
            from executorch.devtools import Inspector
            from executorch.devtools.inspector import TimeScale

            etdump = self.exported.path.with_suffix(".etdp")
            with quiet():
                self.profiled.write_etdump_result_to_file(str(etdump))
                inspector = Inspector(
                    etdump_path=str(etdump),
                    etrecord=str(self.exported.record),
                    source_time_scale=TimeScale.NS,
                    target_time_scale=TimeScale.S,
                )
            self._events = [
                event
                for block in inspector.event_blocks
                if block.name == "Execute"
                for event in block.events
                if event.perf_data is not None
            ]
        return self._events

    def _kernel_events(self) -> list[tuple[str, object]]:
        """The kernels: delegate calls and ExecuTorch's own operators, named uniquely in execution order
        (the operators XNNPACK runs inside a delegate call carry no debug handles, and are part of it)."""
        seen: Counter[str] = Counter()
        kernels = []
        for event in self._inspect():
            if event.name == _METHOD or event.is_delegated_op or event.debug_handles is None:
                continue
            seen[event.name] += 1
            kernels.append((f"{event.name} #{seen[event.name]}", event))
        return kernels

    def kernel_times(self) -> list[dict[str, float]]:
        per_run: list[dict[str, float]] = [{} for _ in range(self._runs)]
        for name, event in self._kernel_events():
            raw = event.perf_data.raw
            if len(raw) != self._runs:  # an event not in every run: no run can be told from another
                continue
            for run, seconds in zip(per_run, raw):
                run[name] = float(seconds)
        return per_run

    def kernels(self) -> Sequence[Kernel]:
        handles = self.exported.debug_handles
        kernels = []
        for name, event in self._kernel_events():
            ids = (
                event.debug_handles
                if isinstance(event.debug_handles, (list, tuple))
                else [event.debug_handles]
            )
            nodes = tuple(dict.fromkeys(n for h in ids for n in handles.get(int(h), ())))
            delegate = event.delegate_backend_name
            kernels.append(Kernel(name, event.name, delegate or "portable", nodes))
        return tuple(kernels)

    def notes(self) -> list[str]:
        """The loud line: XNNPACK's own operator times exist but cannot be joined to ops."""
        events = self._inspect()
        calls = [e for e in events if e.name == DELEGATE_CALL]
        inner = [e for e in events if e.is_delegated_op]
        if not calls:
            return []
        handles = {int(h) for e in calls for h in (e.debug_handles or ())}
        covered = {n for h in handles for n in self.exported.debug_handles.get(h, ())}
        ops = sum(1 for node in self.exported.nodes if node.name in covered and node.op_type != "getitem")
        backends = ", ".join(sorted({e.delegate_backend_name or "?" for e in calls}))
        return [
            (
                f"executorch: the {backends} delegate reports one time per delegated partition "
                f"({len(calls)} partition call(s) cover {ops} ops); its {len(inner)} operator events carry "
                "no debug handles, so each call is joined to all the ops it covers and timed as one kernel; "
                "per-op times inside it need an ExecuTorch build whose XNNPACK delegate writes debug "
                "handles (event tracing)"
            )
        ]

    def close(self) -> None:
        with quiet():
            self._lib._unsafe_reset_threadpool(self._threads_before)
        self.plain = self.profiled = None
