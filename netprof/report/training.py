"""A training step's phases (forward, backward, optimizer) and a run's memory: the peak and who holds it.

One set of rows feeds the terminal and the markdown tables.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from netprof import units
from netprof.analysis import Analysis
from netprof.analysis.memory import KINDS, MemoryProfile
from netprof.module_paths import ancestors
from netprof.report.tables import markdown_table

LABELS = {
    "parameters": "parameters",
    "buffers": "buffers",
    "gradients": "gradients",
    "optimizer_state": "optimizer state",
    "inputs": "inputs",
    "activations": "activations (forward)",
    "temporaries": "temporaries (backward, optimizer)",
}


def phase_rows(analysis: Analysis) -> list[list[str]]:
    totals = analysis.phase_totals()
    whole = analysis.totals
    return [
        [
            name,
            f"{phase.ops:,}",
            units.count(phase.mult_adds),
            units.share(phase.mult_adds, whole.mult_adds),
            units.count(phase.flops),
            units.nbytes(phase.mem_access_bytes),
            units.share(phase.mem_access_bytes, whole.mem_access_bytes),
        ]
        for name, phase in totals.items()
    ]


PHASE_HEADER = ["phase", "ops", "mult_adds", "%", "flops", "mem_access", "%"]


def peak_line(analysis: Analysis, memory: MemoryProfile) -> str:
    where = "before the first op"
    if memory.peak_op >= 0:
        op = analysis.ops[memory.peak_op]
        module = f"module {op.module}" if op.module else "the root module"
        where = f"at op {op.id} ({op.op}, {module}, {analysis.phase_of(op.id)})"
    return f"Peak memory {units.nbytes(memory.peak_bytes)} {where}."


def kind_rows(memory: MemoryProfile) -> list[list[str]]:
    return [
        [
            LABELS[kind],
            units.nbytes(memory.at_peak[kind]),
            units.share(memory.at_peak[kind], memory.peak_bytes),
        ]
        for kind in KINDS
        if memory.at_peak[kind]
    ]


def module_rows(memory: MemoryProfile, depth: int, top: int = 8) -> list[list[str]]:
    """Activation bytes held at the peak per module subtree, at ``depth``, largest first."""
    held: dict[str, int] = {}
    for path, nbytes in memory.activations_by_module.items():
        shown = [p for p in ancestors(path) if p == "" or p.count(".") + 1 <= depth][-1]
        held[shown] = held.get(shown, 0) + nbytes
    ranked = sorted(held.items(), key=lambda item: -item[1])[:top]
    total = memory.at_peak["activations"]
    return [[path or "(model)", units.nbytes(nbytes), units.share(nbytes, total)] for path, nbytes in ranked]


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for index, column in enumerate(header):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=index > 0)
    for row in rows:
        table.add_row(*row)
    return table


def render(analysis: Analysis, console: Console, depth: int = 1) -> None:
    if analysis.phases:
        console.print()
        console.print(_table("Training step by phase", PHASE_HEADER, phase_rows(analysis)))
    memory = analysis.memory
    if memory is not None:
        console.print()
        console.print(f"[bold]{peak_line(analysis, memory)}[/bold]")
        console.print(_table("At the peak, by kind", ["kind", "bytes", "%"], kind_rows(memory)))
        rows = module_rows(memory, depth)
        if rows:
            console.print(_table("Activations held at the peak, by module", ["module", "bytes", "%"], rows))


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [*markdown_table(header, rows), ""]


def markdown(analysis: Analysis, depth: int = 1) -> str:
    lines: list[str] = []
    if analysis.phases:
        lines += ["#### Training step by phase", "", *_markdown_table(PHASE_HEADER, phase_rows(analysis))]
    memory = analysis.memory
    if memory is not None:
        lines += ["#### Memory", "", peak_line(analysis, memory), ""]
        lines += _markdown_table(["kind at the peak", "bytes", "%"], kind_rows(memory))
        rows = module_rows(memory, depth)
        if rows:
            lines += _markdown_table(["activations held at the peak, by module", "bytes", "%"], rows)
    return "\n".join(lines)
