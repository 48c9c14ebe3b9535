"""``adapt``: NetAdapt without fine-tuning on one model, then the base and the result measured."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netprof import pipeline
from netprof.adapt.budget import Budget, parse_budget
from netprof.adapt.document import AdaptReport, LayerChannels, State
from netprof.adapt.search import Step, netadapt
from netprof.adapt.space import PruningSpace
from netprof.capture.workload import Forward
from netprof.compression.pruning import require_torch_pruning
from netprof.errors import NetprofError
from netprof.prediction import DeviceProfile
from netprof.runtimes.profile import runtime_of
from netprof.timing.run import TimingOptions

# A fixed fraction of the base's predicted latency per iteration, as NetAdapt's step: 0.6x in at most 16.
DEFAULT_STEP = 0.025
# Without accuracy to judge a proposal by, the least weight lost per second saved empties layers (a stem
# of 32 filters cut to 4): a layer keeps at least this share of its filters, for fine-tuning to recover.
DEFAULT_MIN_KEEP = 0.25
DEFAULT_MEASURE = TimingOptions(budget_s=5.0)


class AdaptError(NetprofError):
    """The model cannot be adapted as asked; the message says why."""


@dataclass(frozen=True)
class Adaptation:
    """The adapted model (a copy: the given one is left as it was) and what was done to it."""

    model: nn.Module
    report: AdaptReport

    def measured(self, base: nn.Module, inputs: Any, options: TimingOptions) -> Adaptation:
        """This adaptation with ``base`` (the model it was adapted from) and the adapted model timed:
        each one's plain latency (no instrumentation), as netprof's timing measures it."""
        args = _positional(inputs)
        base_s, final_s = (
            pipeline.run(model, Forward(args), timing=options).timing.plain for model in (base, self.model)
        )
        report = dataclasses.replace(
            self.report,
            base=dataclasses.replace(self.report.base, measured=base_s),
            final=dataclasses.replace(self.report.final, measured=final_s),
        )
        return Adaptation(self.model, report)


def adapt(
    model: nn.Module,
    inputs: Any,
    budget: Budget | str,
    profile: DeviceProfile,
    *,
    step: float = DEFAULT_STEP,
    min_keep: float = DEFAULT_MIN_KEEP,
    measure: TimingOptions | None = DEFAULT_MEASURE,
    spec: str | None = None,
    on_layer: Callable[[int, int], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Adaptation:
    """Remove filters from ``model`` until its latency predicted on ``profile`` is within ``budget``.

    ``budget`` is a ``Budget`` or its text (``"0.6x"``, ``"12ms"``); ``step`` the fraction of the base's
    predicted latency each iteration saves; ``min_keep`` the share of each layer's filters it keeps at
    least. With ``measure``, the base and the adapted model are then
    timed (its runtime should be the profile's). Accuracy is not evaluated: fine-tune the result.

    >>> adapted = netprof.adapt.adapt(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224),
    ...                               "0.6x", netprof.prediction.profile.cached("cpu", threads=1))
    >>> adapted.model, adapted.report.final.latency_predicted_s
    """
    require_torch_pruning()
    budget = parse_budget(budget) if isinstance(budget, str) else budget
    if not 0 < step < 1:
        raise AdaptError(f"the step is a fraction of the base latency between 0 and 1, got {step:g}")
    if not 0 <= min_keep < 1:
        raise AdaptError(f"--min-keep is a share of each layer's filters in [0, 1), got {min_keep:g}")
    args = _positional(inputs)
    space = PruningSpace(args, profile)
    started = time.perf_counter()
    trajectory = netadapt(
        space,
        model,
        budget.target_s,
        lambda base_s: step * base_s,
        min_keep=min_keep,
        on_layer=on_layer,
        on_step=on_step,
    )
    seconds = time.perf_counter() - started
    _refuse_other_outputs(model, trajectory.model, args)
    final = trajectory.model
    base_layers = list(space.layers(model))
    report = AdaptReport(
        spec=spec or type(model).__name__,
        budget=budget,
        target_s=trajectory.target_s,
        step_s=trajectory.step_s,
        profile=profile.key,
        runtime=runtime_of(profile),
        base=State(trajectory.base.latency_s, trajectory.base.mult_adds, trajectory.base.params),
        final=State(
            trajectory.predicted_s,
            trajectory.steps[-1].mult_adds if trajectory.steps else trajectory.base.mult_adds,
            trajectory.steps[-1].params if trajectory.steps else trajectory.base.params,
        ),
        iterations=trajectory.steps,
        layers=tuple(
            LayerChannels(path, space.channels(model, path), space.channels(final, path))
            for path in base_layers
        ),
        reached=trajectory.reached,
        probes=trajectory.probes,
        seconds=seconds,
    )
    adaptation = Adaptation(final, report)
    return adaptation if measure is None else adaptation.measured(model, args, measure)


def _positional(inputs: Any) -> tuple[Any, ...]:
    """The forward's positional arguments: what pruning traces the model with."""
    if isinstance(inputs, Forward):
        if inputs.kwargs:
            raise AdaptError("adapt traces the model with positional inputs only: its forward takes keywords")
        return tuple(inputs.args)
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _shapes(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return tuple(_shapes(item) for item in output)
    if isinstance(output, dict):
        return {key: _shapes(value) for key, value in output.items()}
    return type(output).__name__


def _refuse_other_outputs(base: nn.Module, adapted: nn.Module, args: tuple[Any, ...]) -> None:
    """The adapted model must be a drop-in replacement: same output shapes on the same inputs (run on
    copies in eval mode, so that neither model's flags or buffers change)."""
    outputs = []
    for model in (base, adapted):
        with torch.no_grad():
            outputs.append(_shapes(copy.deepcopy(model).eval()(*args)))
    if outputs[0] != outputs[1]:
        raise AdaptError(f"the adapted model's outputs have shapes {outputs[1]}, the base's {outputs[0]}")
