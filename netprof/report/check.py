"""The reports of ``check``: the models' findings as a terminal table, Markdown for a pull request, JSON,
HTML, SARIF and GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from netprof.report import (
    findings_markdown,
    findings_rows,
    findings_text,
    github,
    html,
    json_report,
    pages,
    sarif,
)
from netprof.result import Result
from netprof.rules import all_rules, docs
from netprof.rules.base import Severity
from netprof.rules.baseline import CheckedModel


@dataclass(frozen=True)
class CheckReport:
    """Each model's result and its findings, triaged against the baseline."""

    results: Sequence[Result]
    checked: Sequence[CheckedModel]
    fail_on: Severity
    depth: int | None = None  # also show the module table down to this depth
    baselines: Sequence[Mapping[str, Any] | None] = ()  # per model: what JSON says of the baseline

    @property
    def predicted(self) -> list[dict[int, float] | None]:
        return [result.op_predicted_s for result in self.results]


def table(report: CheckReport) -> Callable[[Console], None]:
    return lambda console: findings_text.render(
        list(report.checked), console, report.fail_on, report.depth, predicted=report.predicted
    )


def to_markdown(report: CheckReport) -> str:
    return findings_markdown.render(
        list(report.checked),
        report.fail_on,
        report.depth,
        titles=findings_rows.rule_titles(all_rules()),
        predicted=report.predicted,
    )


def to_json(report: CheckReport) -> str:
    baselines = list(report.baselines) or [None] * len(report.checked)
    documents = [
        json_report.check_to_dict(checked.analysis, checked.findings, baseline, result.timing)
        for result, checked, baseline in zip(report.results, report.checked, baselines)
    ]
    return json.dumps(documents[0] if len(documents) == 1 else documents, indent=1) + "\n"


def to_html(report: CheckReport) -> str:
    return html.render(
        [
            pages.model_page(result, checked.analysis.model, checked.findings)
            for result, checked in zip(report.results, report.checked)
        ]
    )


def to_sarif(report: CheckReport) -> str:
    return sarif.dumps(list(report.checked), all_rules(), docs.find)


def to_github(report: CheckReport) -> str:
    return github.render(list(report.checked), findings_rows.rule_titles(all_rules()), report.predicted)
