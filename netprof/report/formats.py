"""Every report netprof writes, looked up by command and format: the one place a format meets its reporter.

A reporter takes its command's document (a ``ModelReport``, ``CheckReport``,
...) and returns the report: text (JSON, Markdown, HTML, SARIF) or, for the
terminal table, a function that draws it on a rich console. A command's
``--format`` choices are the formats listed here for it; a new format, or a new
command, is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console

from netprof.errors import NetprofError
from netprof.report import adapt, bench, check, compare, findings_diff, listings, model, whatif

Output = str | Callable[[Console], None]
Reporter = Callable[[Any], Output]

TABLE = "table"

REPORTERS: Mapping[str, Mapping[str, Reporter]] = {
    "analyze": {
        TABLE: model.table,
        "json": model.to_json,
        "markdown": model.to_markdown,
        "html": model.to_html,
    },
    "predict": {
        TABLE: model.table,
        "json": model.to_json,
        "markdown": model.to_markdown,
        "html": model.to_html,
    },
    "check": {
        TABLE: check.table,
        "markdown": check.to_markdown,
        "json": check.to_json,
        "sarif": check.to_sarif,
        "github": check.to_github,
        "html": check.to_html,
    },
    "compare": {
        TABLE: compare.table,
        "json": compare.to_json,
        "markdown": compare.to_markdown,
        "html": compare.to_html,
    },
    "diff": {
        TABLE: lambda diffs: lambda console: findings_diff.render_table(diffs, console),
        "markdown": findings_diff.render_markdown,
        "json": findings_diff.render_json,
    },
    "calibrate": {TABLE: listings.calibration_table, "json": listings.calibration_json},
    "rules": {TABLE: listings.rules_table, "json": listings.rules_json},
    "bench": {TABLE: bench.table},
    "whatif": {TABLE: whatif.table, "json": whatif.to_json, "markdown": whatif.to_markdown},
    "adapt": {TABLE: adapt.table, "json": adapt.to_json, "markdown": adapt.to_markdown},
}


# The file extension of each text format, for the commands that write their report into a folder.
EXTENSIONS: Mapping[str, str] = {
    "json": "json",
    "markdown": "md",
    "html": "html",
    "sarif": "sarif",
    "github": "txt",
}


class FormatError(NetprofError):
    """A format the command does not write."""


def names(command: str) -> list[str]:
    """The formats ``command`` writes, the terminal table first: its ``--format`` choices."""
    return list(REPORTERS[command])


def render(command: str, format: str, document: Any) -> Output:
    """``document`` as ``command`` writes it in ``format``."""
    reporters = REPORTERS[command]
    if format not in reporters:
        raise FormatError(
            f"netprof {command} cannot write --format {format}: it writes {', '.join(reporters)}"
        )
    return reporters[format](document)
