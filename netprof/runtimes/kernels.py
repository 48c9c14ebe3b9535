"""What every backend reports: its executed kernels, and the one way it times a run."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kernel:
    """One executed kernel of the runtime: its runtime op type, where it ran, and the original ONNX
    nodes it computes."""

    name: str
    op_type: str
    provider: str
    nodes: tuple[str, ...]


def timed(fn) -> float:
    """Wall seconds of one call."""
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin
