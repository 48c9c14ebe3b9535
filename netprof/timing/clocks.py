"""Where a time comes from: the CPU's monotonic counter, or CUDA events on the GPU.

Both clocks answer the same three questions per forward pass: when did it
start, how long did each op take, and how long did the whole pass take. On the
CPU an op has finished when its call returns, so ``perf_counter_ns`` around the
call is the op's time. On CUDA a call only enqueues work; following triton's
``do_bench`` each op is bracketed by one pair of events recorded on the current
stream, and the times are read after one synchronization at the end of the pass.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import torch

# Written between CUDA passes so that no pass starts with the previous one's data in L2.
_L2_FLUSH_BYTES = 256 * 1024 * 1024


class Clock(Protocol):
    def begin_pass(self) -> None: ...
    def start(self) -> Any: ...
    def stop(self, token: Any) -> None: ...
    def end_pass(self) -> tuple[float, list[float]]:
        """The pass's end-to-end seconds and every op's seconds, in call order."""
        ...


class CpuClock:
    """``time.perf_counter_ns`` around every op and around the whole pass."""

    def __init__(self) -> None:
        self._ops: list[int] = []
        self._begin = 0

    def begin_pass(self) -> None:
        self._ops = []
        self._begin = time.perf_counter_ns()

    def start(self) -> int:
        return time.perf_counter_ns()

    def stop(self, token: int) -> None:
        self._ops.append(time.perf_counter_ns() - token)

    def end_pass(self) -> tuple[float, list[float]]:
        end = time.perf_counter_ns()
        return (end - self._begin) * 1e-9, [t * 1e-9 for t in self._ops]


class CudaClock:
    """One pair of CUDA events per op and one around the pass; one synchronization per pass.

    The pass starts on an idle device (synchronized, L2 flushed), so its
    end-to-end time includes every gap in which the GPU waited for Python to
    launch the next kernel: that is what the overhead line then shows.
    """

    def __init__(self, device: torch.device | str = "cuda", flush_bytes: int = _L2_FLUSH_BYTES) -> None:
        self._device = torch.device(device)
        self._pairs: list[tuple[Any, Any]] = []
        self._begin: Any = None
        self._flush = (
            torch.empty(flush_bytes, dtype=torch.uint8, device=self._device) if flush_bytes else None
        )

    def _event(self) -> Any:
        return torch.cuda.Event(enable_timing=True)

    def begin_pass(self) -> None:
        self._pairs = []
        if self._flush is not None:
            self._flush.zero_()
        torch.cuda.synchronize(self._device)
        self._begin = self._event()
        self._begin.record()

    def start(self) -> Any:
        event = self._event()
        event.record()
        return event

    def stop(self, token: Any) -> None:
        event = self._event()
        event.record()
        self._pairs.append((token, event))

    def end_pass(self) -> tuple[float, list[float]]:
        end = self._event()
        end.record()
        torch.cuda.synchronize(self._device)
        # elapsed_time is in milliseconds.
        return self._begin.elapsed_time(end) * 1e-3, [a.elapsed_time(b) * 1e-3 for a, b in self._pairs]


def clock_for(device: torch.device | str) -> Clock:
    device = torch.device(device)
    if device.type == "cpu":
        return CpuClock()
    if device.type == "cuda":
        return CudaClock(device)
    raise ValueError(f"cannot time on device {str(device)!r}: netprof times on cpu or cuda")
