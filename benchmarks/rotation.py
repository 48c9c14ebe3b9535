"""Ground-truth latency from interleaved rounds: every model timed in turn, round after round.

On a shared machine the same model timed twice in a row can differ by 2x (a neighbour's job starts), and
a model timed in one block absorbs whatever load that block met. Timing the models in rotation spreads
each disturbance over all of them: round ``r`` visits every model once (a warm-up pass, then ``passes``
timed plain forwards, whose median is the round's figure), in an order shuffled per round by a fixed
seed. A model's latency is the median of its round figures; beside it stand the interquartile range and
the min-max of those round figures, as fractions of the latency, so that a reader sees how far to trust
it. The models are rebuilt at every visit (``build`` is called again, same seed), so many large models
never sit in memory at once.

Used by ``benchmarks/predict_measure.py`` and ``benchmarks/predict_families.py``; nothing here predicts.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from netprof.timing.measurement import quantile

Builder = Callable[[], tuple[torch.nn.Module, torch.Tensor]]


def visit(model: torch.nn.Module, x: torch.Tensor, passes: int, warmup: int = 1) -> list[float]:
    """``warmup`` untimed forwards, then ``passes`` timed ones (seconds each)."""
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(passes):
            begin = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - begin)
    return times


def summary(round_medians: list[float]) -> dict[str, float]:
    """The latency (median of round medians) and its spread, relative to it."""
    latency = statistics.median(round_medians)
    return {
        "latency_s": latency,
        "iqr": (quantile(round_medians, 0.75) - quantile(round_medians, 0.25)) / latency,
        "min_max": (max(round_medians) - min(round_medians)) / latency,
    }


def time_in_rotation(
    builders: Mapping[str, Builder],
    rounds: int,
    passes: int,
    *,
    threads: int,
    seed: int = 0,
    done: Mapping[str, list[list[float]]] | None = None,
    on_visit: Callable[[str, int, list[float]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{name: {"rounds": [[s, ...], ...], "round_medians": [...], "latency_s", "iqr", "min_max"}}``.

    ``done`` holds rounds already measured (an interrupted run resumes: a model with ``r`` rounds done
    is skipped in rounds below ``r``); ``on_visit(name, round, times)`` is called after every visit, to
    save progress.
    """
    torch.set_num_threads(threads)
    measured: dict[str, list[list[float]]] = {name: list((done or {}).get(name, [])) for name in builders}
    order = list(builders)
    shuffle = random.Random(seed)
    for round_ in range(rounds):
        shuffle.shuffle(order)
        for name in order:
            if len(measured[name]) > round_:
                continue
            torch.manual_seed(0)
            model, x = builders[name]()
            times = visit(model.eval(), x, passes)
            measured[name].append(times)
            del model, x
            gc.collect()
            if on_visit:
                on_visit(name, round_, times)
            print(
                f"round {round_ + 1}/{rounds} {name}: {statistics.median(times) * 1e3:.2f} ms",
                file=sys.stderr,
                flush=True,
            )
    out = {}
    for name, rounds_ in measured.items():
        medians = [statistics.median(r) for r in rounds_]
        out[name] = {"rounds": rounds_, "round_medians": medians, **summary(medians)}
    return out
