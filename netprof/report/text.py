"""The terminal report: rich tables by module and by category, then the totals."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from netprof import units
from netprof.analysis import Analysis
from netprof.costs import CONVENTIONS
from netprof.report.tables import Row, category_rows, input_description, module_rows

_WIDE = 110  # columns from which the module table has room for module types


def _cost_table(
    title: str, first: str, rows: list[Row], analysis: Analysis, with_module_columns: bool, wide: bool = True
) -> Table:
    """Module rows show params and calls; category rows show op counts and flops.

    Counts never wrap or truncate; the name column folds, and module types are
    left out on a terminal narrower than ``_WIDE``.
    """
    total = analysis.totals
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column(first, overflow="fold", min_width=10)
    if with_module_columns:
        if wide:
            table.add_column("type", overflow="ellipsis", no_wrap=True, max_width=24)
        table.add_column("calls", justify="right", no_wrap=True, min_width=5)
        table.add_column("params", justify="right", no_wrap=True, min_width=8)
    else:
        table.add_column("ops", justify="right", no_wrap=True, min_width=4)
    table.add_column("mult_adds", justify="right", no_wrap=True, min_width=9)
    table.add_column("%", justify="right", no_wrap=True, min_width=6)
    if not with_module_columns:
        table.add_column("flops", justify="right", no_wrap=True, min_width=9)
    table.add_column("mem_access", justify="right", no_wrap=True, min_width=10)
    table.add_column("%", justify="right", no_wrap=True, min_width=6)
    for row in rows:
        if with_module_columns:
            cells = [row.name, *([row.kind] if wide else []), str(row.calls), units.count(row.params)]
        else:
            cells = [row.name, str(row.calls)]
        cells += [units.count(row.totals.mult_adds), units.share(row.totals.mult_adds, total.mult_adds)]
        if not with_module_columns:
            cells.append(units.count(row.totals.flops))
        cells += [
            units.nbytes(row.totals.mem_access_bytes),
            units.share(row.totals.mem_access_bytes, total.mem_access_bytes),
        ]
        table.add_row(*cells)
    return table


def render(analysis: Analysis, console: Console, depth: int = 1) -> None:
    totals = analysis.totals
    console.print(
        f"[bold]{analysis.model}[/bold]  input {input_description(analysis)}  capture mode: {analysis.mode}"
    )
    for note in analysis.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print()
    console.print(
        _cost_table(
            f"By module (depth {depth})",
            "module",
            module_rows(analysis, depth),
            analysis,
            True,
            console.width >= _WIDE,
        )
    )
    console.print()
    console.print(_cost_table("By category", "category", category_rows(analysis), analysis, False))
    console.print()
    console.print(
        f"[bold]Total[/bold]  mult_adds {units.count(totals.mult_adds)}  flops {units.count(totals.flops)}  "
        f"params {units.count(analysis.params)}  mem_access {units.nbytes(totals.mem_access_bytes)}  "
        f"ops {totals.ops}"
    )
    if analysis.uncounted:
        listed = ", ".join(f"{op} x{n}" for op, n in analysis.uncounted.items())
        console.print(
            f"[bold red]UNCOUNTED:[/bold red] {totals.uncounted_ops} ops have no formula and add 0 mult_adds/flops "
            f"(their memory access is counted): {listed}"
        )
    else:
        console.print("Every op was counted.")
    console.print(f"[dim]Conventions: {CONVENTIONS}[/dim]")
