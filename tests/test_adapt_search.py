"""The NetAdapt loop (netprof.adapt.search) on a hand-priced chain of layers: no torch, no pruning library.

The fake model is a chain: an input of ``IN`` channels, prunable layers, and a fixed output layer of
``OUT`` channels. Op ``i`` is layer ``i``, and costs ``weight_i * c_in * c_out`` seconds, so pruning a
layer changes its own op and the next one, exactly as a convolution and its consumer. Layer ``i``'s
filters have norms ``1, 2, ..., c`` (times ``scale_i``), and pruning removes the smallest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from netprof.adapt.search import EVERY_OP, Priced, changed_ops, netadapt

IN, OUT = 4, 2


@dataclass(frozen=True)
class Chain:
    norms: tuple[tuple[float, ...], ...]  # per prunable layer, its filters' norms, smallest first


@dataclass
class ChainSpace:
    weights: tuple[float, ...]  # per op: the prunable layers, then the output layer
    round_to: int = 1  # the pruner removes a multiple of this many filters (but leaves one), as groups do
    unique_ops: bool = False  # every price differs in every op: nothing can be kept between iterations
    priced: int = 0

    def layers(self, model: Chain) -> list[str]:
        return [f"layer{i}" for i in range(len(model.norms))]

    def channels(self, model: Chain, layer: str) -> int:
        return len(model.norms[int(layer.removeprefix("layer"))])

    def prune(self, model: Chain, layer: str, count: int) -> Chain:
        index = int(layer.removeprefix("layer"))
        norms = list(model.norms)
        count = min(-(-count // self.round_to) * self.round_to, len(norms[index]) - 1)
        norms[index] = norms[index][count:]
        return Chain(tuple(norms))

    def norm_lost(self, before: Chain, after: Chain) -> float:
        return sum(map(sum, before.norms)) - sum(map(sum, after.norms))  # the removed filters' norms

    def price(self, model: Chain) -> Priced:
        self.priced += 1
        widths = [IN, *(len(norms) for norms in model.norms), OUT]
        costs = [w * c_in * c_out for w, c_in, c_out in zip(self.weights, widths, widths[1:])]
        ops = tuple((i, cost, self.priced if self.unique_ops else 0) for i, cost in enumerate(costs))
        return Priced(sum(costs), sum(widths[1:-1]), 0, ops)


def chain(*widths: int, scale: tuple[float, ...] | None = None) -> Chain:
    scale = scale or (1.0,) * len(widths)
    return Chain(tuple(tuple(s * (j + 1) for j in range(c)) for s, c in zip(scale, widths)))


def test_two_layers_by_hand():
    # Op costs 4*cA + cA*cB + 2*cB; base cA = cB = 8: 32 + 64 + 16 = 112 s.
    # Iteration 1, step 20: A saves 4k + 8k = 12k -> k = 2 (24 s), norms 1 + 2 = 3, 3 / 24 = 0.125 per s;
    # B saves 8k + 2k = 10k -> k = 2 (20 s), 3 / 20 = 0.15 per s. A is kept: 6 filters, 88 s.
    # Iteration 2 wants only 88 - 0.7 * 112 = 9.6 s: A saves 12k -> k = 1, norm 3 (its smallest left),
    # 3 / 12 = 0.25; B saves 6k + 2k = 8k -> k = 2 (16 s), norm 3, 3 / 16 = 0.1875. B is kept: 24 + 36 + 12.
    space = ChainSpace((1.0, 1.0, 1.0))
    trajectory = netadapt(space, chain(8, 8), lambda base: 0.7 * base, 20.0)
    assert trajectory.base.latency_s == 112
    assert [(s.layer, s.channels_before, s.channels_after) for s in trajectory.steps] == [
        ("layer0", 8, 6),
        ("layer1", 8, 6),
    ]
    assert [s.predicted_s for s in trajectory.steps] == [88, 72]
    assert [s.saved_s for s in trajectory.steps] == [24, 16]
    assert [s.norm_lost for s in trajectory.steps] == [3, 3]
    assert trajectory.reached and trajectory.target_s == pytest.approx(78.4)
    assert [len(norms) for norms in trajectory.model.norms] == [6, 6]


def test_the_weight_norm_decides_between_equal_savings():
    # Both layers save the same per filter when their neighbours are equal: the one whose small
    # filters weigh less goes. Layer 1's filters are ten times heavier, so layer 0 is pruned twice.
    space = ChainSpace((1.0, 1.0, 1.0))
    trajectory = netadapt(space, chain(8, 8, scale=(1.0, 10.0)), 90.0, 10.0)
    assert {s.layer for s in trajectory.steps} == {"layer0"}


def test_the_fewest_filters_are_found_when_the_pruner_rounds_up():
    # One layer of 64 filters between IN = 4 and OUT = 2: each filter costs 4 + 2 = 6 s. A step of 60 s
    # needs 10 filters, but the pruner removes multiples of 4: asking for 9 already removes 12.
    space = ChainSpace((1.0, 1.0), round_to=4)
    trajectory = netadapt(space, chain(64), 384 - 60, 60.0)
    (step,) = trajectory.steps
    assert (step.channels_before, step.channels_after, step.removed) == (64, 52, 12)
    assert step.saved_s == 72


def test_a_linear_saving_is_found_in_three_probes():
    # 6 s per filter, 57 s wanted: the all-but-one probe (63 filters, 378 s), the interpolated guess
    # (57 / 378 * 63 = 9.5 -> 10, enough) and its neighbour (9, 54 s, not enough) settle it; a binary
    # search over 63 counts needs 6 probes after the first.
    space = ChainSpace((1.0, 1.0))
    trajectory = netadapt(space, chain(64), 384 - 57, 57.0)
    assert trajectory.steps[0].removed == 10
    assert trajectory.steps[0].probes == 3


def test_probes_of_layers_the_change_did_not_touch_are_kept_and_give_the_same_answer():
    widths, weights = (16, 16, 16, 16, 16), (1.0, 2.0, 1.5, 1.0, 3.0, 1.0)
    kept = ChainSpace(weights)
    fresh = ChainSpace(weights, unique_ops=True)  # every op differs every time: every probe is redone
    with_memory = netadapt(kept, chain(*widths), lambda base: 0.5 * base, 40.0)
    without = netadapt(fresh, chain(*widths), lambda base: 0.5 * base, 40.0)
    assert [(s.layer, s.removed, s.predicted_s) for s in with_memory.steps] == [
        (s.layer, s.removed, s.predicted_s) for s in without.steps
    ]
    assert len(with_memory.steps) > 3
    assert with_memory.probes < without.probes
    # In the second iteration only the pruned layer and its two neighbours are probed again, of five.
    assert with_memory.steps[1].probes < with_memory.steps[0].probes


def test_no_layer_can_save_the_step_stops_short_and_says_so():
    # One layer of 4 filters: at most 3 can go, saving 3 * 6 = 18 s of 24; a 10% target is out of reach.
    trajectory = netadapt(ChainSpace((1.0, 1.0)), chain(4), lambda base: 0.1 * base, 5.0)
    assert not trajectory.reached
    assert trajectory.predicted_s > trajectory.target_s
    assert trajectory.steps[-1].channels_after >= 1


def test_a_budget_already_met_changes_nothing():
    model = chain(8)
    trajectory = netadapt(ChainSpace((1.0, 1.0)), model, 1000.0, 5.0)
    assert trajectory.steps == () and trajectory.reached and trajectory.model is model
    assert trajectory.predicted_s == trajectory.base.latency_s == 48


def test_a_step_that_saves_nothing_is_refused():
    with pytest.raises(ValueError, match="the step must save some time"):
        netadapt(ChainSpace((1.0, 1.0)), chain(8), 10.0, 0.0)


def test_changed_ops_by_hand():
    a = Priced(1.0, 0, 0, ("x", "y", "z"))
    assert changed_ops(a, Priced(1.0, 0, 0, ("x", "Y", "z"))) == frozenset({1})
    assert changed_ops(a, Priced(1.0, 0, 0, ("x", "y"))) is EVERY_OP


def test_every_layer_keeps_its_floor():
    # Layer 0's filters are ten times cheaper to lose: without a floor it would be cut to one filter.
    space = ChainSpace((1.0, 1.0, 1.0))
    model = chain(8, 8, scale=(0.1, 1.0))
    bare = netadapt(space, model, lambda base: 0.3 * base, 4.0)
    assert min(len(norms) for norms in bare.model.norms) < 4
    floored = netadapt(space, model, lambda base: 0.3 * base, 4.0, min_keep=0.5)
    assert [len(norms) for norms in floored.model.norms] == [4, 4]  # both stop at half of 8
    assert not floored.reached  # the budget cannot be met above the floors: said, not forced
