"""``netprof check --format table``: totals and the findings of each model, worst first, in rich."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from netprof import units
from netprof.report import findings_rows as rows
from netprof.report.tables import input_description, module_rows
from netprof.rules.base import Severity
from netprof.rules.baseline import CheckedModel

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _totals_line(checked: CheckedModel) -> str:
    now, change = rows.totals(checked), rows.deltas(checked)
    parts = []
    for key, label, _ in rows.TOTAL_COLUMNS:
        part = f"{label} {now[key]}"
        if change is not None:
            part += f" [dim]({change[key]})[/dim]"
        parts.append(part)
    return "  ".join(parts)


_WIDE = 120  # columns from which findings fit a table; narrower, each finding is a paragraph


def _findings_list(checked: CheckedModel, console: Console) -> None:
    """One paragraph per finding: on a narrow terminal a table would fold every cell."""
    for rank, finding in enumerate(checked.findings, 1):
        where = rows.location_text(finding.location)
        console.print(
            f"{rank:>3}. [{_STYLE[finding.severity]}]{finding.severity.value}[/] [bold]{finding.rule}[/bold] "
            f"{escape(finding.module or '(model)')} [dim]{escape(finding.module_type)}[/dim]  "
            f"cost {rows.cost(finding)}"
        )
        lines = [f"[dim]{escape(where)}[/dim]"] if where else []
        lines.append(escape(finding.message))
        if finding.fix:
            lines.append(f"[bold]fix:[/bold] {escape(finding.fix)}")
        lines.append(f"[dim]docs: netprof explain {escape(finding.rule)}[/dim]")
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 5), expand=False))


def _findings_table(checked: CheckedModel) -> Table:
    table = Table(show_edge=False, pad_edge=False, show_lines=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("module", overflow="fold", min_width=10, max_width=32)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("finding", overflow="fold", ratio=1)
    for rank, finding in enumerate(checked.findings, 1):
        where = rows.location_text(finding.location)
        detail = [escape(finding.message)]
        if finding.fix:
            detail.append(f"[bold]fix:[/bold] {escape(finding.fix)}")
        detail.append(f"[dim]docs: netprof explain {escape(finding.rule)}[/dim]")
        module = f"{escape(finding.module or '(model)')}\n[dim]{escape(finding.module_type)}" + (
            f"\n{escape(where)}[/dim]" if where else "[/dim]"
        )
        table.add_row(
            str(rank),
            f"[{_STYLE[finding.severity]}]{finding.severity.value}[/]",
            finding.rule,
            module,
            rows.cost(finding),
            "\n".join(detail),
        )
    return table


def _module_table(checked: CheckedModel, depth: int) -> Table:
    analysis = checked.analysis
    total = analysis.totals
    table = Table(title=f"By module (depth {depth})", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("module", overflow="fold", min_width=10)
    table.add_column("type", overflow="ellipsis", no_wrap=True, max_width=24)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("mult_adds", justify="right", no_wrap=True)
    table.add_column("mem_access", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    for row in module_rows(analysis, depth):
        path = "" if row.name == "(model)" else row.name
        inside = sum(
            1 for f in checked.findings if f.module == path or f.module.startswith(f"{path}.") or not path
        )
        table.add_row(
            escape(row.name),
            row.kind,
            units.count(row.params),
            units.count(row.totals.mult_adds),
            units.nbytes(row.totals.mem_access_bytes),
            units.share(row.totals.mem_access_bytes, total.mem_access_bytes),
            str(inside or ""),
        )
    return table


def render(models: list[CheckedModel], console: Console, fail_on: Severity, depth: int | None = None) -> None:
    for checked in models:
        analysis = checked.analysis
        console.print(
            f"[bold]{escape(analysis.model)}[/bold]  input {input_description(analysis)}  capture mode: {analysis.mode}"
        )
        for note in analysis.notes:
            console.print(f"[yellow]note:[/yellow] {escape(note)}")
        if depth is not None:
            console.print(_module_table(checked, depth))
        console.print(
            f"[bold]Total[/bold]  {_totals_line(checked)}"
            + ("  [dim](change against the baseline)[/dim]" if checked.previous is not None else "")
        )
        if checked.findings:
            console.print(f"[bold]Findings[/bold] ({rows.severity_counts(checked.findings)}, worst first)")
            if console.width >= _WIDE:
                console.print(_findings_table(checked))
            else:
                _findings_list(checked, console)
        else:
            console.print(
                "[green]No findings.[/green]" if not checked.baselined else "[green]No new findings.[/green]"
            )
        if checked.baselined or checked.fixed:
            line = f"baseline: {len(checked.baselined)} known finding(s) not shown"
            if checked.fixed:
                fixed = ", ".join(f"{e.rule} {e.module or '(model)'}" for e in checked.fixed)
                line += f"; fixed since: {fixed} (update it with --write-baseline)"
            console.print(f"[dim]{escape(line)}[/dim]")
        console.print()
    console.print(f"[bold]netprof check:[/bold] {rows.verdict(models, fail_on)}")
