"""The reports of ``compare``: latency against mult_adds and memory access for several models, with rank
correlations, as a terminal table, Markdown, JSON and HTML."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from netprof.report import html, pages
from netprof.report.tables import markdown_table
from netprof.result import Result
from netprof.timing.ranking import Comparison, rho_text, to_dict


@dataclass(frozen=True)
class CompareReport:
    results: Sequence[tuple[str, Result]]  # (short name, timed result), in the given order
    comparison: Comparison


def _caption(comparison: Comparison) -> str:
    return (
        f"Spearman rank correlation of latency with mult_adds: {rho_text(comparison.rho_mult_adds)}, "
        f"with MAC (mem_access_bytes): {rho_text(comparison.rho_mem_access)}; "
        + (
            ""
            if comparison.rho_predicted is None
            else f"with the predicted latency: {rho_text(comparison.rho_predicted)}; "
        )
        + f"{comparison.device}, {comparison.threads} thread(s); times are of this machine only"
    )


def _header(comparison: Comparison) -> list[str]:
    predicted = ["predicted ms"] if comparison.rho_predicted is not None else []
    return [
        "model",
        "mult_adds (M)",
        "MAC (MB)",
        "params (M)",
        "latency ms (median)",
        "IQR ms",
        "runs",
        "images/s",
        *predicted,
    ]


def _rows(comparison: Comparison) -> list[list[str]]:
    return [
        [
            p.name,
            f"{p.mult_adds / 1e6:.1f}",
            f"{p.mem_access_bytes / 1e6:.1f}",
            f"{p.params / 1e6:.2f}",
            f"{p.latency.median * 1e3:.2f}",
            f"{p.latency.iqr * 1e3:.2f}",
            str(p.latency.runs),
            f"{p.images_per_s:.1f}",
            *((f"{p.predicted_s * 1e3:.2f}",) if p.predicted_s is not None else ()),
        ]
        for p in comparison.points
    ]


def compare_table(comparison: Comparison) -> Table:
    table = Table(show_edge=False, pad_edge=False, caption=_caption(comparison))
    for column in _header(comparison):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in _rows(comparison):
        table.add_row(*row)
    return table


def table(report: CompareReport) -> Callable[[Console], None]:
    return lambda console: console.print(compare_table(report.comparison))


def to_markdown(report: CompareReport) -> str:
    lines = ["### netprof compare", "", *markdown_table(_header(report.comparison), _rows(report.comparison))]
    return "\n".join([*lines, "", _caption(report.comparison), ""])


def to_json(report: CompareReport) -> str:
    return json.dumps(to_dict(report.comparison), indent=1) + "\n"


def to_html(report: CompareReport) -> str:
    return html.render([pages.model_page(result, name) for name, result in report.results])
