"""What ``netprof adapt`` found, as plain frozen data: the document every reporter and the chart read."""

from __future__ import annotations

from dataclasses import dataclass

from netprof.adapt.budget import Budget
from netprof.adapt.search import Step
from netprof.timing.measurement import Measurement

ACCURACY_NOTE = (
    "accuracy not evaluated: the filters were removed without fine-tuning, as NetAdapt's short-term "
    "fine-tuning of each proposal and long-term fine-tuning at the end are left to you; fine-tune "
    "model.pt on your data before using it"
)


@dataclass(frozen=True)
class State:
    """The base or the adapted model: predicted latency and counts, and its measured latency if timed."""

    latency_predicted_s: float
    mult_adds: int
    params: int
    measured: Measurement | None = None

    @property
    def latency_measured_s(self) -> float | None:
        return None if self.measured is None else self.measured.median


@dataclass(frozen=True)
class LayerChannels:
    """One prunable layer's filters in the base model and in the adapted one."""

    path: str
    channels_before: int
    channels_after: int


@dataclass(frozen=True)
class AdaptReport:
    """One adaptation: the budget and how far it was reached, predicted and measured.

    Attributes:
        spec: the model as the user named it.
        budget, target_s: the budget as given, and the predicted latency it asks for.
        step_s: predicted seconds each iteration asks to save.
        profile: the device profile's key; ``runtime``: eager or the deployment runtime it was measured in.
        base, final: the model before and after.
        iterations: every accepted proposal, in order.
        layers: every prunable layer of the base model, changed or not.
        reached: whether the final prediction is within ``target_s`` (else no layer could save a step).
        probes: proposals priced in all; ``seconds``: the search's wall time, measurement excluded.
    """

    spec: str
    budget: Budget
    target_s: float
    step_s: float
    profile: str
    runtime: str
    base: State
    final: State
    iterations: tuple[Step, ...]
    layers: tuple[LayerChannels, ...]
    reached: bool
    probes: int
    seconds: float
    note: str = ACCURACY_NOTE

    @property
    def predicted_ratio(self) -> float:
        return self.final.latency_predicted_s / self.base.latency_predicted_s

    @property
    def measured_ratio(self) -> float | None:
        final, base = self.final.latency_measured_s, self.base.latency_measured_s
        return None if final is None or base is None else final / base

    @property
    def measured_meets_budget(self) -> bool | None:
        """Whether the measured final latency keeps the budget (a fraction of the measured base for a
        relative budget); None when nothing was measured."""
        final, base = self.final.latency_measured_s, self.base.latency_measured_s
        return None if final is None or base is None else self.budget.met_by(final, base)

    @property
    def changed(self) -> tuple[LayerChannels, ...]:
        return tuple(layer for layer in self.layers if layer.channels_after != layer.channels_before)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user must not miss: a budget the prediction or the measurement did not reach."""
        found = []
        if not self.reached:
            found.append(
                f"the predicted budget was not reached: {self.final.latency_predicted_s * 1e3:.3g} ms predicted, "
                f"{self.target_s * 1e3:.3g} ms asked, and no layer could save another step"
            )
        if self.measured_meets_budget is False:
            ratio = self.measured_ratio
            found.append(
                f"the measured latency misses the budget {self.budget.text}: "
                f"{self.final.latency_measured_s * 1e3:.3g} ms measured against {self.base.latency_measured_s * 1e3:.3g} ms "
                f"for the base ({ratio:.2f}x)"
            )
        return tuple(found)
