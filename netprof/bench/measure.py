"""Images per second of a few networks, timed in interleaved rounds so drift hits them all alike.

Clock: ``process`` (this process's CPU time) or ``wall`` (``time.perf_counter``). On one thread the
CPU time leaves out the time the scheduler gave this core to other programs, which on a shared machine
is most of the noise; it still includes their effect on caches and memory bandwidth. With more than one
thread the CPU time sums the threads, so only the wall clock gives images/sec; ``clock_name`` picks.

A repetition is a block of forward passes long enough (``min_block_s``) for timer overhead and
scheduler jitter to be small, as ``torch.utils.benchmark``'s ``blocked_autorange`` does. The networks
of one paper column are timed round-robin: each round times every network once, starting from a
different one each round, so a slow spell on this shared machine lands on all rows instead of on one.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from netprof.bench.trend import median_iqr
from netprof.timing.loop import Stop, run_until
from netprof.timing.measurement import NOISY_IQR_FRACTION


@dataclass(frozen=True)
class Throughput:
    """Images/sec of each repetition, with their median and interquartile range (never a mean alone).

    A rate, where ``netprof.timing.Measurement`` holds durations: its median and IQR are taken the
    same way and judged noisy by the same rule. ``runs[i]`` is round ``i`` of ``time_interleaved``:
    the same index in the throughputs of one call was taken in the same round, which is what
    ``netprof.bench.trend.paired`` relies on."""

    runs: tuple[float, ...]
    images_per_run: int
    median: float
    iqr: float

    @classmethod
    def of(cls, runs: Sequence[float], images_per_run: int) -> Throughput:
        median, iqr = median_iqr(runs)
        return cls(tuple(runs), images_per_run, median, iqr)

    @property
    def noisy(self) -> bool:
        return self.iqr > NOISY_IQR_FRACTION * self.median


CLOCKS = {"process": time.process_time, "wall": time.perf_counter}


def clock_name(threads: int, clock: str = "auto") -> str:
    """The key of ``CLOCKS`` to time with: ``auto`` is CPU time on one thread, the wall clock on more."""
    if clock == "auto":
        return "process" if threads == 1 else "wall"
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}: expected auto, {', '.join(CLOCKS)}")
    return clock


@dataclass(frozen=True)
class TimingPlan:
    budget_s: float  # per group of interleaved networks, after warm-up, wall-clock
    min_runs: int
    max_runs: int
    min_block_s: float
    warmup_s: float
    clock: str = "wall"  # a key of CLOCKS: what each repetition is timed with


def _warm_up(model: nn.Module, x: torch.Tensor, seconds: float, clock: Callable[[], float]) -> float:
    """Run until ``seconds`` have passed (at least 3 calls); the fastest call's time."""

    def call() -> float:
        t0 = clock()
        model(x)
        return clock() - t0

    return min(run_until(call, Stop(budget_s=seconds, min_runs=3)).timed)


def time_interleaved(
    networks: Sequence[tuple[nn.Module, torch.Tensor]], plan: TimingPlan
) -> list[Throughput]:
    """Time each ``(model, input)``: eval mode, no grad, the caller's thread setting.

    Nothing is flushed between rounds: on the CPU netprof times the steady state a model's next
    call finds (see ``netprof.timing.loop``), and a block repeats one network on purpose."""
    batch = [x.shape[0] for _, x in networks]
    runs: list[list[float]] = [[] for _ in networks]
    clock = CLOCKS[plan.clock]
    rounds = itertools.count()

    def one_round() -> None:
        first = next(rounds)
        for k in range(len(networks)):
            i = (k + first) % len(networks)
            model, x = networks[i]
            t0 = clock()
            for _ in range(calls[i]):
                model(x)
            runs[i].append(calls[i] * batch[i] / max(clock() - t0, 1e-9))

    with torch.no_grad():
        for model, _ in networks:
            model.eval()
        per_call = [_warm_up(model, x, plan.warmup_s, clock) for model, x in networks]
        calls = [max(1, math.ceil(plan.min_block_s / max(t, 1e-9))) for t in per_call]
        run_until(one_round, Stop(budget_s=plan.budget_s, min_runs=plan.min_runs, max_runs=plan.max_runs))
    return [Throughput.of(r, calls[i] * batch[i]) for i, r in enumerate(runs)]
