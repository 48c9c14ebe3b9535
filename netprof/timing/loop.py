"""The one timing loop: run a callable after a warm-up, a fixed number of times or until a time budget.

Every measurement in netprof (the timed passes of a model, the roof's GEMM and copy, a device
profile's micro-benchmarks, the guideline benchmarks' rounds) runs through ``run_until``, so they
stop by the same rule: exactly ``repeat`` runs when a count is given, otherwise until
``budget_s`` seconds have gone by since the first timed run began, never fewer than ``min_runs``
nor more than ``max_runs``. As pytest-benchmark does, the budget bounds the rounds, not the
single run: the run that crosses it finishes.

``time_calls`` times whole calls on a ``Clock``. Its ``begin_pass`` is where the cache is flushed
between runs: ``CudaClock`` writes 256 MiB over the L2 and synchronizes, as triton's ``do_bench``
does, so no run starts on the previous one's data; on the CPU nothing is flushed, the caches are
what a user's next call finds. Every run goes through the clock, warm-ups included, so every run
starts alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

from netprof.timing.clocks import Clock
from netprof.timing.measurement import Measurement

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stop:
    """When a loop of timed runs ends.

    Attributes:
        repeat: exactly this many runs; the budget and bounds are then ignored.
        budget_s: otherwise, stop once this many seconds have gone by since the first timed run began...
        min_runs: ... but not before this many runs ...
        max_runs: ... and never after this many (``None``: no cap).
    """

    repeat: int | None = None
    budget_s: float = math.inf
    min_runs: int = 1
    max_runs: int | None = None

    def __post_init__(self) -> None:
        if self.repeat is not None and self.repeat < 0:
            raise ValueError(f"repeat must not be negative, got {self.repeat}")
        if self.repeat is None and math.isinf(self.budget_s) and self.max_runs is None:
            raise ValueError("a loop needs a repeat count, a finite budget or a largest run count")

    def done(self, runs: int, elapsed_s: float) -> bool:
        if self.repeat is not None:
            return runs >= self.repeat
        if self.max_runs is not None and runs >= self.max_runs:
            return True
        return runs >= self.min_runs and elapsed_s >= self.budget_s


@dataclass(frozen=True, slots=True)
class Runs(Generic[T]):
    """What each run returned: the warm-up runs' (for a caller that checks them) and the timed ones'."""

    warmup: tuple[T, ...]
    timed: tuple[T, ...]


def run_until(
    step: Callable[[], T],
    stop: Stop,
    *,
    warmup: int = 0,
    now: Callable[[], float] = time.perf_counter,
) -> Runs[T]:
    """``step()`` ``warmup`` times, then again until ``stop`` says so; ``now`` is the budget's clock."""
    warm = tuple(step() for _ in range(warmup))
    timed: list[T] = []
    started = now()
    while not stop.done(len(timed), now() - started):
        timed.append(step())
    return Runs(warm, tuple(timed))


def time_calls(
    fn: Callable[[], object],
    clock: Clock,
    stop: Stop,
    *,
    warmup: int = 1,
    threads: int | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> Measurement:
    """Seconds of each timed call of ``fn``, each one a pass of ``clock`` (which flushes the cache
    first on CUDA); ``threads`` is recorded in the ``Measurement`` (default: the count in force)."""

    def one() -> float:
        clock.begin_pass()
        fn()
        return clock.end_pass()[0]

    runs = run_until(one, stop, warmup=warmup, now=now)
    return Measurement.of(runs.timed, torch.get_num_threads() if threads is None else threads)
