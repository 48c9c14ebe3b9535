"""netprof: count, check and time the cost of a PyTorch model, op by op.

>>> import netprof, torchvision
>>> analysis = netprof.analyze(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224))
>>> analysis.totals.mult_adds
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from netprof.analysis import Analysis, build
from netprof.capture.ir import TensorMeta
from netprof.capture.run import CaptureError, capture
from netprof.costs import CONVENTIONS
from netprof.environment import __version__
from netprof.timing.run import DEFAULT_BUDGET_S, device_of, ensure_runnable, time_analysis, to_device

__all__ = ["CONVENTIONS", "Analysis", "CaptureError", "__version__", "analyze"]


def analyze(
    model: nn.Module,
    example_inputs: Any,
    *,
    mode: str = "auto",
    name: str | None = None,
    notes: tuple[str, ...] = (),
    time: bool = False,
    device: str = "cpu",
    repeat: int | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    threads: int | None = None,
) -> Analysis:
    """Capture one inference forward pass of ``model`` and price every op.

    ``example_inputs`` is a tensor or a tuple of positional arguments (which may
    hold lists of tensors, as detection models take). ``mode`` picks the tensors
    the capture runs on: ``meta``, ``fake``, ``real`` or ``auto`` (the first of
    those that works). The model is left exactly as it was.

    ``time=True`` also runs the model for real on ``device`` (``cpu`` or
    ``cuda``) and times every op of the graph (``Analysis.timing``): the capture
    is then a ``real`` one on that device, so the timed ops are the analysed
    ones. ``repeat`` timed passes, or as many as fit in ``budget_s`` seconds;
    ``threads`` sets torch's intra-op thread count while timing.
    """
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    input_metas = tuple(TensorMeta.of(t) for t in tree_leaves(inputs) if isinstance(t, torch.Tensor))
    name = name or type(model).__name__
    if not time:
        return build(model, capture(model, inputs, mode), name, input_metas, notes)

    if mode not in ("auto", "real"):
        raise CaptureError(
            f"timing runs the model for real: capture mode {mode!r} cannot be timed (use auto or real)"
        )
    dev = device_of(device)
    ensure_runnable(model)
    if dev.type == "cpu":
        recorded = capture(model, inputs, "real")
    else:  # the graph of the device that is timed: kernels and their choice differ across devices
        twin, moved = to_device(model, inputs, dev)
        recorded = capture(twin, moved, "real")
    analysis = build(model, recorded, name, input_metas, notes)
    timing = time_analysis(
        model, inputs, analysis, device=dev, repeat=repeat, budget_s=budget_s, threads=threads
    )
    return dataclasses.replace(analysis, timing=timing)
