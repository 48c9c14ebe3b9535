"""A ``Crosscheck`` as a rich Table and as plain JSON-ready data; formatting only.

Counts are printed in full with thousands separators: a user checking netprof
against fvcore wants to see that two numbers are equal, not that they round alike.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from netprof.crosscheck import Crosscheck, relative_difference
from netprof.records import pick


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    return "-" if value is None else f"{value:+,}" if value else "0"


def _percent(netprof: int, fvcore: int | None) -> str:
    ratio = relative_difference(netprof, fvcore)
    return "n/a" if ratio is None else f"{ratio:+.2%}"


def summary_line(crosscheck: Crosscheck) -> str:
    """One line: both totals, the comparable subtotal, what fvcore could not count."""
    if not crosscheck.ok:
        return f"fvcore crosscheck of {crosscheck.model} did not run: " + "; ".join(crosscheck.notes)
    text = (
        f"{crosscheck.model}: netprof {_count(crosscheck.netprof_total)} mult_adds, "
        f"fvcore {_count(crosscheck.fvcore_total)} "
        f"({_percent(crosscheck.netprof_total, crosscheck.fvcore_total)}); "
        f"fvcore on conv/matmul/attention only {_count(crosscheck.fvcore_mult_adds)} "
        f"({_percent(crosscheck.netprof_total, crosscheck.fvcore_mult_adds)})"
    )
    if crosscheck.unsupported:
        calls = sum(count for _, count in crosscheck.unsupported)
        text += f"; fvcore unsupported: {len(crosscheck.unsupported)} op(s), {calls} call(s)"
    suppressed = crosscheck.log_records + crosscheck.tracer_warnings + crosscheck.other_warnings
    if suppressed:
        text += f"; {suppressed} fvcore/tracer message(s) suppressed"
    return text


def render_crosscheck(crosscheck: Crosscheck) -> Table:
    """One row per op family; the caption is ``summary_line``, then the notes."""
    version = f" {crosscheck.fvcore_version}" if crosscheck.fvcore_version else ""
    table = Table(
        title=f"netprof vs fvcore{version}: {crosscheck.model}",
        caption="\n".join([summary_line(crosscheck), *(n for n in crosscheck.notes if crosscheck.ok)]),
        caption_justify="left",
    )
    table.add_column("family")
    table.add_column("netprof ops")
    table.add_column("fvcore ops")
    table.add_column("netprof mult_adds", justify="right")
    table.add_column("fvcore count", justify="right")
    table.add_column("difference", justify="right")
    table.add_column("reason", min_width=24)
    for row in crosscheck.rows:
        table.add_row(
            row.family,
            "\n".join(op for op in row.netprof_ops[:4]) + ("\n..." if len(row.netprof_ops) > 4 else ""),
            "\n".join(row.fvcore_ops),
            _count(row.netprof_mult_adds),
            _count(row.fvcore_count),
            _signed(row.difference),
            row.reason,
        )
    if crosscheck.ok:
        table.add_section()
        table.add_row(
            "total",
            "",
            "",
            _count(crosscheck.netprof_total),
            _count(crosscheck.fvcore_total),
            _signed(crosscheck.difference),
            _percent(crosscheck.netprof_total, crosscheck.fvcore_total),
        )
    return table


def crosscheck_to_dict(crosscheck: Crosscheck) -> dict[str, Any]:
    """Plain data for JSON: counts stay ints, absent fvcore figures are None."""
    return {
        **pick(
            crosscheck,
            "model",
            "ok",
            "fvcore_version",
            "netprof_total",
            "fvcore_total",
            "fvcore_mult_adds",
            "difference",
        ),
        "rows": [
            {
                "family": row.family,
                "netprof_ops": list(row.netprof_ops),
                "fvcore_ops": list(row.fvcore_ops),
                **pick(row, "netprof_mult_adds", "netprof_flops", "fvcore_count", "difference", "reason"),
                "modules": [
                    {"module": module, "netprof": netprof, "fvcore": fvcore}
                    for module, netprof, fvcore in row.modules
                ],
            }
            for row in crosscheck.rows
        ],
        "unsupported": dict(crosscheck.unsupported),
        "uncalled_modules": list(crosscheck.uncalled_modules),
        "suppressed": {
            "fvcore_log_records": crosscheck.log_records,
            "tracer_warnings": crosscheck.tracer_warnings,
            "other_warnings": crosscheck.other_warnings,
        },
        "notes": list(crosscheck.notes),
    }
