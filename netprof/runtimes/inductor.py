"""``torch.compile`` with Inductor on the CPU: the compiled model, its kernels, and the nodes each computes.

**Compile.** A copy of the model is exported with ``torch.export`` and the
exported program's module is compiled with ``torch.compile``: Dynamo retraces
it, keeping each node's ``nn_module_stack`` and ATen op, and Inductor lowers it
to C++ kernels of its own (``cpp_fused_*``: one loop nest over the pointwise
and reduction ops it fuses) and calls into ATen / oneDNN for the rest (its
*extern* kernels: convolutions, matrix products). It compiles once, before any
timed run, with Torch's defaults (``TORCHINDUCTOR_FREEZING=1`` folds constant
weights as a deployment does) and three settings that leave the arithmetic as
it is: each C++ kernel opens a profiler range of its name
(``cpp.enable_kernel_profile``); Inductor writes its provenance (kernel ->
post-grad nodes -> nodes of the graph it was given) to a debug trace in a
temporary folder (``trace.provenance_tracking_level``); and the FX-graph and
AOTAutograd caches are off for this compile, so that the trace is written.

**Runs.** The plain run calls the compiled model; the profiled one calls it
under ``torch.profiler`` (CPU). The kernels are the profiler's ranges under the
call: the C++ kernels by name, the extern kernels as the ATen ops they call,
matched in call order to Inductor's extern kernels of the same family
(``extern_kernels.convolution`` runs as ``aten::convolution``). An ATen op that
is none of Inductor's kernels is a kernel that computes no node.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from netprof.capture.workload import Workload
from netprof.environment import threads_set
from netprof.errors import one_line
from netprof.runtimes.export import (
    ExportedModel,
    ExportError,
    OnnxNode,
    fx_node,
    quiet,
    quiet_stderr,
    require_forward,
)
from netprof.runtimes.join import family
from netprof.runtimes.kernels import Kernel, timed

_ANCHOR = "netprof: compiled call"
_GRAPH = re.compile(r"^graph_\d+_")  # the prefix a C++ kernel's profiler range carries
_MAPPINGS = "inductor_provenance_tracking_node_mappings.json"
# Where a kernel comes from: Inductor's C++, an extern kernel it calls, an ATen op or a range of the
# runtime's own (Dynamo's guard checks, AOTAutograd's wrapper) that computes no node.
GENERATED, EXTERN, OTHER, RUNTIME = "inductor", "extern", "aten", "torch.compile"
# How far ahead an ATen op may find its extern kernel: ops Inductor did not plan sit between them.
_LOOKAHEAD = 4


def compiler() -> str | None:
    """The C++ compiler Inductor calls (``$CXX``, else its default), if it is on the ``PATH``."""
    from torch._inductor import config

    name = config.cpp.cxx[-1] or "g++"
    return shutil.which(name)


def export(model: nn.Module, workload: Workload, directory: Path) -> ExportedModel:
    """``torch.export`` of an inference forward pass of a copy of ``model``, for Inductor to compile; its
    debug trace will go to ``directory``."""
    require_forward(workload)
    twin = copy.deepcopy(model).eval()
    args, kwargs = workload.inputs
    try:
        with quiet(), torch.no_grad():
            program = torch.export.export(twin, tuple(args), kwargs=kwargs or None)
    except Exception as error:  # torch.export raises many kinds; each is one line
        raise ExportError(f"torch.export could not export the model: {one_line(error)}") from error
    signature = program.graph_signature
    constants = {*signature.inputs_to_parameters, *signature.inputs_to_buffers}
    constants |= set(getattr(signature, "inputs_to_lifted_tensor_constants", {}))
    return ExportedModel(
        directory / "inductor",
        tuple(fx_node(n) for n in program.graph.nodes if n.op == "call_function"),
        tuple(signature.user_inputs),
        frozenset(constants),
        program=program,
    )


@dataclass(frozen=True, slots=True)
class InductorKernel:
    """One kernel in Inductor's generated code: its name there, whether Inductor generated it or calls it
    (an extern kernel), and the nodes of the compiled graph it computes."""

    name: str
    generated: bool
    nodes: tuple[str, ...]


def plan(mappings: Mapping[str, Any]) -> list[InductorKernel]:
    """Inductor's kernels in call order, from its provenance mappings: ``cppCodeToPost`` names each
    kernel ``name:handle`` with the post-grad nodes it computes, ``postToPre`` each post-grad node with
    the nodes of the graph Inductor was given. Handles count up as the wrapper's calls are written."""
    to_pre = mappings.get("postToPre") or {}
    numbered = []
    for key, post in (mappings.get("cppCodeToPost") or {}).items():
        name, _, handle = key.rpartition(":")
        nodes = tuple(dict.fromkeys(pre for node in post for pre in to_pre.get(node, ())))
        numbered.append((int(handle), InductorKernel(name, name.startswith("cpp_"), nodes)))
    return [kernel for _, kernel in sorted(numbered, key=lambda pair: pair[0])]


def _family(name: str) -> str:
    """``extern_kernels.convolution``, ``torch.ops.mkldnn._convolution_pointwise.default`` and
    ``aten::convolution`` -> their op's family."""
    parts = name.replace("::", ".").removeprefix("torch.ops.").split(".")
    return family(parts[1] if len(parts) > 1 else parts[0])


@dataclass(frozen=True, slots=True)
class Executed:
    """A kernel as one profiled run saw it: its unique name, its type (the profiler's range name for all
    but Inductor's C++ kernels), where it comes from (``GENERATED``, ``EXTERN``, ``OTHER``, ``RUNTIME``),
    the nodes it computes and its seconds."""

    name: str
    op_type: str
    provider: str
    nodes: tuple[str, ...]
    seconds: float


def _names(kernels: Sequence[InductorKernel]) -> list[str]:
    """A unique name per kernel: its own, numbered by order where Inductor calls it more than once (one
    generated kernel serves every layer of the same shape; ``extern_kernels.convolution`` every
    convolution)."""
    total = Counter(k.name for k in kernels)
    seen: Counter[str] = Counter()
    names = []
    for kernel in kernels:
        seen[kernel.name] += 1
        names.append(kernel.name if total[kernel.name] == 1 else f"{kernel.name} #{seen[kernel.name]}")
    return names


def match(kernels: Sequence[InductorKernel], ranges: Sequence[tuple[str, float]]) -> list[Executed]:
    """The profiler's ranges under one compiled call (``(name, seconds)`` in order) as Inductor's kernels.

    A C++ kernel's range carries its name (after a ``graph_N_`` prefix): the n-th range of a name is the
    n-th call of that kernel. An ATen op is the next extern kernel of its family, within a few; else an op
    of the runtime's own, which computes no node, as is a range of Dynamo's (its guard checks).
    """
    names = _names(kernels)
    calls: dict[str, list[int]] = {}
    for i, kernel in enumerate(kernels):
        if kernel.generated:
            calls.setdefault(kernel.name, []).append(i)
    externs = [i for i, kernel in enumerate(kernels) if not kernel.generated]
    done: Counter[str] = Counter()
    cursor, executed = 0, []
    for name, seconds in ranges:
        base = _GRAPH.sub("", name)
        if base in calls:
            i = calls[base][min(done[base], len(calls[base]) - 1)]
            done[base] += 1
            executed.append(Executed(names[i], "cpp", GENERATED, kernels[i].nodes, seconds))
            continue
        ahead = externs[cursor : cursor + _LOOKAHEAD] if "::" in name else []
        found = next((j for j, i in enumerate(ahead) if _family(kernels[i].name) == _family(name)), None)
        if found is None:
            done[name] += 1
            provider = OTHER if "::" in name else RUNTIME
            executed.append(Executed(f"{name} #{done[name]}", name, provider, (), seconds))
            continue
        i = ahead[found]
        executed.append(Executed(names[i], name, EXTERN, kernels[i].nodes, seconds))
        cursor += found + 1
    return executed


def absorb(nodes: Sequence[OnnxNode], covered: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Kernel -> nodes (``covered``, in execution order), where a node that no kernel computes goes to the
    last kernel of a node that reads it (last node first, so that chains follow): what Inductor folded
    away is computed where its result is used. With ``TORCHINDUCTOR_FREEZING=1`` a batch-norm is folded into its convolution's weights and the
    convolution fused with its activation into one oneDNN kernel, whose provenance names the activation
    only; without freezing, every node with arithmetic has a kernel and this adds views."""
    owner: dict[str, str] = {}  # the last kernel that computes a node writes its result
    for kernel, names in covered.items():
        for name in names:
            owner[name] = kernel
    readers: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        for source in node.inputs:
            readers[source].append(node.name)
    added: dict[str, list[str]] = defaultdict(list)
    for node in reversed(nodes):
        reader = next((r for r in readers.get(node.name, ()) if r in owner), None)
        if node.name not in owner and reader is not None:
            owner[node.name] = owner[reader]
            added[owner[reader]].append(node.name)
    return {kernel: (*names, *reversed(added[kernel])) for kernel, names in covered.items()}


def kernel_ranges(events: Sequence[Any], kernel_names: set[str]) -> list[tuple[str, float]]:
    """``(name, seconds)`` of the profiler's kernel ranges under the anchor range, in order: a C++ kernel
    of ``kernel_names``, an op with a namespace (``aten::``, ``mkldnn::``), or a range of the runtime's
    own with nothing under it (Dynamo's guard checks); a range with ranges under it (the compiled region,
    Inductor's call of its graph) is looked into."""
    ranges: list[tuple[str, float]] = []

    def walk(event: Any) -> None:
        for child in sorted(event.cpu_children, key=lambda e: e.time_range.start):
            kernel = "::" in child.name or _GRAPH.sub("", child.name) in kernel_names
            if kernel or not child.cpu_children:
                ranges.append((child.name, child.time_range.elapsed_us() * 1e-6))
            else:
                walk(child)

    for root in events:
        if root.cpu_parent is None and root.name == _ANCHOR:
            walk(root)
    return ranges


def _config() -> dict[str, object]:
    return {
        "cpp.enable_kernel_profile": True,
        "trace.enabled": True,
        "trace.provenance_tracking_level": 1,
        "trace.fx_graph": False,
        "trace.fx_graph_transformed": False,
        "trace.ir_pre_fusion": False,
        "trace.ir_post_fusion": False,
        "trace.output_code": False,
        "trace.graph_diagram": False,
        "trace.draw_orig_fx_graph": False,
        "fx_graph_cache": False,
        "fx_graph_remote_cache": False,
    }


class Inductor:
    name = "compile"

    def __init__(self, exported: ExportedModel, feeds: Sequence[np.ndarray], threads: int) -> None:
        from torch._functorch import config as functorch_config
        from torch._inductor import config
        from torch._inductor.compile_fx import compile_fx

        self._stack = contextlib.ExitStack()
        # Inductor's C++ kernels take their thread count when they are compiled: set it first.
        self._stack.enter_context(threads_set(threads))
        self.inputs = tuple(torch.from_numpy(np.ascontiguousarray(f)) for f in feeds)
        graphs: list[list[OnnxNode]] = []

        def inductor(graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
            """Inductor as ``torch.compile``'s default backend calls it, noting the nodes it is given first
            (its passes rewrite the graph in place)."""
            graphs.append([fx_node(n) for n in graph.graph.nodes if n.op == "call_function"])
            return compile_fx(graph, example_inputs)

        trace = exported.path
        trace.mkdir(parents=True, exist_ok=True)
        try:
            with (
                quiet(),
                config.patch({**_config(), "trace.debug_dir": str(trace)}),
                functorch_config.patch(enable_autograd_cache=False),
            ):
                self.compiled = torch.compile(exported.program.module(), backend=inductor, fullgraph=True)
                self._call()
        except Exception as error:  # Dynamo and Inductor raise many kinds; each is one line
            self._stack.close()
            # Dynamo wraps what Inductor raised (a missing lowering, a C++ error) in a line of its own
            reason = one_line(getattr(error, "inner_exception", None) or error)
            raise ExportError(f"torch.compile (Inductor) could not compile the model: {reason}") from error
        found = sorted(trace.rglob(_MAPPINGS))
        self._plan = plan(json.loads(found[0].read_text())) if found else []
        self._graphs = len(graphs)
        self.exported = replace(exported, nodes=tuple(n for graph in graphs for n in graph), program=None)
        self._runs: list[list[Executed]] = []

    def _call(self) -> None:
        with torch.no_grad():
            self.compiled(*self.inputs)

    def plain_run(self) -> float:
        return timed(self._call)

    def profiled_run(self) -> float:
        from torch.profiler import ProfilerActivity, profile, record_function

        # Kineto logs each start and stop of the profiler to file descriptor 2.
        with (
            quiet_stderr(),
            profile(activities=[ProfilerActivity.CPU]) as profiler,
            record_function(_ANCHOR),
        ):
            begin = time.perf_counter()
            self._call()
            seconds = time.perf_counter() - begin
        names = {k.name for k in self._plan if k.generated}
        self._runs.append(match(self._plan, kernel_ranges(profiler.events(), names)))
        return seconds

    def kernel_times(self) -> list[dict[str, float]]:
        return [{k.name: k.seconds for k in run} for run in self._runs]

    def kernels(self) -> Sequence[Kernel]:
        first = self._runs[0] if self._runs else []
        covered = absorb(self.exported.nodes, {k.name: k.nodes for k in first})
        return tuple(Kernel(k.name, k.op_type, k.provider, covered[k.name]) for k in first)

    def notes(self) -> list[str]:
        """Loud lines where Inductor's provenance did not reach the profiler's kernels."""
        notes = []
        if not self._plan:
            notes.append(
                "compile: Inductor wrote no kernel provenance, so no kernel could be joined to the ops"
            )
        if self._graphs != 1:
            notes.append(f"compile: Dynamo made {self._graphs} graphs of one exported program")
        executed = {k.name for k in (self._runs[0] if self._runs else [])}
        unseen = [name for name in _names(self._plan) if name not in executed]
        if unseen:
            notes.append(
                f"compile: {len(unseen)} of Inductor's {len(self._plan)} kernels could not be told apart in "
                f"the profiler (first: {unseen[0]}); their time is in no kernel of theirs"
            )
        return notes

    def close(self) -> None:
        self.compiled = None
        self._stack.close()
