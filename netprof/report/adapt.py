"""The reports of ``netprof adapt``: the JSON document (``report.json``), the terminal table and Markdown.

Renderers only format: every number comes from the ``AdaptReport``, which ``netprof.adapt`` builds above
the pipeline and hands down (its type is imported for annotations only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from netprof import units
from netprof.records import pick
from netprof.report.tables import markdown_table

if TYPE_CHECKING:  # built above the pipeline, by netprof.adapt; this only reads it
    from netprof.adapt.document import AdaptReport, State

SCHEMA = "netprof.adapt/1"


def _state(state: State) -> dict[str, Any]:
    document = pick(state, "latency_predicted_s", "latency_measured_s", "mult_adds", "params")
    document["measured"] = None if state.measured is None else state.measured.to_dict(raw=False)
    return document


def to_dict(report: AdaptReport) -> dict[str, Any]:
    """The ``netprof.adapt/1`` document: the one place its layout is decided."""
    return {
        "schema": SCHEMA,
        "spec": report.spec,
        "budget": {
            **pick(report.budget, "text", "fraction", "seconds"),
            "target_predicted_s": report.target_s,
        },
        "step_s": report.step_s,
        "profile": report.profile,
        "runtime": report.runtime,
        "base": _state(report.base),
        "final": _state(report.final),
        "reached": report.reached,
        "predicted_ratio": report.predicted_ratio,
        "measured_ratio": report.measured_ratio,
        "measured_meets_budget": report.measured_meets_budget,
        "iterations": [
            {
                **pick(step, "index", "layer", "removed", "channels_before", "channels_after"),
                **pick(step, "predicted_s", "saved_s", "norm_lost", "mult_adds", "params", "probes"),
            }
            for step in report.iterations
        ],
        "layers": [pick(layer, "path", "channels_before", "channels_after") for layer in report.layers],
        "probes": report.probes,
        "search_s": report.seconds,
        "warnings": list(report.warnings),
        "note": report.note,
    }


def to_json(report: AdaptReport) -> str:
    return json.dumps(to_dict(report), indent=1) + "\n"


def _measured(state: State) -> str:
    measured = state.measured
    if measured is None:
        return "-"
    return f"{units.seconds(measured.median)} ± {units.seconds(measured.iqr)}"


def _summary_rows(report: AdaptReport) -> list[list[str]]:
    base, final = report.base, report.final
    measured = "-" if report.measured_ratio is None else f"{report.measured_ratio:.2f}x"
    return [
        ["predicted latency", units.seconds(base.latency_predicted_s), units.seconds(final.latency_predicted_s),
         f"{report.predicted_ratio:.2f}x"],
        ["measured latency (median ± IQR)", _measured(base), _measured(final), measured],
        ["mult_adds", units.count(base.mult_adds), units.count(final.mult_adds),
         f"{final.mult_adds / base.mult_adds:.2f}x"],
        ["params", units.count(base.params), units.count(final.params), f"{final.params / base.params:.2f}x"],
    ]  # fmt: skip


def _layer_rows(report: AdaptReport) -> list[list[str]]:
    return [
        [layer.path, str(layer.channels_before), str(layer.channels_after),
         f"-{100 * (1 - layer.channels_after / layer.channels_before):.0f}%"]
        for layer in report.changed
    ]  # fmt: skip


def _headline(report: AdaptReport) -> str:
    return (
        f"{report.spec}: budget {report.budget.text} ({units.seconds(report.target_s)} predicted), "
        f"{len(report.iterations)} iterations, {report.probes} proposals priced in {report.seconds:.0f} s "
        f"on {report.profile} ({report.runtime})"
    )


def table(report: AdaptReport) -> Callable[[Console], None]:
    def draw(console: Console) -> None:
        console.print(_headline(report), markup=False, highlight=False)
        summary = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in ("", "base", "adapted", "ratio"):
            summary.add_column(name, justify="left" if not name else "right")
        for row in _summary_rows(report):
            summary.add_row(*row)
        console.print(summary)
        layers = Table(title="Layers changed", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                       pad_edge=False)  # fmt: skip
        for name in ("layer", "filters before", "after", "change"):
            layers.add_column(name, justify="left" if name == "layer" else "right")
        for row in _layer_rows(report):
            layers.add_row(*row)
        console.print(layers)
        for warning in report.warnings:
            console.print(f"[bold red]warning:[/bold red] {warning}", highlight=False)
        console.print(f"[yellow]{report.note}[/yellow]", highlight=False)

    return draw


def to_markdown(report: AdaptReport) -> str:
    lines = [f"# netprof adapt: {report.spec}", "", _headline(report), ""]
    lines += markdown_table(["", "base", "adapted", "ratio"], _summary_rows(report))
    lines += ["", "## Layers changed", ""]
    lines += markdown_table(["layer", "filters before", "after", "change"], _layer_rows(report))
    lines += ["", *(f"**Warning:** {warning}" for warning in report.warnings)]
    lines += [f"_{report.note}_", ""]
    return "\n".join(lines)
