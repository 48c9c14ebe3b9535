"""netprof's counts against fvcore's on one model, one row per op family."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from torch import nn

from netprof.analysis import Analysis
from netprof.crosscheck.explanations import REASONS, Modules, run_notes
from netprof.crosscheck.families import (
    CONV,
    FAMILIES,
    FUSED,
    FVCORE_FAMILY,
    MATMUL,
    MULT_ADD_FAMILIES,
    OTHER,
    Side,
    base_name,
    fused_roots,
    netprof_family,
    unsupported_family,
)
from netprof.crosscheck.fvcore_run import FvcoreFailed, FvcoreRun, own, run_fvcore
from netprof.crosscheck.result import Crosscheck, CrosscheckRow


def against_fvcore(model: nn.Module, inputs: tuple[Any, ...], analysis: Analysis) -> Crosscheck:
    """Run fvcore on ``model(*inputs)`` and explain, per op family, where it differs from ``analysis``.

    ``inputs`` must be real tensors (fvcore's jit trace executes the model).
    Never raises because of fvcore: a failure is reported in ``notes``.
    """
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    netprof_total = analysis.totals.mult_adds
    try:
        run = run_fvcore(model, inputs)
    except FvcoreFailed as error:
        return Crosscheck(analysis.model, False, netprof_total, None, None, notes=(str(error),))
    return _crosscheck(analysis, run)


def _crosscheck(analysis: Analysis, run: FvcoreRun) -> Crosscheck:
    roots = fused_roots(run)
    sides: dict[str, Side] = defaultdict(Side)
    for node in analysis.ops:
        side = sides[netprof_family(node, roots)]
        side.netprof_ops[node.op] += node.mult_adds
        side.netprof_mult_adds += node.mult_adds
        side.netprof_flops += node.flops
        side.netprof_nodes.append(node)

    fvcore_ops = Counter(run.counts.get("", Counter()))
    for root in roots:
        inside = run.counts.get(root, Counter())
        fvcore_ops.subtract(inside)
        sides[FUSED].fvcore_ops.update(inside)
    for op, count in fvcore_ops.items():
        if count:
            sides[FVCORE_FAMILY.get(op, OTHER)].fvcore_ops[op] += count

    categories = {base_name(node.op): node.category for node in analysis.ops}
    unsupported = run.unsupported.get("", Counter())
    for op, calls in unsupported.items():
        sides[unsupported_family(op, categories)].unsupported[op] += calls

    own_fvcore = own(run.counts)
    rows = []
    for family in FAMILIES:
        side = sides.get(family)
        if side is None or not (side.netprof_ops or side.fvcore_ops or side.unsupported):
            continue
        fvcore_count = sum(side.fvcore_ops.values())
        difference = side.netprof_mult_adds - fvcore_count
        modules: Modules = ()
        if difference and family in (CONV, MATMUL):
            modules = _where(family, side, own_fvcore)
        rows.append(
            CrosscheckRow(
                family=family,
                netprof_ops=tuple(op for op, _ in sorted(side.netprof_ops.items(), key=lambda kv: -kv[1])),
                fvcore_ops=tuple(op for op, _ in side.fvcore_ops.most_common())
                + tuple(sorted(side.unsupported)),
                netprof_mult_adds=side.netprof_mult_adds,
                netprof_flops=side.netprof_flops,
                fvcore_count=fvcore_count,
                difference=difference,
                reason=REASONS[family](side, roots, modules),
                modules=modules,
            )
        )

    return Crosscheck(
        model=analysis.model,
        ok=True,
        netprof_total=analysis.totals.mult_adds,
        fvcore_total=sum(run.counts.get("", Counter()).values()),
        fvcore_mult_adds=sum(row.fvcore_count for row in rows if row.family in MULT_ADD_FAMILIES),
        rows=tuple(rows),
        unsupported=tuple(unsupported.most_common()),
        uncalled_modules=tuple(sorted(run.uncalled)),
        log_records=run.log_records,
        tracer_warnings=run.tracer_warnings,
        other_warnings=run.other_warnings,
        fvcore_version=run.version,
        notes=run_notes(run),
    )


def _where(family: str, side: Side, own_fvcore: dict[str, Counter[str]]) -> Modules:
    """The modules where the two counts of a family differ, largest difference first."""
    netprof: Counter[str] = Counter()
    for node in side.netprof_nodes:
        netprof[node.module] += node.mult_adds
    fvcore: Counter[str] = Counter()
    for module, ops in own_fvcore.items():
        fvcore[module] += sum(v for op, v in ops.items() if FVCORE_FAMILY.get(op) == family)
    differing = [(m, netprof[m], fvcore[m]) for m in set(netprof) | set(fvcore) if netprof[m] != fvcore[m]]
    return tuple(sorted(differing, key=lambda row: -abs(row[1] - row[2]))[:5])
