"""A detector's stages in every format: one row per stage, with each stage's share of the whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof.detection import Stage
from netprof.report.html import StaticTable
from netprof.report.tables import markdown_table
from netprof.units import count, nbytes, seconds, share

_HEADER = ("stage", "mult_adds", "%", "mem_access", "params", "ops", "time", "%", "predicted", "%", "modules")
_NOTE = "time: the sum of the stage's measured ops; predicted: of its ops' predicted seconds"


def static_table(stages: Sequence[Stage]) -> StaticTable:
    """The stages for the HTML page."""
    return StaticTable("Detector stages", _HEADER, _rows(stages), (_NOTE,))


def _rows(stages: Sequence[Stage]) -> list[list[str]]:
    mult_adds = sum(stage.totals.mult_adds for stage in stages)
    measured = sum(stage.time_s or 0.0 for stage in stages)
    predicted = sum(stage.predicted_s or 0.0 for stage in stages)
    return [
        [
            stage.name,
            count(stage.totals.mult_adds),
            share(stage.totals.mult_adds, mult_adds),
            nbytes(stage.totals.mem_access_bytes),
            count(stage.params),
            str(stage.totals.ops),
            seconds(stage.time_s),
            share(stage.time_s, measured) if stage.time_s is not None else "-",
            seconds(stage.predicted_s),
            share(stage.predicted_s, predicted) if stage.predicted_s is not None else "-",
            ", ".join(stage.modules),
        ]
        for stage in stages
    ]


def render(stages: Sequence[Stage], console: Console) -> None:
    """The stages table in 80 columns: the op counts (and, beside both times, the memory access and
    params) are left to JSON, Markdown and HTML, the measured and predicted times shown where there are
    any, and the modules each stage covers go below it, where a long list has room."""
    hidden = {"ops", "modules"}
    if all(stage.time_s is None for stage in stages):
        hidden.add("time")
    if all(stage.predicted_s is None for stage in stages):
        hidden.add("predicted")
    if not hidden & {"time", "predicted"}:  # both times: the memory access and params go to the other formats
        hidden |= {"mem_access", "params"}
    # a share column follows the column it is a share of, and goes with it
    shown = [
        i
        for i, column in enumerate(_HEADER)
        if column not in hidden and not (column == "%" and _HEADER[i - 1] in hidden)
    ]
    table = Table(title="Detector stages", title_justify="left")
    for i in shown:
        table.add_column(_HEADER[i], justify="left" if i == 0 else "right", no_wrap=True)
    for row in _rows(stages):
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    if not hidden >= {"time", "predicted"}:
        console.print(_NOTE, highlight=False)
    for stage in stages:
        console.print(f"  {stage.name}: {', '.join(stage.modules)}", highlight=False)


def markdown(stages: Sequence[Stage]) -> str:
    align = ["---"] + ["---:"] * (len(_HEADER) - 2) + ["---"]
    return "\n### Detector stages\n\n" + "\n".join(markdown_table(_HEADER, _rows(stages), align)) + "\n"


def to_dict(stages: Sequence[Stage]) -> list[dict[str, Any]]:
    return [
        {
            "name": stage.name,
            "modules": list(stage.modules),
            "mult_adds": stage.totals.mult_adds,
            "flops": stage.totals.flops,
            "mem_access_bytes": stage.totals.mem_access_bytes,
            "params": stage.params,
            "ops": stage.totals.ops,
            "time_s": stage.time_s,
            "predicted_s": stage.predicted_s,
        }
        for stage in stages
    ]
