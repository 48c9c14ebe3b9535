"""One captured run of a workload, priced: the step every analysis, plain or per phase, starts from."""

from __future__ import annotations

from typing import Any

from torch import nn

from netprof.analysis.summary import Analysis, build
from netprof.capture.ir import TensorMeta
from netprof.capture.run import capture
from netprof.capture.workload import Workload, as_workload, input_tensors


def input_metas(workload: Workload) -> tuple[TensorMeta, ...]:
    """The shapes and dtypes of the tensors ``workload`` feeds the model."""
    return tuple(TensorMeta.of(tensor) for tensor in input_tensors(workload))


def analyze(
    model: nn.Module,
    workload: Workload | Any,
    *,
    mode: str = "auto",
    name: str | None = None,
    notes: tuple[str, ...] = (),
    memory: bool = False,
) -> Analysis:
    """Capture one run of ``workload`` on ``model`` (``mode``: meta, fake, real or auto) and price every op;
    with ``memory``, also follow every tensor's life (``Analysis.memory``)."""
    workload = as_workload(workload)
    recorded = capture(model, workload, mode, memory)
    return build(model, recorded, name or type(model).__name__, input_metas(workload), notes)
