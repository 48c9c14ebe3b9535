"""The rows every report shows, computed once; renderers only format them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from netprof.analysis import Analysis, ModuleSummary, Totals


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    kind: str
    calls: int
    params: int
    totals: Totals


def shown_modules(analysis: Analysis, depth: int) -> list[ModuleSummary]:
    """Modules down to ``depth`` levels below the root that ran or hold parameters."""

    def level(summary: ModuleSummary) -> int:
        return summary.path.count(".") + 1 if summary.path else 0

    return [s for s in analysis.modules if level(s) <= depth and (s.calls or s.params)]


def module_rows(analysis: Analysis, depth: int) -> list[Row]:
    return [
        Row(summary.path or "(model)", summary.type, summary.calls, summary.params, summary.totals)
        for summary in shown_modules(analysis, depth)
    ]


def category_rows(analysis: Analysis) -> list[Row]:
    return [Row(name, "", totals.ops, 0, totals) for name, totals in analysis.categories.items()]


def input_description(analysis: Analysis) -> str:
    return ", ".join(
        f"{'x'.join(map(str, meta.shape))} {str(meta.dtype).removeprefix('torch.')}"
        for meta in analysis.inputs
    )


def markdown_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped (once), newlines folded."""
    return " ".join(re.sub(r"(?<!\\)\|", r"\\|", text).split())


def markdown_table(
    header: Sequence[str], body: Sequence[Sequence[str]], align: Sequence[str] | None = None
) -> list[str]:
    """A GitHub-flavoured Markdown table, one line per row; the first column left-aligned, the rest right
    unless ``align`` says otherwise. Every cell is escaped (``markdown_cell``)."""
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |" for cells in [header, align, *body]
    ]
