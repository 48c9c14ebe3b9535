"""The terminal report of ``netprof bench guidelines``: one rich table per paper table, then its verdict.

Renderers only format: every number and verdict comes from ``GuidelinesResult``. The result types are
imported for annotations only (``TYPE_CHECKING``): reports sit below the pipeline that ``netprof.bench``
runs, and read what it hands them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from netprof import units

if TYPE_CHECKING:  # the results are built above the pipeline, by netprof.bench; this only reads them
    from netprof.bench.guidelines import ExperimentResult, GuidelinesResult
    from netprof.bench.trend import Verdict


def _num(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, fewer rather than an exponent: 295, 29.9, 2.99 (3); 140, 28, 2.8 (2)."""
    decimals = digits - 1 - (len(str(int(abs(value)))) - 1 if abs(value) >= 1 else 0)
    return f"{value:.{max(decimals, 0)}f}"


def _speed(config) -> str:
    m = config.measured
    flag = " [yellow]![/yellow]" if m.noisy else ""
    return f"{_num(m.median)} ± {_num(m.iqr, 2)}{flag}"


def _relative(config) -> str:
    return f"{100 * config.relative.median:.0f} ± {100 * config.relative.iqr:.0f}%"


def experiment_table(experiment: ExperimentResult) -> Table:
    table = Table(
        title=f"Table {experiment.table} ({experiment.guideline}): {experiment.title} - {experiment.varied}",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )
    # Widths shared by every row of a column (Table 4) go to the column's heading row instead.
    shared = {
        column: {experiment.config(row, column).channels for row in experiment.rows}
        for column in experiment.columns
    }
    with_widths = any(len(widths) > 1 for widths in shared.values())
    table.add_column("config", overflow="fold", min_width=7)
    if with_widths:
        table.add_column("widths", overflow="fold", min_width=6)
    table.add_column("mult_adds", justify="right", no_wrap=True)
    table.add_column("MAC", justify="right", no_wrap=True)
    table.add_column("images/s\nmed ± IQR", justify="right", no_wrap=True)
    table.add_column("vs row 1\npaired", justify="right", no_wrap=True)
    table.add_column("paper\nGPU", justify="right", no_wrap=True)
    table.add_column("paper\nARM", justify="right", no_wrap=True)
    for i, column in enumerate(experiment.columns):
        if i:
            table.add_section()
        heading = f"[bold]{column}[/bold]" + ("" if with_widths else f" [dim]{shared[column].pop()}[/dim]")
        table.add_row(heading)
        for row, label in zip(experiment.rows, experiment.short_rows):
            config = experiment.config(row, column)
            table.add_row(
                label,
                *([config.channels] if with_widths else []),
                units.count(config.mult_adds),
                units.nbytes(config.mem_access_bytes),
                _speed(config),
                _relative(config),
                f"{config.paper_gpu:g}",
                f"{config.paper_arm:g}",
            )
    return table


def _yes(holds: bool) -> str:
    return "yes" if holds else "no"


def _verdict_lines(verdict: Verdict) -> list[str]:
    return [f"  {c.column}: {'holds' if c.holds else 'does not hold'}: {c.reason}" for c in verdict.columns]


def render_experiment(experiment: ExperimentResult, console: Console) -> None:
    console.print(experiment_table(experiment))
    for choice in experiment.choices:
        console.print(f"[dim]choice:[/dim] {choice}", highlight=False)
    runs = ", ".join(
        f"{c} {len(experiment.config(experiment.rows[0], c).measured.runs)}" for c in experiment.columns
    )
    console.print(f"[dim]runs per network (interleaved rounds):[/dim] {runs}", highlight=False)
    spread = ", ".join(f"{c} {s:.1%}" for c, s in zip(experiment.columns, experiment.mult_adds_spread))
    console.print(
        f"[dim]mult_adds spread from the first row:[/dim] {spread}; {experiment.paper_gpu_note}",
        highlight=False,
    )
    verdict = experiment.verdict
    style = "green" if verdict.holds else "red"
    console.print(f"[bold {style}]trend holds here: {verdict.summary}[/bold {style}]", highlight=False)
    console.print(f"[dim]rule:[/dim] {verdict.rule}", highlight=False)
    console.print(
        f"[dim]per column, speeds relative to '{experiment.rule.fast}' in the same round (median ± IQR):[/dim]",
        highlight=False,
    )
    for line in _verdict_lines(verdict):
        console.print(line, highlight=False, markup=False)
    console.print(
        f"[dim]at equal mult_adds (each ratio x the row's mult_adds / '{experiment.rule.fast}''s):[/dim] "
        f"{experiment.adjusted_verdict.summary}",
        highlight=False,
    )
    console.print(
        f"[dim]same rule on the paper's numbers:[/dim] ARM {experiment.paper_arm_verdict.summary}, "
        f"GPU {experiment.paper_gpu_verdict.summary}",
        highlight=False,
    )
    console.print()


def render(result: GuidelinesResult, console: Console) -> None:
    m = result.machine
    console.print(
        f"[bold]ShuffleNet V2 guideline experiments[/bold] on {m.cpu} ({m.cpu_count} CPUs), "
        f"{m.threads} thread(s), batch {result.settings.batch}, torch {m.torch_version}",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print()
    for experiment in result.experiments:
        render_experiment(experiment, console)
    noisy = sum(c.measured.noisy for e in result.experiments for c in e.configs)
    if noisy:
        console.print(
            f"[yellow]warning:[/yellow] {noisy} measurement(s) marked ! have an IQR over 10% of their median"
        )
    verdicts = ", ".join(
        f"Table {e.table} ({e.guideline}) {_yes(e.verdict.holds)} ({_yes(e.adjusted_verdict.holds)} at equal "
        "mult_adds)"
        for e in result.experiments
    )
    console.print(
        f"[bold]trend holds here:[/bold] {verdicts}  (total {result.seconds:.0f} s)", highlight=False
    )


def table(result: GuidelinesResult) -> Callable[[Console], None]:
    return lambda console: render(result, console)
