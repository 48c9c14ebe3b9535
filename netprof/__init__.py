"""netprof: count, check and time the cost of a PyTorch model, op by op.

    >>> import netprof, torchvision
    >>> analysis = netprof.analyze(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224))
    >>> analysis.totals.mult_adds
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from netprof.analysis import Analysis, build
from netprof.capture.ir import TensorMeta
from netprof.capture.run import CaptureError, capture
from netprof.costs import CONVENTIONS

__version__ = "0.1.0"
__all__ = ["CONVENTIONS", "Analysis", "CaptureError", "analyze", "__version__"]


def analyze(
    model: nn.Module,
    example_inputs: Any,
    *,
    mode: str = "auto",
    name: str | None = None,
    notes: tuple[str, ...] = (),
) -> Analysis:
    """Capture one inference forward pass of ``model`` and price every op.

    ``example_inputs`` is a tensor or a tuple of positional arguments (which may
    hold lists of tensors, as detection models take). ``mode`` picks the tensors
    the capture runs on: ``meta``, ``fake``, ``real`` or ``auto`` (the first of
    those that works). The model is left exactly as it was.
    """
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    recorded = capture(model, inputs, mode)
    input_metas = tuple(TensorMeta.of(t) for t in tree_leaves(inputs) if isinstance(t, torch.Tensor))
    return build(model, recorded, name or type(model).__name__, input_metas, notes)
