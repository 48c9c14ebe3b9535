"""The real search space of ``netadapt``: a PyTorch model pruned through Torch-Pruning, priced by netprof.

NetAdapt prices a proposal with per-layer latency lookup tables measured on the device; netprof has a
device profile instead, which prices any captured op. A proposal is pruned for real (a deep copy traced
by Torch-Pruning's DependencyGraph: about 0.3 s for mobilenet_v2 here), then captured on meta and
predicted, the way ``netprof predict`` does (about 0.1 s): mobilenet_v2 to 0.6x priced 378 proposals in
under four minutes on a shared 2-core machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from netprof import pipeline
from netprof.adapt.search import Priced
from netprof.capture.workload import Forward
from netprof.compression import pruning
from netprof.prediction import DeviceProfile
from netprof.result import Result


def priced(result: Result) -> Priced:
    """A predicted result as the loop compares it: each op by its overload, shapes and predicted seconds."""
    analysis, prediction = result.analysis, result.prediction
    if prediction is None:
        raise ValueError("a result without a prediction cannot be priced")
    ops = tuple(
        (
            node.op,
            tuple(meta.shape for meta in node.input_metas),
            tuple(meta.shape for meta in node.output_metas),
            op.predicted_s,
        )
        for node, op in zip(analysis.ops, prediction.ops)
    )
    return Priced(prediction.latency_s, analysis.totals.mult_adds, analysis.params, ops)


def _squared_weights(model: nn.Module) -> float:
    """Sum of squares of every convolution and linear weight: what a removed filter, and the input slices
    of its consumers that go with it, take away from."""
    return math.fsum(
        float(module.weight.detach().double().square().sum())
        for module in model.modules()
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))
    )


@dataclass(frozen=True)
class PruningSpace:
    """Filters pruned by ``netprof.compression.pruning`` (smallest L2 norm over the coupled group, every
    coupled layer together), each candidate priced on ``profile`` from a meta capture of ``inputs``; the
    weight a candidate loses is the L2 norm of every convolution and linear weight it removed (the
    filters and the matching input slices of their consumers)."""

    inputs: tuple[Any, ...]
    profile: DeviceProfile
    divisor: int = 8  # a layer keeps a multiple of this many filters (or fewer, when it has fewer)

    def layers(self, model: nn.Module) -> Sequence[str]:
        return pruning.prunable_layers(model, self.inputs)

    def channels(self, model: nn.Module, layer: str) -> int:
        return pruning.filter_norms(model, layer).numel()

    def prune(self, model: nn.Module, layer: str, count: int) -> nn.Module:
        """``count`` filters removed from ``layer``, or more: what it keeps rounds down to a multiple of
        ``divisor``, as MobileNet's widths do, so that CPU kernels' vectors of 8 or 16 channels stay full."""
        channels = self.channels(model, layer)
        keep = channels - count
        if keep > self.divisor:
            keep -= keep % self.divisor
        return pruning.prune_channels(model, self.inputs, {layer: channels - keep})

    def norm_lost(self, before: nn.Module, after: nn.Module) -> float:
        return math.sqrt(max(0.0, _squared_weights(before) - _squared_weights(after)))

    def price(self, model: nn.Module) -> Priced:
        return priced(pipeline.predict(model, Forward(self.inputs), self.profile, mode="meta"))
