"""``netprof check --format github``: GitHub Actions workflow commands, one annotation per group.

    ::error file=models/net.py,line=12,title=netprof G1 (Equal channel width)::message

Findings that share a rule and a kind of fix (``findings_groups``: 31 G2 findings on the same kind
of grouped conv) make one annotation, at the worst one's class, naming the modules and giving the
worst one's message and fix; a group of one reads as the finding itself. ``file`` is relative to
the repository root; a class from an installed package is named in the message instead.

Escaped as the runner expects, which some checkers forget: ``%``, ``\\r`` and ``\\n`` in the
message, and also ``:`` and ``,`` in the properties (a ``,`` would end ``title`` early).
Severity maps to the command: error -> error, warning -> warning, info -> notice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netprof.report import findings_groups as fg
from netprof.rules.base import Severity
from netprof.rules.baseline import CheckedModel
from netprof.source_paths import repository_path

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


ANNOTATION_MODULES = 10  # modules one annotation names; --format json lists every finding


def _annotation(model: str, group: fg.Group, titles: Mapping[str, str]) -> str:
    worst = group.worst
    properties = {}
    where = ""
    if worst.location is not None:
        path = repository_path(worst.location.path)
        if path is not None:
            properties["file"] = path
            properties["line"] = str(worst.location.line)
        else:  # an installed package's class: code scanning cannot place it, the reader can
            where = f" at {fg.location_text(worst.location)}"
    title = f"netprof {group.rule}" + (f" ({titles[group.rule]})" if titles.get(group.rule) else "")
    count = len(group.findings)
    if count == 1:
        message = f"{model} {fg.module_name(worst)} ({worst.module_type}){where}: {worst.message}"
    else:
        title += f": {count} findings"
        named, more = fg.names(group.findings, ANNOTATION_MODULES)
        types = f" ({', '.join(group.module_types)})" if group.module_types else ""
        message = (
            f"{model}: {count} findings at {', '.join(named)}{f' and {more} more' if more else ''}{types},"
            f" {fg.cost_text(group.cost_bytes, group.cost_share)} of memory access"
            f"\nWorst, {fg.module_name(worst)}{where}: {worst.message}"
        )
    properties["title"] = title
    if worst.fix:
        message += f"\nFix: {worst.fix}"
    message += f"\nDocs: netprof explain {group.rule}"
    props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items())
    return f"::{COMMAND[group.severity]} {props}::{escape_data(message)}"


def render(
    models: list[CheckedModel],
    titles: Mapping[str, str] | None = None,
    predicted: Sequence[Mapping[int, float] | None] | None = None,
) -> str:
    """One annotation per group of findings sharing a rule and a kind of fix (``findings_groups``)."""
    titles = titles or {}
    predicted = list(predicted) if predicted is not None else [None] * len(models)
    lines = [
        _annotation(checked.analysis.model, group, titles)
        for checked, op_predicted_s in zip(models, predicted)
        for group in fg.group_findings(checked.findings, op_predicted_s)
    ]
    return "".join(f"{line}\n" for line in lines)
