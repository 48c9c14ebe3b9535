"""The roofline (Williams, Waterman and Patterson, 2009), stated once.

An op of ``flops`` and ``mem_access_bytes`` cannot run faster than its arithmetic at the peak rate
nor faster than its memory traffic at full bandwidth:

    seconds = max(flops / peak_flops, mem_access_bytes / bandwidth)

It is compute-bound when the first term is the larger (a tie counts as compute), memory-bound
otherwise. The two meet at the ridge, ``peak_flops / bandwidth`` FLOP per byte; at arithmetic
intensity ``I`` the attainable rate is ``min(peak_flops, I * bandwidth)``. The timing report prices
ops on a measured roof (``netprof calibrate``), the serving prediction on a stated one
(``--peak-tflops``, ``--bandwidth-gbs``), and both charts draw it: all from this class.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPUTE = "compute"
MEMORY = "memory"


@dataclass(frozen=True, slots=True)
class Roofline:
    """A device as its peak arithmetic rate (FLOP/s) and its memory bandwidth (bytes/s)."""

    peak_flops: float
    bandwidth: float

    @property
    def ridge(self) -> float:
        """The arithmetic intensity (FLOP per byte) above which an op is compute-bound."""
        return self.peak_flops / self.bandwidth

    def attainable(self, intensity: float) -> float:
        """FLOP/s an op of ``intensity`` FLOP per byte can reach at best."""
        return min(self.peak_flops, intensity * self.bandwidth)

    def place(self, flops: float, mem_access_bytes: float) -> tuple[str | None, float]:
        """``(bound, seconds)``: ``"compute"`` or ``"memory"`` and the fastest possible time;
        ``(None, 0.0)`` for an op that does no arithmetic and moves no memory."""
        compute = flops / self.peak_flops
        memory = mem_access_bytes / self.bandwidth
        if compute == 0 and memory == 0:
            return None, 0.0
        return (COMPUTE if compute >= memory else MEMORY), max(compute, memory)

    def describe(self) -> str:
        return f"roofline: {self.peak_flops / 1e12:g} TFLOP/s, {self.bandwidth / 1e9:g} GB/s"
