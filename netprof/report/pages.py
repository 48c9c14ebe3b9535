"""HTML pages for ``analyze``, ``check``, ``predict`` and ``compare``: a result, its findings and its charts,
as one file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netprof.analysis import Analysis
from netprof.report import html, loads, serving, stages, training
from netprof.report.timing import KERNEL_HEADER, kernel_rows, kernel_title
from netprof.result import Result
from netprof.rules import docs


def _training_tables(analysis: Analysis, depth: int = 2) -> list[html.StaticTable]:
    """A training step's phases, and the memory at the peak, as the terminal and Markdown show them."""
    tables = []
    if analysis.phases:
        tables.append(
            html.StaticTable("Training step by phase", training.PHASE_HEADER, training.phase_rows(analysis))
        )
    memory = analysis.memory
    if memory is not None:
        peak = [training.peak_line(analysis, memory)]
        tables.append(
            html.StaticTable(
                "Memory at the peak, by kind", ["kind", "bytes", "%"], training.kind_rows(memory), peak
            )
        )
        held = training.module_rows(memory, depth)
        if held:
            tables.append(
                html.StaticTable("Activations held at the peak, by module", ["module", "bytes", "%"], held)
            )
    return tables


def model_page(result: Result, name: str, findings: Sequence[Any] = ()) -> html.ModelPage:
    """One model's section: its analysis, timing and prediction, prefill and decode, its findings with
    their rules' documents, and its charts (timing: layers, roofline, breakdown; memory: the timeline;
    generation: decode per token) inline as SVG."""
    from netprof.charts import files as charts
    from netprof.charts.generation import generation_figure

    figures = []
    if result.timing is not None:
        figures += [charts.model_figure(result.timing, kind, name) for kind in charts.KINDS]
    if result.analysis.memory is not None:
        figures.append(charts.memory_figure(result.analysis))
    tables = _training_tables(result.analysis)
    if (found := result.stages) is not None:
        figures.append(charts.stages_figure(found, name))
        tables.append(stages.static_table(found))
    if result.loads:
        tables.append(loads.static_table(result.loads))
    if result.timing is not None and result.timing.kernels:
        tables.append(
            html.StaticTable(kernel_title(result.timing), KERNEL_HEADER, kernel_rows(result.timing))
        )
    if result.generation is not None:
        header, rows = serving.rows(result.generation, result.serving)
        lines = [*serving.verdict(result.generation, result.serving), *result.generation.notes]
        tables.append(html.StaticTable("Prefill and decode", header, rows, lines))
        roofline = None if result.serving is None else result.serving.roofline
        figures.append(generation_figure(result.generation, roofline))
    rule_docs = {rule: docs.load(rule) for rule in sorted({finding.rule for finding in findings})}
    return html.ModelPage(
        result.analysis,
        result.timing,
        result.prediction,
        findings,
        [charts.svg_text(figure) for figure in figures],
        rule_docs,
        tables,
    )
