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

    @property
    def precision(self) -> str:
        """The precision the kernel computed in where the runtime names it in its implementation
        (OpenVINO's ``brgconv_avx512_amx_1x1_bf16``, ``jit_avx512_f32``), else ``""``."""
        last = self.provider.rsplit("_", 1)[-1]
        return last if last in _PRECISIONS else ""


_PRECISIONS = frozenset({"f32", "bf16", "f16", "i8", "u8", "i32"})


def timed(fn) -> float:
    """Wall seconds of one call."""
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin
