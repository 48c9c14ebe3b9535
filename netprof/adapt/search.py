"""NetAdapt's loop without fine-tuning (Yang et al., arXiv 1804.03230), over any way of pruning and pricing.

Each iteration asks for ``step_s`` less predicted latency than the current model (the last one only for
what is left to the target). For every prunable layer it finds the fewest filters whose removal saves
that much: the layer's filters come out smallest L2 norm first, so the count is all a proposal is. The
count is searched between 0 (saves nothing) and all but one filter (saves the most the layer can), by
interpolation on the savings seen so far, with a bisection after any guess that did not halve the range
(so a poor guess costs about twice a binary search). The pruner may remove more than asked (coupled
channels, rounding): a proposal records what it removed. Of the layers that can save the step, the one
that loses the least weight norm per second saved is kept. The loop stops when the predicted latency is
within the target, or when no layer can save the step.

Pricing a proposal is the expensive part (prune a copy, capture it, predict it), so each probe is kept:
the seconds it saves and the ops whose cost it changes. When a proposal is accepted, the probes of the
layers whose changed ops overlap its own are dropped; every other layer's probes still save exactly what
they did, since a prediction is a sum over ops (plus a cost per module call, which pruning leaves alone),
so the next iteration reprices only the neighbours of the change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

M = TypeVar("M")


@dataclass(frozen=True)
class Priced:
    """One model's predicted latency and counts, with what identifies each op's cost.

    Attributes:
        latency_s: predicted end to end.
        mult_adds, params: the model's counts.
        ops: per op in execution order, what its predicted cost depends on (its overload, shapes and
            predicted seconds): two models' ops that compare equal cost the same.
    """

    latency_s: float
    mult_adds: int
    params: int
    ops: tuple[Hashable, ...]


class Space(Protocol[M]):
    """What the loop needs from a model family: its prunable layers, pruning and pricing."""

    def layers(self, model: M) -> Sequence[str]: ...

    def channels(self, model: M, layer: str) -> int:
        """Output channels (filters) of ``layer``."""
        ...

    def prune(self, model: M, layer: str, count: int) -> M:
        """A copy of ``model`` without ``layer``'s ``count`` smallest-norm filters (perhaps a few more)."""
        ...

    def norm_lost(self, before: M, after: M) -> float:
        """How much weight pruning ``before`` into ``after`` removed (the loop minimizes it per second)."""
        ...

    def price(self, model: M) -> Priced: ...


EVERY_OP = None  # the changed ops of a probe whose op sequence differs: it overlaps every other change


def changed_ops(before: Priced, after: Priced) -> frozenset[int] | None:
    """Indices of the ops whose cost differs between two prices of one model, or ``EVERY_OP``."""
    if len(before.ops) != len(after.ops):
        return EVERY_OP
    return frozenset(i for i, (a, b) in enumerate(zip(before.ops, after.ops)) if a != b)


def _overlap(a: frozenset[int] | None, b: frozenset[int] | None) -> bool:
    return a is EVERY_OP or b is EVERY_OP or not a.isdisjoint(b)


@dataclass(frozen=True)
class Probe:
    """What pruning ``count`` filters of a layer saves, relative to the model it was probed on."""

    count: int
    channels_after: int
    saved_s: float
    norm_lost: float
    changed: frozenset[int] | None


@dataclass(frozen=True)
class Step:
    """One accepted proposal: the layer, its filters before and after, and the model's state after it.

    Attributes:
        index: 1 for the first iteration.
        layer: the pruned layer's module path.
        channels_before, channels_after: its filters; ``removed`` is the difference.
        saved_s: predicted seconds this step saved; ``norm_lost``: the weight it removed (``Space.norm_lost``).
        predicted_s, mult_adds, params: the model after this step.
        probes: proposals priced in this iteration (probes kept from earlier iterations are not counted).
    """

    index: int
    layer: str
    channels_before: int
    channels_after: int
    saved_s: float
    norm_lost: float
    predicted_s: float
    mult_adds: int
    params: int
    probes: int

    @property
    def removed(self) -> int:
        return self.channels_before - self.channels_after


@dataclass(frozen=True)
class Trajectory(Generic[M]):
    """The loop's outcome: the base's price, every accepted step in order, and the final model.

    ``reached`` says whether the final predicted latency is within ``target_s``; when not, no layer
    could save the last step. ``probes``: proposals priced in all, the last fruitless iteration included.
    """

    base: Priced
    target_s: float
    step_s: float
    steps: tuple[Step, ...]
    model: M
    reached: bool
    probes: int

    @property
    def predicted_s(self) -> float:
        return self.steps[-1].predicted_s if self.steps else self.base.latency_s


class _Layer(Generic[M]):
    """One layer's probes on the current model, and the search for the fewest filters saving ``want``."""

    def __init__(self, space: Space[M], model: M, priced: Priced, layer: str, floor: int) -> None:
        self.space, self.model, self.priced, self.layer = space, model, priced, layer
        self.channels = space.channels(model, layer)
        self.floor = max(floor, 1)  # the fewest filters the layer may keep
        self.probes: dict[int, Probe] = {}

    def probe(self, count: int) -> Probe:
        if count not in self.probes:
            pruned = self.space.prune(self.model, self.layer, count)
            after = self.space.price(pruned)
            self.probes[count] = Probe(
                count,
                self.space.channels(pruned, self.layer),
                self.priced.latency_s - after.latency_s,
                self.space.norm_lost(self.model, pruned),
                changed_ops(self.priced, after),
            )
        return self.probes[count]

    def changed(self) -> frozenset[int] | None:
        """Every op any probe of this layer changed."""
        union: set[int] = set()
        for probe in self.probes.values():
            if probe.changed is EVERY_OP:
                return EVERY_OP
            union |= probe.changed
        return frozenset(union)

    def fewest(self, want_s: float) -> Probe | None:
        """The probe of the fewest filters that saves at least ``want_s``; None if all but the floor cannot."""
        most = self.channels - self.floor
        if most < 1 or self.probe(most).saved_s < want_s:
            return None
        low, low_s, high = 0, 0.0, most  # low saves less than wanted, high saves enough
        bisect = False
        while high - low > 1:
            width, high_s = high - low, self.probe(high).saved_s
            if bisect or high_s <= low_s:
                guess = (low + high) // 2
            else:
                guess = low + math.ceil((want_s - low_s) / (high_s - low_s) * width)
            guess = min(max(guess, low + 1), high - 1)
            if self.probe(guess).saved_s >= want_s:
                high = guess
            else:
                low, low_s = guess, self.probe(guess).saved_s
            bisect = high - low > width / 2  # a guess that did not halve the range: bisect next
        return self.probe(high)


def netadapt(
    space: Space[M],
    model: M,
    target_s: float | Callable[[float], float],
    step_s: float | Callable[[float], float],
    *,
    min_keep: float = 0.0,
    on_layer: Callable[[int, int], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Trajectory[M]:
    """Prune ``model`` step by step until its predicted latency is within ``target_s``.

    ``target_s`` and ``step_s`` are seconds, or functions of the base model's predicted seconds (a
    fraction of it). Every layer keeps at least ``min_keep`` of its filters in ``model`` (and one).
    ``on_layer(done, total)`` follows the layers of each iteration, ``on_step`` each accepted
    proposal. ``model`` itself is never changed: ``space.prune`` returns copies.
    """
    floors = {name: math.ceil(min_keep * space.channels(model, name)) for name in space.layers(model)}
    base = space.price(model)
    target = target_s(base.latency_s) if callable(target_s) else target_s
    step = step_s(base.latency_s) if callable(step_s) else step_s
    if step <= 0:
        raise ValueError(f"the step must save some time, got {step} s")
    current, priced = model, base
    kept: dict[str, _Layer[M]] = {}
    steps: list[Step] = []
    probes = 0
    while priced.latency_s > target:
        want = min(step, priced.latency_s - target)
        names = list(space.layers(current))
        proposals: list[tuple[_Layer[M], Probe]] = []
        before = sum(len(layer.probes) for layer in kept.values())
        for done, name in enumerate(names, start=1):
            if name not in kept:
                kept[name] = _Layer(space, current, priced, name, floors.get(name, 1))
            layer = kept[name]
            probe = layer.fewest(want)
            if probe is not None:
                proposals.append((layer, probe))
            if on_layer:
                on_layer(done, len(names))
        priced_now = sum(len(layer.probes) for layer in kept.values()) - before
        probes += priced_now
        if not proposals:
            break
        layer, probe = min(proposals, key=lambda proposal: proposal[1].norm_lost / proposal[1].saved_s)
        new = space.prune(current, layer.layer, probe.count)
        new_priced = space.price(new)
        taken = Step(
            len(steps) + 1,
            layer.layer,
            layer.channels,
            probe.channels_after,
            priced.latency_s - new_priced.latency_s,
            probe.norm_lost,
            new_priced.latency_s,
            new_priced.mult_adds,
            new_priced.params,
            priced_now,
        )
        steps.append(taken)
        if on_step:
            on_step(taken)
        kept = _still_valid(kept, layer.layer, changed_ops(priced, new_priced), new, new_priced)
        current, priced = new, new_priced
    return Trajectory(base, target, step, tuple(steps), current, priced.latency_s <= target, probes)


def _still_valid(
    kept: dict[str, _Layer[M]], accepted: str, changed: frozenset[int] | None, model: M, priced: Priced
) -> dict[str, _Layer[M]]:
    """The layers whose probes the accepted change left valid (none of their changed ops is one it
    changed), moved onto the new model."""
    valid: dict[str, _Layer[M]] = {}
    for name, layer in kept.items():
        if name == accepted or _overlap(layer.changed(), changed):
            continue
        layer.model, layer.priced = model, priced
        valid[name] = layer
    return valid
