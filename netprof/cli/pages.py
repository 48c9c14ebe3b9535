"""HTML pages for ``analyze``, ``check`` and ``compare``: a result, its findings and its charts, as one file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netprof import pipeline
from netprof.report import html
from netprof.rules import docs


def model_page(result: pipeline.Result, name: str, findings: Sequence[Any] = ()) -> html.ModelPage:
    """One model's section: its analysis, timing and prediction, its findings with their rules' documents,
    and its charts (timing: layers, roofline, breakdown; memory: the timeline) inline as SVG."""
    from netprof.charts import files as charts

    figures = []
    if result.timing is not None:
        figures += [charts.model_figure(result.timing, kind, name) for kind in charts.KINDS]
    if result.analysis.memory is not None:
        figures.append(charts.memory_figure(result.analysis))
    rule_docs = {rule: docs.load(rule) for rule in sorted({finding.rule for finding in findings})}
    return html.ModelPage(
        result.analysis,
        result.timing,
        result.prediction,
        findings,
        [charts.svg_text(figure) for figure in figures],
        rule_docs,
    )
