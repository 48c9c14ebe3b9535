"""The report as GitHub-flavoured Markdown, for pasting into a pull request."""

from __future__ import annotations

from netprof import units
from netprof.analysis import Analysis
from netprof.costs import CONVENTIONS
from netprof.crosscheck import Crosscheck
from netprof.report.crosscheck import summary_line
from netprof.report.tables import Row, category_rows, input_description, markdown_table, module_rows
from netprof.report.timing import KERNEL_HEADER, kernel_rows, kernel_title
from netprof.timing.attribution import Timing
from netprof.timing.figure2 import FIGURE2
from netprof.units import seconds


def _cost_cells(row: Row, analysis: Analysis) -> list[str]:
    total = analysis.totals
    return [
        units.count(row.totals.mult_adds),
        units.share(row.totals.mult_adds, total.mult_adds),
        units.count(row.totals.flops),
        units.nbytes(row.totals.mem_access_bytes),
        units.share(row.totals.mem_access_bytes, total.mem_access_bytes),
    ]


_COST_HEADER = ["mult_adds", "%", "flops", "mem_access", "%"]


def render(analysis: Analysis, depth: int = 1, timing: Timing | None = None) -> str:
    totals = analysis.totals
    lines = [
        f"### netprof: `{analysis.model}`",
        "",
        f"Input {input_description(analysis)}, capture mode `{analysis.mode}`.",
        "",
        *markdown_table(
            ["mult_adds", "flops", "params", "mem_access", "ops", "uncounted ops"],
            [
                [
                    units.count(totals.mult_adds),
                    units.count(totals.flops),
                    units.count(analysis.params),
                    units.nbytes(totals.mem_access_bytes),
                    str(totals.ops),
                    str(totals.uncounted_ops),
                ]
            ],
        ),
        "",
    ]
    lines += [f"> **Note:** {note}\n" for note in analysis.notes]
    if analysis.uncounted:
        listed = ", ".join(f"`{op}` x{n}" for op, n in analysis.uncounted.items())
        lines += [f"> **Uncounted:** {totals.uncounted_ops} ops have no formula: {listed}", ""]
    lines += [
        f"#### By module (depth {depth})",
        "",
        *markdown_table(
            ["module", "type", "calls", "params", *_COST_HEADER],
            [
                [
                    f"`{row.name}`",
                    row.kind,
                    str(row.calls),
                    units.count(row.params),
                    *_cost_cells(row, analysis),
                ]
                for row in module_rows(analysis, depth)
            ],
        ),
        "",
        "#### By category",
        "",
        *markdown_table(
            ["category", "ops", *_COST_HEADER],
            [[row.name, str(row.calls), *_cost_cells(row, analysis)] for row in category_rows(analysis)],
        ),
        "",
    ]
    if timing is not None:
        lines += _timing_section(timing)
    lines += [f"<sub>{CONVENTIONS}</sub>", ""]
    return "\n".join(lines)


def _timing_section(timing: Timing, top: int = 5) -> list[str]:
    whole = timing.end_to_end.median
    present = {group.name: group for group in timing.figure2}
    return [
        (
            f"#### Measured{'' if timing.runtime == 'eager' else ' in ' + timing.runtime} on {timing.device}, "
            f"{timing.threads} thread(s), {timing.runs} runs"
        ),
        "",
        (
            f"End-to-end {seconds(whole)} (IQR {seconds(timing.end_to_end.iqr)}) = "
            f"ops {seconds(timing.attributed_s)} + overhead between kernels {seconds(timing.overhead_s)}."
        ),
        "",
        *markdown_table(
            [*FIGURE2, "overhead"],
            [
                [
                    *(units.share(present[n].time_s, whole) if n in present else "-" for n in FIGURE2),
                    units.share(timing.overhead_s, whole),
                ]
            ],
        ),
        "",
        "Where time departs most from mult_adds:",
        "",
        *(f"- {d.describe()}" for d in timing.disagreements[:top]),
        "",
        *_kernel_section(timing),
    ]


def _kernel_section(timing: Timing, top: int = 10) -> list[str]:
    """A deployment runtime's slowest kernels, fused ones marked; nothing for eager."""
    if not timing.kernels:
        return []
    return [
        f"{kernel_title(timing)}; slowest {top}:",
        "",
        *markdown_table(
            KERNEL_HEADER, kernel_rows(timing, top), ["---", "---", "---:", "---:", "---", "---"]
        ),
        "",
    ]


def crosscheck_section(crosscheck: Crosscheck) -> str:
    """The fvcore comparison, one row per op family, for appending to the report."""
    header = ["family", "netprof mult_adds", "fvcore", "difference", "why"]
    body = [
        [
            row.family,
            f"{row.netprof_mult_adds:,}",
            f"{row.fvcore_count:,}",
            f"{row.difference:+,}",
            row.reason,
        ]
        for row in crosscheck.rows
    ]
    return (
        "\n".join(
            ["#### netprof vs fvcore", "", summary_line(crosscheck), "", *markdown_table(header, body), ""]
        )
        + "\n"
    )
