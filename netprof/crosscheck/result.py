"""What a crosscheck returns: one row per op family, and the totals of both counters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CrosscheckRow:
    """One op family as each counter saw it.

    Attributes:
        family: one of ``FAMILIES``.
        netprof_ops: the ATen overloads netprof priced in this family, largest first.
        fvcore_ops: fvcore's names for the same ops: its counted op names (``conv``,
            ``linear``...) and the ``aten::`` names it reported as unsupported.
        netprof_mult_adds: netprof's ``mult_adds`` for these ops.
        netprof_flops: netprof's ``flops`` for them, where normalization and the
            like are counted.
        fvcore_count: fvcore's count (one per multiply-add, or its per-element estimate).
        difference: ``netprof_mult_adds - fvcore_count``.
        reason: why the two differ, or why they agree, with the measured numbers.
        modules: where a difference sits, as ``(module, netprof, fvcore)``, largest
            first, for conv and matmul rows only (the others differ by design).
    """

    family: str
    netprof_ops: tuple[str, ...]
    fvcore_ops: tuple[str, ...]
    netprof_mult_adds: int
    netprof_flops: int
    fvcore_count: int
    difference: int
    reason: str
    modules: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class Crosscheck:
    """netprof against fvcore on one model.

    ``fvcore_total`` is ``FlopCountAnalysis.total()``; ``fvcore_mult_adds`` is its
    count over ``MULT_ADD_FAMILIES`` only, the figure comparable with
    ``netprof_total`` (``analysis.totals.mult_adds``). When fvcore could not run,
    ``ok`` is False, both fvcore figures are None, there are no rows, and the
    notes say why. ``unsupported`` is fvcore's ``unsupported_ops()`` and
    ``uncalled_modules`` its ``uncalled_modules()``. ``log_records``,
    ``tracer_warnings`` and ``other_warnings`` count what fvcore and the jit
    tracer would have printed.
    """

    model: str
    ok: bool
    netprof_total: int
    fvcore_total: int | None
    fvcore_mult_adds: int | None
    rows: tuple[CrosscheckRow, ...] = ()
    unsupported: tuple[tuple[str, int], ...] = ()
    uncalled_modules: tuple[str, ...] = ()
    log_records: int = 0
    tracer_warnings: int = 0
    other_warnings: int = 0
    fvcore_version: str | None = None
    notes: tuple[str, ...] = field(default=())

    def row(self, family: str) -> CrosscheckRow:
        for row in self.rows:
            if row.family == family:
                return row
        raise KeyError(family)

    @property
    def difference(self) -> int | None:
        """netprof's mult_adds minus fvcore's total."""
        return None if self.fvcore_total is None else self.netprof_total - self.fvcore_total


def relative_difference(netprof: int, fvcore: int | None) -> float | None:
    """``(netprof - fvcore) / fvcore``; None when there is nothing to divide by."""
    if fvcore is None or fvcore == 0:
        return None
    return (netprof - fvcore) / fvcore
