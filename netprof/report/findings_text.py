"""``netprof check --format table``: totals and the findings of each model in rich: one line per
rule, then one entry per group of findings sharing a rule and a kind of fix (``findings_groups``),
worst first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from netprof import units
from netprof.report import findings_groups as fg
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


_WIDE = 120  # columns from which groups fit a table; narrower, each group is a paragraph
TEXT_MODULES = 6  # modules a group names; --format json lists every finding


def _summary_lines(groups: list[fg.Group]) -> list[str]:
    """One line per rule: how many findings, their memory access (and predicted time), the worst."""
    lines = []
    for s in fg.summarize(groups):
        parts = [fg.plural(s.count, "finding") + (f" in {s.groups} groups" if s.groups > 1 else "")]
        parts.append(f"{fg.cost_text(s.cost_bytes, s.cost_share)} of memory access")
        if s.predicted_s is not None:
            parts.append(f"their ops predicted at {units.seconds(s.predicted_s)}")
        lines.append(
            f"[{_STYLE[s.severity]}]{s.severity.value:<7}[/] [bold]{escape(s.rule)}[/bold]  "
            f"{escape(', '.join(parts))}; worst {escape(fg.module_name(s.worst))}"
            f" ({units.nbytes(s.worst.cost_bytes)})"
        )
    return lines


def _modules_text(group: fg.Group) -> str:
    named, more = fg.names(group.findings, TEXT_MODULES)
    text = ", ".join(named) + (f" and {more} more (--format json lists each)" if more else "")
    where = [", ".join(group.module_types)] if group.module_types else []
    if group.locations:
        where.append(", ".join(group.locations[:2]) + (" ..." if len(group.locations) > 2 else ""))
    return escape(text) + (f"\n[dim]{escape(' at '.join(where))}[/dim]" if where else "")


def _detail(group: fg.Group) -> list[str]:
    worst = group.worst
    lead = f"{fg.module_name(worst)}: " if len(group.findings) > 1 else ""
    lines = [escape(lead + worst.message)]
    if worst.fix:
        lines.append(f"[bold]fix:[/bold] {escape(worst.fix)}")
    lines.append(f"[dim]docs: netprof explain {escape(worst.rule)}[/dim]")
    return lines


def _cost(group: fg.Group) -> str:
    text = fg.cost_text(group.cost_bytes, group.cost_share)
    return text + (f", {units.seconds(group.predicted_s)} predicted" if group.predicted_s is not None else "")


def _groups_list(groups: list[fg.Group], console: Console) -> None:
    """One paragraph per group: on a narrow terminal a table would fold every cell."""
    for rank, group in enumerate(groups, 1):
        console.print(
            f"{rank:>3}. [{_STYLE[group.severity]}]{group.severity.value}[/] [bold]{group.rule}[/bold] "
            f"x{len(group.findings)}  cost {_cost(group)}"
        )
        for line in [_modules_text(group), *_detail(group)]:
            console.print(Padding(line, (0, 0, 0, 5), expand=False))


def _groups_table(groups: list[fg.Group]) -> Table:
    table = Table(show_edge=False, pad_edge=False, show_lines=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("modules", overflow="fold", min_width=10, max_width=40)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("the worst one, and its fix", overflow="fold", ratio=1)
    for rank, group in enumerate(groups, 1):
        table.add_row(
            str(rank),
            f"[{_STYLE[group.severity]}]{group.severity.value}[/]",
            group.rule,
            str(len(group.findings)),
            _modules_text(group),
            _cost(group),
            "\n".join(_detail(group)),
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


def render(
    models: list[CheckedModel],
    console: Console,
    fail_on: Severity,
    depth: int | None = None,
    *,
    predicted: Sequence[Mapping[int, float] | None] | None = None,
) -> None:
    """``predicted``: each model's op id -> predicted seconds on a device profile (or None)."""
    predicted = list(predicted) if predicted is not None else [None] * len(models)
    for checked, op_predicted_s in zip(models, predicted):
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
            groups = fg.group_findings(checked.findings, op_predicted_s)
            console.print(
                f"[bold]Findings[/bold] ({rows.severity_counts(checked.findings)}) in"
                f" {fg.plural(len(groups), 'group')} of one rule and one kind of fix, worst first"
            )
            for line in _summary_lines(groups):
                console.print(Padding(line, (0, 0, 0, 2), expand=False))
            console.print()
            if console.width >= _WIDE:
                console.print(_groups_table(groups))
            else:
                _groups_list(groups, console)
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
