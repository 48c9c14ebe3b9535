"""The reports of one model (``analyze`` and ``predict``): the terminal table, JSON, Markdown and HTML.

Each format shows every part of the ``Result`` it holds: the counts, a training
step's phases and memory, prefill and decode, the measured times, fvcore's
counts, and the prediction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from netprof.report import (
    html,
    json_report,
    loads,
    markdown,
    pages,
    prediction,
    serving,
    stages,
    text,
    training,
)
from netprof.report import timing as timing_report
from netprof.report.crosscheck import render_crosscheck
from netprof.result import Result


@dataclass(frozen=True)
class ModelReport:
    """One model's result as a command shows it."""

    result: Result
    name: str  # the SPEC as given
    depth: int = 2  # module depth of the tables


def table(report: ModelReport) -> Callable[[Console], None]:
    result, depth = report.result, report.depth

    def draw(console: Console) -> None:
        text.render(result.analysis, console, depth)
        training.render(result.analysis, console, depth)
        if (found := result.stages) is not None:
            console.print()
            stages.render(found, console)
        if result.loads:
            console.print()
            loads.render(result.loads, console)
        if result.generation is not None:
            console.print()
            serving.render(result.generation, console, result.serving)
        if result.timing is not None:
            console.print()
            timing_report.render(result.timing, console, depth)
        if result.crosscheck is not None:
            console.print()
            console.print(render_crosscheck(result.crosscheck))
        if result.prediction is not None:
            console.print()
            if result.timing is None:
                prediction.render(result.prediction, result.analysis, console, depth)
            else:
                prediction.render_versus(result.prediction, result.timing, console)

    return draw


def to_json(report: ModelReport) -> str:
    result = report.result
    document = json_report.to_dict(result.analysis, result.timing, result.crosscheck, result.prediction)
    if result.generation is not None:
        document.update(serving.to_dict(result.generation, result.serving))
    if (found := result.stages) is not None:
        document["stages"] = stages.to_dict(found)
    if result.loads:
        document["detections"] = loads.to_dict(result.loads)
    return json.dumps(document, indent=1) + "\n"


def to_markdown(report: ModelReport) -> str:
    result, depth = report.result, report.depth
    document = markdown.render(result.analysis, depth, result.timing)
    document += training.markdown(result.analysis, depth)
    if (found := result.stages) is not None:
        document += stages.markdown(found)
    if result.loads:
        document += loads.markdown(result.loads)
    if result.generation is not None:
        document += "\n" + serving.markdown(result.generation, result.serving)
    if result.crosscheck is not None:
        document += markdown.crosscheck_section(result.crosscheck)
    if result.prediction is not None:
        if result.timing is None:
            document += prediction.markdown(result.prediction, result.analysis, depth)
        else:
            document += prediction.markdown_versus(result.prediction, result.timing)
    return document


def to_html(report: ModelReport) -> str:
    return html.render([pages.model_page(report.result, report.name)])
