"""Memory over a captured run: live bytes by kind at every op, the peak, and who holds what there.

From ``Capture.allocations`` (``capture(..., memory=True)``): a storage is live from
the op that allocated it to the last op before its last tensor died. What the run
did not label is an activation when the forward made it (MemTracker's ACT) and a
temporary when the backward or the optimizer did (its TEMP).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netprof.capture.ir import Allocation
from netprof.records import pick

KINDS = ("parameters", "buffers", "gradients", "optimizer_state", "inputs", "activations", "temporaries")
LARGEST = 10


@dataclass(frozen=True)
class Held:
    """One storage live at the peak."""

    nbytes: int
    kind: str
    module: str
    created: int  # op id; -1 before the run


@dataclass(frozen=True)
class MemoryProfile:
    peak_bytes: int
    peak_op: int  # the op at which live memory is highest (-1: before any op)
    peak_module: str
    at_peak: dict[str, int]  # bytes by kind, keys KINDS
    timeline: dict[str, tuple[int, ...]]  # bytes by kind live at each op
    activations_by_module: dict[str, int]  # activation bytes at the peak, by the module that allocated them
    largest: tuple[Held, ...]  # the largest storages live at the peak
    allocations: tuple[Allocation, ...] = ()  # every storage's life, for questions about other ops

    def live_at(self, op: int) -> list[Allocation]:
        """The storages live at op ``op``, largest first."""
        ops = len(self.timeline[KINDS[0]])
        return sorted((a for a in self.allocations if _contains(span(a, ops), op)), key=lambda a: -a.nbytes)

    def to_dict(self) -> dict[str, object]:
        return {
            **pick(self, "peak_bytes", "peak_op", "peak_module", "at_peak", "activations_by_module"),
            "largest_at_peak": [vars(held) for held in self.largest],
            "timeline": {kind: list(values) for kind, values in self.timeline.items()},
        }


def kind_of(allocation: Allocation) -> str:
    if allocation.kind:
        return allocation.kind
    return "activations" if allocation.phase == "forward" else "temporaries"


def span(allocation: Allocation, ops: int) -> tuple[int, int]:
    """Ops ``[first, end)`` of a run of ``ops`` ops during which the storage is live."""
    first = max(allocation.created, 0)
    end = ops if allocation.freed is None else min(allocation.freed, ops)
    return first, max(end, first + 1)


def _contains(bounds: tuple[int, int], op: int) -> bool:
    return bounds[0] <= op < bounds[1]


def profile(allocations: tuple[Allocation, ...], op_modules: list[str]) -> MemoryProfile:
    """The memory profile of a run of ``len(op_modules)`` ops (``op_modules[i]``: op i's module)."""
    ops = max(len(op_modules), 1)
    deltas = {kind: np.zeros(ops + 1, dtype=np.int64) for kind in KINDS}
    for allocation in allocations:
        first, end = span(allocation, ops)
        delta = deltas[kind_of(allocation)]
        delta[first] += allocation.nbytes
        delta[end] -= allocation.nbytes
    live = {kind: np.cumsum(delta)[:ops] for kind, delta in deltas.items()}
    total = sum(live.values())
    peak_op = int(np.argmax(total))
    held = [a for a in allocations if _contains(span(a, ops), peak_op)]
    by_module: dict[str, int] = {}
    for allocation in held:
        if kind_of(allocation) == "activations":
            by_module[allocation.module] = by_module.get(allocation.module, 0) + allocation.nbytes
    largest = sorted(held, key=lambda a: -a.nbytes)[:LARGEST]
    return MemoryProfile(
        peak_bytes=int(total[peak_op]),
        peak_op=peak_op if op_modules else -1,
        peak_module=op_modules[peak_op] if op_modules else "",
        at_peak={kind: int(live[kind][peak_op]) for kind in KINDS},
        timeline={kind: tuple(int(v) for v in live[kind]) for kind in KINDS},
        activations_by_module=dict(sorted(by_module.items(), key=lambda item: -item[1])),
        largest=tuple(Held(a.nbytes, kind_of(a), a.module, a.created) for a in largest),
        allocations=allocations,
    )
