"""The reports of ``whatif``: each compression variant's counts and latency as ratios to the base model,
and the findings it adds or removes, as a terminal table, Markdown (for a pull request) and JSON.

The document is ``netprof.compression.whatif.WhatIf``, built above this layer: it is named for the type
checker only, as ``report/bench.py`` names its results.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netprof import units
from netprof.report.tables import markdown_table

if TYPE_CHECKING:
    from netprof.compression.whatif import Priced, WhatIf

SCHEMA = "netprof.whatif/1"
# (total, column title, formatter)
_COLUMNS = (
    ("mult_adds", "mult_adds", units.count),
    ("params", "params", units.count),
    ("param_bytes", "param bytes", units.nbytes),
    ("mem_access_bytes", "mem_access", units.nbytes),
    ("predicted_s", "predicted", units.seconds),
    ("measured_s", "measured", units.seconds),
)


def _shown(report: WhatIf) -> list[tuple[str, str, Callable[[float], str]]]:
    """The columns with a value in some row: latency columns only when predicted or measured."""
    rows = [report.base, *report.variants]
    return [
        column
        for column in _COLUMNS
        if column[0] not in ("predicted_s", "measured_s")
        or any(getattr(p, column[0]) is not None for p in rows)
    ]


def _cell(report: WhatIf, priced: Priced, metric: str, fmt: Callable[[float], str]) -> str:
    value = priced.totals[metric] if metric in priced.totals else getattr(priced, metric)
    if value is None:
        return "-"
    if priced is report.base:
        return fmt(value)
    change = report.ratio(priced, metric)
    return f"{fmt(value)} x{change:.2f}" if change is not None else fmt(value)


def _per_rule(sign: str, findings: list[Any]) -> list[str]:
    counts = Counter(f.rule for f in findings)
    return [f"{sign}{count} {rule}" for rule, count in sorted(counts.items())]


def _findings_cell(report: WhatIf, priced: Priced) -> str:
    """The base's count; a variant's findings added (+) and removed (-) per rule (JSON lists each)."""
    if priced is report.base:
        return f"{len(priced.findings)} findings"
    parts = _per_rule("+", report.findings_added(priced)) + _per_rule("-", report.findings_removed(priced))
    return ", ".join(parts) if parts else "unchanged"


def _rows(report: WhatIf) -> tuple[list[str], list[list[str]]]:
    columns = _shown(report)
    header = ["model", *(title for _, title, _ in columns), "findings (vs base)"]
    body = [
        [p.name, *(_cell(report, p, metric, fmt) for metric, _, fmt in columns), _findings_cell(report, p)]
        for p in (report.base, *report.variants)
    ]
    return header, body


def _notes(report: WhatIf) -> list[str]:
    lines = list(report.notes)
    for priced in (report.base, *report.variants):
        lines += [f"{priced.name}: {note}" for note in priced.notes]
    return lines


def _caption(report: WhatIf) -> str:
    return (
        f"{report.model}: each variant built without training; 'xR' is its ratio to the base. "
        "Findings: how many of each rule the variant adds (+) or removes (-); the JSON names each."
    )


def table(report: WhatIf) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        header, body = _rows(report)
        grid = Table(show_edge=False, pad_edge=False, caption=_caption(report))
        for title in header:
            grid.add_column(title, justify="left" if title in ("model", header[-1]) else "right")
        for row in body:
            grid.add_row(*map(escape, row))
        console.print(grid)
        for line in _notes(report):
            console.print(line, markup=False, highlight=False)

    return render


def to_markdown(report: WhatIf) -> str:
    header, body = _rows(report)
    lines = [f"### netprof whatif `{report.model}`", "", *markdown_table(header, body), "", _caption(report)]
    notes = _notes(report)
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join([*lines, ""])


def _finding(finding: Any) -> dict[str, Any]:
    return {
        "key": finding.fingerprint,
        "rule": finding.rule,
        "module": finding.module,
        "severity": str(finding.severity),
        "message": finding.message,
    }


def _entry(report: WhatIf, priced: Priced) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": priced.name,
        "totals": priced.totals,
        "prediction": {"latency_s": priced.predicted_s},
        "measured": {"latency_s": priced.measured_s},
        "notes": list(priced.notes),
    }
    if priced is report.base:
        entry["findings"] = [_finding(f) for f in priced.findings]
        return entry
    metrics = [*priced.totals, "predicted_s", "measured_s"]
    entry |= {
        "move": priced.variant.move,
        "value": priced.variant.value,
        "ratios": {metric: report.ratio(priced, metric) for metric in metrics},
        "findings_added": [_finding(f) for f in report.findings_added(priced)],
        "findings_removed": [_finding(f) for f in report.findings_removed(priced)],
    }
    return entry


def to_dict(report: WhatIf) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "model": report.model,
        "notes": list(report.notes),
        "base": _entry(report, report.base),
        "variants": [_entry(report, priced) for priced in report.variants],
    }


def to_json(report: WhatIf) -> str:
    return json.dumps(to_dict(report), indent=1) + "\n"
