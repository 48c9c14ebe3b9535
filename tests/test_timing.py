"""Timing: attribution adds up, agrees with torch.profiler, ranks the ops FLOPs mispredict.

No assertion here is about speed: speed lives in benchmarks/timing_overhead.py.
Every timed test runs with one thread, the least noisy setting on a shared machine.
"""

import math
import statistics

import pytest
import torch
from torch import nn
from torch.nn.modules import module as nn_module
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

import netprof
from netprof.environment import threads_set
from netprof.timing import FIGURE2, Runner, Timing
from netprof.timing.run import device_of


def small_convnet():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


class PoolHeavy(nn.Module):
    """A max-pool over a large map, then a 1x1 conv on a tiny one: time goes to the pool."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(5, stride=1, padding=2)
        self.shrink = nn.AdaptiveAvgPool2d(4)
        self.conv = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        return self.conv(self.shrink(self.pool(x)))


class CatHeavy(nn.Module):
    """Concatenates large maps many times, with one tiny linear layer: time goes to cat."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 2)

    def forward(self, x):
        y = torch.cat([x, x, x, x], dim=1)
        y = torch.cat([y, y], dim=1)
        return self.linear(x[0, 0, 0, :8])


@pytest.fixture(scope="module")
def timed():
    torch.manual_seed(0)
    model = small_convnet()
    return netprof.run(model, torch.randn(1, 3, 64, 64), timing=netprof.TimingOptions(repeat=7, threads=1))


def test_timing_covers_every_op_of_the_analysis(timed):
    timing = timed.timing
    assert isinstance(timing, Timing)
    assert timed.analysis.mode == "real"
    assert [op.op for op in timing.ops] == [node.op for node in timed.analysis.ops]
    assert [op.id for op in timing.ops] == [node.id for node in timed.analysis.ops]
    assert timing.runs == 7 and timing.diverged_runs == 0
    assert timing.threads == 1
    assert all(op.time.runs == 7 and op.time.threads == 1 for op in timing.ops)
    assert timing.end_to_end.runs == timing.plain.runs == 7


def test_ops_plus_overhead_is_end_to_end(timed):
    timing = timed.timing
    medians = math.fsum(op.time.median for op in timing.ops)
    assert timing.attributed_s == pytest.approx(medians, rel=1e-12)
    assert timing.attributed_s + timing.overhead_s == pytest.approx(timing.end_to_end.median, abs=1e-12)
    # Per pass the overhead is what no op accounts for.
    for r in range(timing.runs):
        ops = math.fsum(op.time.times[r] for op in timing.ops)
        assert timing.overhead.times[r] == pytest.approx(timing.end_to_end.times[r] - ops, abs=1e-12)


def test_op_times_are_measured_inside_their_pass(timed):
    """What the clock measured, not what attribution derives: these fail on a wrong clock or a lost time.

    On the CPU every op call is bracketed inside its pass by one monotonic counter, so no op
    time is negative, an op that does arithmetic takes some time, and the ops of a pass
    add up to no more than that pass's end-to-end time.
    """
    timing = timed.timing
    for op in timing.ops:
        assert all(t >= 0 for t in op.time.times), op.op
        if op.mult_adds:
            assert all(t > 0 for t in op.time.times), op.op
    for r in range(timing.runs):
        ops = math.fsum(op.time.times[r] for op in timing.ops)
        assert 0 < ops <= timing.end_to_end.times[r], r
        assert timing.overhead.times[r] >= 0, r
    assert all(t > 0 for t in timing.plain.times)
    # Seconds, not milliseconds or nanoseconds: conv 3 -> 32 at 64 x 64, 3 * 9 * 32 * 64 * 64 =
    # 3,538,944; conv 32 -> 64 at 32 x 32, 32 * 9 * 64 * 32 * 32 = 18,874,368; linear 64 * 10 = 640;
    # 22,413,952 multiply-adds run neither in under a microsecond nor for ten seconds on one thread.
    assert timed.analysis.totals.mult_adds == 22_413_952
    assert 1e-6 < timing.attributed_s < 10


def test_groups_add_up_to_the_attributed_time(timed):
    timing = timed.timing
    for groups in (timing.categories, timing.op_types, timing.figure2):
        assert math.fsum(g.time_s for g in groups) == pytest.approx(timing.attributed_s, rel=1e-9)
        assert math.fsum(g.time_share for g in groups) == pytest.approx(1.0)
        assert math.fsum(g.mult_adds_share for g in groups) == pytest.approx(1.0)
    root = timing.modules[0]
    assert root.name == "" and root.time_s == pytest.approx(timing.attributed_s, rel=1e-9)
    assert [g.name for g in timing.modules] == [
        m.path for m in timed.analysis.modules if m.path in {g.name for g in timing.modules}
    ]
    assert {g.name for g in timing.figure2} <= set(FIGURE2)
    conv = next(g for g in timing.figure2 if g.name == "Conv")
    assert conv.mult_adds_share == 1.0


def test_rates_and_ratio_follow_their_definition(timed):
    for g in timed.timing.categories:
        if g.time_s > 0:
            assert g.gflop_per_s == pytest.approx(g.flops / g.time_s / 1e9)
            assert g.gb_per_s == pytest.approx(g.mem_access_bytes / g.time_s / 1e9)
        if g.mult_adds:
            assert g.time_over_mult_adds == pytest.approx(g.time_share / g.mult_adds_share)
        else:
            assert g.time_over_mult_adds is None


def test_categories_are_sums_of_measured_op_times(timed):
    """Each category recomputed from the raw per-op times, and its rate within physical bounds."""
    timing = timed.timing
    for g in timing.categories:
        members = [op for op in timing.ops if op.category == g.name]
        assert g.ops == len(members) > 0
        assert g.time_s == pytest.approx(math.fsum(op.time.median for op in members), rel=1e-12)
        for r in range(timing.runs):
            assert g.spread.times[r] == pytest.approx(math.fsum(op.time.times[r] for op in members))
        assert g.time_share == pytest.approx(g.time_s / timing.attributed_s)
    conv = next(g for g in timing.categories if g.name == "conv")
    # Not a speed assertion but a units one: one CPU thread does between 0.01 and 1000 GFLOP/s
    # (a core retires at most a few hundred fp32 flops per cycle at a few GHz); a time off by
    # 1e3 (ms for s) or 1e9 (ns for s) lands outside.
    assert 0.01 < conv.gflop_per_s < 1000


PASS_MARK = "netprof_test_pass_"


def _profiled_kernel_seconds_per_pass(prof) -> dict[int, float]:
    """Self time of every aten op run inside netprof's dispatch mode, per marked pass.

    Inside the mode (profiler event ``PythonDispatchMode``) the aten events are
    the op calls netprof times. The mode's own Python work (that event's self
    time) and the framework work above it (the outer aten events) are not
    kernel time, so both are left out, as netprof's op times leave them out.
    """
    per_pass: dict[int, float] = {}
    for event in prof.events():
        if not event.name.startswith("aten::"):
            continue
        inside, parent = False, event.cpu_parent
        while parent is not None:
            inside = inside or parent.name == "PythonDispatchMode"
            if parent.name.startswith(PASS_MARK):
                if inside:
                    index = int(parent.name.removeprefix(PASS_MARK))
                    per_pass[index] = per_pass.get(index, 0.0) + 1e-6 * event.self_cpu_time_total
                break
            parent = parent.cpu_parent
    return per_pass


def test_attributed_time_agrees_with_torch_profiler():
    model = small_convnet().eval()
    x = torch.randn(1, 3, 96, 96)
    analysis = netprof.analyze(model, x, mode="real")
    runner = Runner(model, (x,), [node.op for node in analysis.ops], device_of("cpu"))
    ours: dict[int, float] = {}
    with threads_set(1), torch.no_grad():
        for _ in range(3):
            runner.instrumented()
        # The very same passes, measured by both.
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for index in range(15):
                with torch.profiler.record_function(f"{PASS_MARK}{index}"):
                    _, ops, same = runner.instrumented()
                assert same
                ours[index] = math.fsum(ops)
    theirs = _profiled_kernel_seconds_per_pass(prof)
    assert sorted(theirs) == sorted(ours) and all(t > 0 for t in theirs.values())
    # Pass by pass, then the median: a neighbour preempting us in the few microseconds between
    # netprof's clock and the profiler's event lands on netprof's side only, and on a shared
    # 2-core machine that can be a whole scheduler tick in a few passes.
    relative = [(ours[i] - theirs[i]) / theirs[i] for i in ours]
    assert abs(statistics.median(relative)) < 0.10, relative


@pytest.mark.parametrize(
    ("model", "x", "op_type"),
    [
        (PoolHeavy(), torch.randn(1, 32, 128, 128), "max_pool2d_with_indices"),
        (CatHeavy(), torch.randn(1, 32, 128, 128), "cat"),
    ],
    ids=["max_pool", "cat"],
)
def test_zero_mult_adds_op_that_dominates_time_ranks_first(model, x, op_type):
    analysis = netprof.run(model, x, timing=netprof.TimingOptions(repeat=5, threads=1))
    first = analysis.timing.disagreements[0]
    assert first.kind == "op" and first.name == op_type
    assert first.mult_adds_share == 0.0
    assert first.time_share > 0.5
    assert first.describe() == f"{op_type}: 0% of mult_adds, {100 * first.time_share:.0f}% of time"
    excesses = [d.excess for d in analysis.timing.disagreements]
    assert excesses == sorted(excesses, reverse=True) and all(e > 0 for e in excesses)


def test_pool_module_ranks_first_among_modules():
    analysis = netprof.run(
        PoolHeavy(), torch.randn(1, 32, 128, 128), timing=netprof.TimingOptions(repeat=5, threads=1)
    )
    assert analysis.timing.module_disagreements[0].name == "pool"


def _snapshot(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [(name, m.training) for name, m in model.named_modules()],
        [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks)) for name, m in model.named_modules()],
        [id(p) for p in model.parameters()],
        dict(nn_module._global_forward_hooks),
        dict(nn_module._global_forward_pre_hooks),
        len(_get_current_dispatch_mode_stack()),
        torch.is_grad_enabled(),
        torch.get_num_threads(),
    )


def test_timing_leaves_the_model_and_torch_unchanged():
    model = small_convnet()
    model.train()  # batch norm in training mode would update its running stats if run as is
    model[0].register_forward_hook(lambda *args: None)
    before = _snapshot(model)
    netprof.run(model, torch.randn(2, 3, 32, 32), timing=netprof.TimingOptions(repeat=3, threads=1))
    after = _snapshot(model)
    assert after[0].keys() == before[0].keys()
    for key in before[0]:
        assert torch.equal(after[0][key], before[0][key]), key
    assert after[1:] == before[1:]


def test_threads_are_set_while_timing_and_restored():
    before = torch.get_num_threads()
    analysis = netprof.run(
        small_convnet(), torch.randn(1, 3, 16, 16), timing=netprof.TimingOptions(repeat=2, threads=1)
    )
    assert analysis.timing.threads == 1
    assert torch.get_num_threads() == before


class Stateful(nn.Module):
    """Runs one op, except on the calls ``differs`` picks: the op sequence depends on state."""

    def __init__(self, differs):
        super().__init__()
        self.calls, self.differs = 0, differs

    def forward(self, x):
        self.calls += 1
        return x.sigmoid().relu() if self.differs(self.calls) else x.relu()


def test_data_dependent_model_is_reported_loudly(capsys):
    # A copy runs call 1 (a warm-up: what the timed passes follow) and is captured at call 2 (one op).
    # Timing copies it: 3 warm-up pairs (calls 2-7), then plain and instrumented alternate, so the
    # instrumented passes are calls 9, 11, 13, 15: 9 and 15 differ.
    model = Stateful(lambda call: call % 3 == 0)
    with pytest.warns(netprof.timing.DivergenceWarning, match="different sequence of ops"):
        analysis = netprof.run(model, torch.randn(4, 4), timing=netprof.TimingOptions(repeat=4, threads=1))
    timing = analysis.timing
    assert (timing.runs, timing.diverged_runs) == (2, 2)
    assert any("different sequence of ops" in w for w in timing.warnings)
    assert "netprof: warning: 2 of 4 timed passes" in capsys.readouterr().err


def test_model_that_never_runs_the_analysed_ops_cannot_be_timed():
    with (
        pytest.raises(netprof.timing.TimingError, match="no pass could be attributed"),
        pytest.warns(netprof.timing.DivergenceWarning),
    ):
        netprof.run(  # captured at call 2 (after one warm-up call); every timed call runs two ops
            Stateful(lambda call: call > 2),
            torch.randn(4, 4),
            timing=netprof.TimingOptions(repeat=2, threads=1),
        )


def test_meta_capture_mode_cannot_be_timed():
    with pytest.raises(netprof.CaptureError, match="cannot be timed"):
        netprof.run(small_convnet(), torch.randn(1, 3, 8, 8), mode="meta", timing=netprof.TimingOptions())


def test_timing_without_timing_options_is_none():
    result = netprof.run(small_convnet(), torch.randn(1, 3, 8, 8))
    assert result.timing is None and result.op_seconds is None
    assert result.analysis.mode == "meta"  # nothing ran: an untimed run captures on meta
