"""Export a model to ONNX with PyTorch's dynamo exporter, and read back which module made each node.

The exporter records, on every ONNX node, the FX node it came from and that
node's module scope (``pkg.torch.onnx.name_scopes``: ``['', 'features',
'features.0', 'features.0.1', '_native_batch_norm_legit_no_training']``). The
export is the one a user ships: the exporter's own graph optimizations run
(batch-norm folded into the convolution before it, for one), so the graph
netprof times is the graph the runtime gets.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netprof.capture.workload import Forward, Workload
from netprof.errors import NetprofError, one_line

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the exporter colours its messages for a terminal


class ExportError(NetprofError):
    """The model could not be exported for the runtime; the message says why."""


@dataclass(frozen=True, slots=True)
class OnnxNode:
    """One node of the exported graph: where it came from (``module``, ``fx_node``, ``fx_target``) and
    which tensors it reads and writes. ``module`` is ``None`` for a node the exporter made itself."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    module: str | None
    fx_node: str | None
    fx_target: str | None


@dataclass(frozen=True)
class ExportedModel:
    """The exported file, its nodes in graph (topological) order, and its inputs' names.

    For ExecuTorch, ``path`` is the ``.pte`` program, ``record`` its ETRecord, and ``debug_handles``
    maps each debug handle an ETDump event names to the nodes it stands for. For ``torch.compile``,
    ``program`` is the ``torch.export`` program that Inductor compiles, and ``path`` the folder of
    Inductor's debug trace.
    """

    path: Path
    nodes: tuple[OnnxNode, ...]
    input_names: tuple[str, ...]
    initializers: frozenset[str]
    record: Path | None = None
    debug_handles: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    program: Any = None


def _metadata(node) -> dict[str, str]:
    return {prop.key: prop.value for prop in node.metadata_props}


def _fx_target(fx_node: str | None) -> str | None:
    """``%hardtanh : [...] = call_function[target=torch.ops.aten.hardtanh.default](...)`` -> ``aten.hardtanh.default``."""
    if not fx_node or "target=" not in fx_node:
        return None
    target = fx_node.split("target=", 1)[1].split("]", 1)[0]
    return target.removeprefix("torch.ops.")


def _node(node) -> OnnxNode:
    meta = _metadata(node)
    scopes = meta.get("pkg.torch.onnx.name_scopes")
    module = fx_name = None
    if scopes:
        names = ast.literal_eval(scopes)
        module, fx_name = (names[-2] if len(names) > 1 else ""), names[-1]
    return OnnxNode(
        name=node.name,
        op_type=node.op_type,
        inputs=tuple(node.input),
        outputs=tuple(node.output),
        module=module,
        fx_node=fx_name,
        fx_target=_fx_target(meta.get("pkg.torch.onnx.fx_node")),
    )


def fx_node(node: torch.fx.Node) -> OnnxNode:
    """An FX node of a ``torch.export`` graph (or of one traced from it) as the export join reads it: its
    innermost module (``nn_module_stack``), its name and its ATen op."""
    stack = node.meta.get("nn_module_stack") or {}
    module = next(reversed(stack.values()))[0] if stack else ""
    target = getattr(node.target, "__name__", str(node.target))
    inputs = tuple(a.name for a in node.all_input_nodes)
    return OnnxNode(node.name, target, inputs, (node.name,), module, node.name, target)


def require_forward(workload: Workload) -> None:
    """A runtime runs an inference forward pass, nothing else."""
    if not isinstance(workload, Forward):
        raise ExportError(
            "a runtime runs an inference forward pass: --train and --memory do not combine with it"
        )


def read(path: Path) -> ExportedModel:
    """The nodes of an ONNX file netprof exported (weights are not loaded)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    graph = proto.graph
    initializers = frozenset(i.name for i in graph.initializer)
    inputs = tuple(i.name for i in graph.input if i.name not in initializers)
    return ExportedModel(path, tuple(_node(n) for n in graph.node), inputs, initializers)


def export(model: nn.Module, workload: Workload, path: Path) -> ExportedModel:
    """Export an inference forward pass of a copy of ``model`` to ``path`` (the model is left as it was)."""
    require_forward(workload)
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency: a clear line if it is missing)
    except ImportError as error:
        raise ExportError(
            f"exporting to ONNX needs onnx and onnxscript ({error}): pip install 'netprof[onnx]'"
        ) from error
    twin = copy.deepcopy(model).eval()
    args, kwargs = workload.inputs
    quiet = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
            _exporter_logs_off(),
            torch.no_grad(),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(twin, tuple(args), kwargs=kwargs or None, dynamo=True, verbose=False)
            program.save(str(path))
    except Exception as error:  # the exporter raises many kinds; each is one line to the user
        reason = _ANSI.sub("", one_line(error.__cause__ or error))
        raise ExportError(f"torch.onnx.export (dynamo) could not export the model: {reason}") from error
    return read(path)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """C++ logs (ExecuTorch's cpuinfo and threadpool, the profiler's Kineto) write to file descriptor 2,
    past ``sys.stderr``."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _exporter_logs_off():
    """The exporter logs every step of its progress at INFO; a report has no room for it."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Nothing from the exporter, the compiler or their C++ libraries on the user's terminal."""
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        _exporter_logs_off(),
        quiet_stderr(),
    ):
        warnings.simplefilter("ignore")
        yield
