"""``netprof diff`` as a rich table, Markdown or JSON: renderers of ``netprof.diff.ModelDiff``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netprof import units
from netprof.analysis import HEADLINE
from netprof.report.diff import ModelDiff, to_dict
from netprof.report.findings_markdown import DOCS
from netprof.report.findings_rows import delta, signed
from netprof.report.tables import markdown_cell as cell
from netprof.report.tables import markdown_table

_FORMAT = {
    "mult_adds": units.count,
    "flops": units.count,
    "params": units.count,
    "mem_access_bytes": units.nbytes,
}
_LABEL = {"mult_adds": "mult_adds", "flops": "flops", "params": "params", "mem_access_bytes": "mem_access"}
_MODULE_METRICS = ("mult_adds", "params", "mem_access_bytes")


def _total_rows(d: ModelDiff) -> list[list[str]]:
    rows = []
    for k in HEADLINE:
        fmt = _FORMAT[k]
        old, new = (d.old_totals or {}).get(k), (d.new_totals or {}).get(k)
        change = delta(new, old, fmt) if old is not None and new is not None else "-"
        rows.append([_LABEL[k], "-" if old is None else fmt(old), "-" if new is None else fmt(new), change])
    return rows


def _module_row(m) -> list[str]:
    return [
        m.path or "(model)",
        m.type,
        m.status,
        *(signed(m.change(k), _FORMAT[k]) for k in _MODULE_METRICS),
        signed(m.change("findings"), str),
    ]


def _finding_text(f: Mapping[str, Any]) -> str:
    return f"{f['rule']} {f['module'] or '(model)'}: {f['message']}"


def render_table(diffs: list[ModelDiff], console: Console) -> None:
    for d in diffs:
        console.print(f"[bold]{escape(d.name)}[/bold]")
        totals = Table(show_edge=False, pad_edge=False)
        for name in ("", "old", "new", "change"):
            totals.add_column(name, justify="left" if not name else "right", no_wrap=True)
        for row in _total_rows(d):
            totals.add_row(*row)
        console.print(totals)
        if d.modules:
            modules = Table(
                title="Modules that changed", title_justify="left", show_edge=False, pad_edge=False
            )
            modules.add_column("module", overflow="fold")
            modules.add_column("type", no_wrap=True, overflow="ellipsis", max_width=24)
            modules.add_column("", no_wrap=True)
            for k in (*_MODULE_METRICS, "findings"):
                modules.add_column(_LABEL.get(k, k), justify="right", no_wrap=True)
            for m in d.modules:
                modules.add_row(*map(escape, _module_row(m)))
            console.print(modules)
        else:
            console.print("No module changed.")
        if d.has_findings:
            for sign, items in (("+", d.findings_added), ("-", d.findings_resolved)):
                for f in items:
                    style = "red" if sign == "+" else "green"
                    console.print(f"[{style}]{sign} {escape(_finding_text(f))}[/{style}]")
            if not d.findings_added and not d.findings_resolved:
                console.print("Findings unchanged.")
        console.print()


def render_markdown(diffs: list[ModelDiff]) -> str:
    lines = ["### netprof diff", ""]
    for d in diffs:
        lines += [f"#### `{d.name}`", "", *markdown_table(["", "old", "new", "change"], _total_rows(d))]
        lines.append("")
        if d.modules:
            header = ["module", "type", "", *(_LABEL[k] for k in _MODULE_METRICS), "findings"]
            rows = [[f"`{row[0]}`", *row[1:]] for row in map(_module_row, d.modules)]
            lines += markdown_table(header, rows, ["---"] * 3 + ["---:"] * 4)
            lines.append("")
        else:
            lines += ["No module changed.", ""]
        if d.has_findings:
            for title, items in (
                ("New findings", d.findings_added),
                ("Resolved findings", d.findings_resolved),
            ):
                if items:
                    lines += [f"**{title}**", ""]
                    lines += [
                        f"- [{f['rule']}]({DOCS.format(rule=f['rule'])}) `{cell(f['module'] or '(model)')}`: "
                        f"{cell(f['message'])}"
                        for f in items
                    ]
                    lines.append("")
            if not d.findings_added and not d.findings_resolved:
                lines += ["Findings unchanged.", ""]
    return "\n".join(lines)


def render_json(diffs: list[ModelDiff]) -> str:
    return json.dumps(to_dict(diffs), indent=1) + "\n"
