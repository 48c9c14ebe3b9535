"""The one timing loop (netprof.timing.loop), on a fake clock: how many runs, when the budget stops
them, and that every run starts with the clock's flush."""

from __future__ import annotations

import pytest

from netprof.timing.loop import Stop, run_until, time_calls


class FakeTime:
    """A clock that only moves when a call runs: each call takes ``call_s`` seconds."""

    def __init__(self, call_s: float) -> None:
        self.now = 0.0
        self.call_s = call_s
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += self.call_s


class FakeClock:
    """A ``Clock`` that counts its flushes (``begin_pass``) and reads the fake time."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.flushes = 0
        self.begun = 0.0

    def begin_pass(self) -> None:
        self.flushes += 1
        self.begun = self.time()

    def start(self) -> float:
        return self.time()

    def stop(self, token: float) -> None:
        pass

    def end_pass(self) -> tuple[float, list[float]]:
        return self.time() - self.begun, []


def test_repeat_runs_exactly_that_many_after_the_warm_up():
    fake = FakeTime(0.25)
    runs = run_until(fake.work, Stop(repeat=4, budget_s=0.1, max_runs=2), warmup=3, now=fake)
    assert (len(runs.warmup), len(runs.timed)) == (3, 4)  # the count wins over budget and bounds
    assert fake.calls == 7


def test_the_budget_stops_after_the_run_that_crosses_it():
    fake = FakeTime(0.3)
    runs = run_until(fake.work, Stop(budget_s=1.0, min_runs=2, max_runs=100), warmup=1, now=fake)
    # the warm-up's 0.3 s do not count; after 3 runs 0.9 s < 1.0 s, after 4 runs 1.2 s >= 1.0 s
    assert len(runs.timed) == 4


def test_min_runs_outlast_the_budget_and_max_runs_cut_it():
    fake = FakeTime(1.0)
    assert len(run_until(fake.work, Stop(budget_s=0.5, min_runs=5), now=fake).timed) == 5
    assert len(run_until(fake.work, Stop(budget_s=100.0, max_runs=7), now=fake).timed) == 7


def test_a_loop_without_an_end_is_refused():
    with pytest.raises(ValueError, match="repeat count"):
        Stop()
    with pytest.raises(ValueError, match="negative"):
        Stop(repeat=-1)


def test_time_calls_flushes_before_every_call_and_times_each_one():
    fake = FakeTime(0.002)
    clock = FakeClock(fake)
    measured = time_calls(fake.work, clock, Stop(repeat=5), warmup=2, threads=3, now=fake)
    assert fake.calls == 7
    assert clock.flushes == 7  # the warm-ups start from a flushed cache too
    assert measured.runs == 5 and measured.threads == 3
    assert measured.times == pytest.approx((0.002,) * 5)
    assert measured.median == pytest.approx(0.002)


def test_time_calls_on_a_budget():
    fake = FakeTime(0.1)
    clock = FakeClock(fake)
    measured = time_calls(fake.work, clock, Stop(budget_s=0.45, min_runs=3, max_runs=200), warmup=2, now=fake)
    # 0.1 s a call: 5 runs reach 0.5 s >= 0.45 s
    assert measured.runs == 5
    assert clock.flushes == 2 + 5
