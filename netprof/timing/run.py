"""Run the model for real and time every op of the analysis graph.

The analysis of a timed model is captured in ``real`` mode on the timing
device, and the timed passes run the same forward under a small dispatch mode
that times each ATen op call. Op ``i`` of a pass is op ``i`` of the graph: every
pass's sequence of ops is checked against the graph's, and a pass that differs
(a data-dependent model) is dropped and reported, loudly.

Passes alternate: one plain forward (no dispatch mode: the model's real
end-to-end time), one instrumented forward. After ``warmup`` passes of each
kind, they repeat ``repeat`` times, or, without a count, until ``budget_s``
seconds have gone by (at least ``MIN_RUNS``, at most ``MAX_RUNS``).

The user's model is never run: a copy is, in the workload's mode (eval and
without autograd, for inference), exactly as the capture ran it.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from netprof.capture.workload import Workload, as_workload
from netprof.devices import TIMING_DEVICES
from netprof.environment import threads_set
from netprof.errors import NetprofError
from netprof.timing import calibrate
from netprof.timing.attribution import Timing, attribute
from netprof.timing.calibrate import Calibration
from netprof.timing.clocks import Clock, clock_for
from netprof.timing.loop import Stop, run_until

if TYPE_CHECKING:
    from netprof.analysis import Analysis

DEFAULT_BUDGET_S = 10.0
DEFAULT_WARMUP = 3
MIN_RUNS = 5
MAX_RUNS = 10_000


class TimingError(NetprofError):
    """The model could not be timed; the message says why."""


class DivergenceWarning(UserWarning):
    """A timed pass ran different ops from the analysis graph: its times were dropped."""


class _TimingMode(TorchDispatchMode):
    """Times every op call; ``prim`` ops, which the capture leaves out too, run untimed."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.funcs: list[Any] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == "prim":
            return func(*args, **(kwargs or {}))
        token = self.clock.start()
        out = func(*args, **(kwargs or {}))
        self.clock.stop(token)
        self.funcs.append(func)
        return out


def device_of(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TimingError("device 'cuda' requested but torch.cuda.is_available() is False")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type not in TIMING_DEVICES:
        raise TimingError(
            f"cannot time on device {str(dev)!r}: netprof times on {' or '.join(TIMING_DEVICES)}"
        )
    return dev


def ensure_runnable(model: nn.Module) -> None:
    """A model with meta tensors has nothing to run: say so before any capture is tried."""
    if any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        raise TimingError(
            "the model is on the meta device: it has no weights to run; build it on cpu to time it"
        )


def to_device(model: nn.Module, workload: Workload, device: torch.device) -> tuple[nn.Module, Workload]:
    """A copy of the model and of the workload on ``device``; the caller's stay where they are."""
    ensure_runnable(model)
    return copy.deepcopy(model).to(device), workload.to(device)


@dataclass(frozen=True)
class TimingOptions:
    """How to time: on which device, how many passes (or for how long), with how many threads."""

    device: str = "cpu"
    repeat: int | None = None
    budget_s: float = DEFAULT_BUDGET_S
    threads: int | None = None
    runtime: str = "eager"  # or a deployment runtime of netprof.runtimes


class Runner:
    """One model copy, a workload with its inputs on the device, and a clock; runs plain and
    instrumented passes.

    Exposed so that a test can run passes under ``torch.profiler`` and compare
    the very same passes. ``workload`` is a ``Workload`` or a tuple of forward
    arguments, on ``device``.
    """

    def __init__(
        self, model: nn.Module, workload: Workload | Any, expected: list[str], device: torch.device
    ) -> None:
        self.workload = as_workload(workload)
        self.model, self.inputs, self.expected = model, self.workload.inputs, expected
        self.clock = clock_for(device)

    def plain(self) -> float:
        self.clock.begin_pass()
        self.workload.run(self.model, self.inputs)
        e2e, _ = self.clock.end_pass()
        return e2e

    def instrumented(self) -> tuple[float, list[float], bool]:
        """End-to-end seconds, each op's seconds, and whether the ops were the graph's."""
        mode = _TimingMode(self.clock)
        self.clock.begin_pass()
        with mode:
            self.workload.run(self.model, self.inputs)
        e2e, ops = self.clock.end_pass()
        same = len(mode.funcs) == len(self.expected) and all(
            str(f) == name for f, name in zip(mode.funcs, self.expected)
        )
        return e2e, ops, same


def _divergence(expected: list[str], ops: int) -> str:
    return (
        f"the model ran a different sequence of ops than the analysis graph ({ops} ops vs {len(expected)}): "
        "its op sequence depends on data or state, so those passes were dropped from the timing"
    )


@contextlib.contextmanager
def progress_bar(enabled: bool, total: float, description: str) -> Iterator[Any]:
    """A transient rich progress bar on stderr; a no-op advance when disabled or not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda advance: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[runs]} runs"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total, runs=0)
        runs = 0

        def advance(amount: float) -> None:
            nonlocal runs
            runs += 1
            bar.update(task, advance=amount, runs=runs)

        yield advance


def time_analysis(
    model: nn.Module,
    workload: Workload | Any,
    analysis: Analysis,
    *,
    device: str | torch.device = "cpu",
    repeat: int | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    warmup: int = DEFAULT_WARMUP,
    threads: int | None = None,
    calibration: Calibration | None | str = "cached",
    progress: bool = True,
) -> Timing:
    """Time every op of ``analysis`` by running ``workload`` on ``model`` on ``device``.

    ``workload`` is a ``Workload`` or example inputs of a forward pass.
    ``analysis`` must come from a ``real`` capture of the same model and workload
    on the same device (``netprof.run(..., time=True)`` does all this).
    ``repeat`` fixes the number of timed passes; otherwise they run for
    ``budget_s`` seconds. ``threads`` sets ``torch.set_num_threads`` while
    timing (restored after). ``calibration`` is a ``Calibration``, ``None`` for
    no roofline, or ``"cached"`` to use ``netprof calibrate``'s stored roof.
    """
    if repeat is not None and repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if budget_s <= 0:
        raise ValueError(f"budget_s must be positive, got {budget_s}")
    dev = device_of(device)
    workload = as_workload(workload)
    twin, moved = to_device(model, workload, dev)
    expected = [node.op for node in analysis.ops]
    runner = Runner(twin, moved, expected, dev)
    notes: list[str] = []
    with threads_set(threads) as in_force, workload.mode(twin):
        if calibration == "cached":
            calibration = calibrate.load(str(dev), in_force)
        total = float(repeat) if repeat is not None else budget_s
        with progress_bar(progress, total, f"timing {analysis.model} on {dev}") as advance:

            def one_pass() -> tuple[float, float, list[float], bool]:
                begin = time.perf_counter()
                plain_s = runner.plain()
                seconds, ops, same = runner.instrumented()
                advance(1.0 if repeat is not None else time.perf_counter() - begin)
                return plain_s, seconds, ops, same

            stop = Stop(repeat, budget_s, MIN_RUNS, MAX_RUNS)
            runs = run_until(one_pass, stop, warmup=warmup)
    warm_diverged = [ops for _, _, ops, same in runs.warmup if not same]
    if warm_diverged:
        notes.append("warm-up: " + _divergence(expected, len(warm_diverged[0])))
    plain = [plain_s for plain_s, _, _, _ in runs.timed]
    kept = [(seconds, ops) for _, seconds, ops, same in runs.timed if same]
    e2e = [seconds for seconds, _ in kept]
    op_times = [ops for _, ops in kept]
    diverged = len(runs.timed) - len(kept)
    ops = runs.timed[-1][2]
    if diverged:
        message = f"{diverged} of {diverged + len(op_times)} timed passes: " + _divergence(expected, len(ops))
        warnings.warn(message, DivergenceWarning, stacklevel=2)
        print(f"netprof: warning: {message}", file=sys.stderr)
        notes.append(message)
    if not op_times:
        raise TimingError(
            _divergence(expected, len(ops)).replace(
                "those passes were dropped from the timing", "no pass could be attributed"
            )
        )
    return attribute(
        analysis.ops,
        op_times,
        e2e,
        plain,
        threads=in_force,
        device=str(dev),
        warmup=warmup,
        diverged_runs=diverged,
        calibration=calibration,
        module_order=[m.path for m in analysis.modules],
        warnings=notes,
    )
