"""``netprof check --format github``: GitHub Actions workflow commands, one annotation per finding.

    ::error file=models/net.py,line=12,title=netprof G1 (Equal channel width)::message

Escaped as the runner expects, which some checkers forget: ``%``, ``\\r`` and ``\\n`` in the
message, and also ``:`` and ``,`` in the properties (a ``,`` would end ``title`` early).
Severity maps to the command: error -> error, warning -> warning, info -> notice.
"""

from __future__ import annotations

from collections.abc import Mapping

from netprof.report import findings_rows as rows
from netprof.rules.base import Severity
from netprof.rules.baseline import CheckedModel

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(models: list[CheckedModel], titles: Mapping[str, str] | None = None) -> str:
    titles = titles or {}
    lines = []
    for checked in models:
        model = checked.analysis.model
        for finding in checked.findings:
            properties = {}
            if finding.location is not None:
                properties["file"] = rows.relative_path(finding.location.path)
                properties["line"] = str(finding.location.line)
            title = f"netprof {finding.rule}" + (
                f" ({titles[finding.rule]})" if titles.get(finding.rule) else ""
            )
            properties["title"] = title
            message = f"{model} {finding.module or '(model)'} ({finding.module_type}): {finding.message}"
            if finding.fix:
                message += f"\nFix: {finding.fix}"
            message += f"\nDocs: netprof explain {finding.rule}"
            props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items())
            lines.append(f"::{COMMAND[finding.severity]} {props}::{escape_data(message)}")
    return "".join(f"{line}\n" for line in lines)
