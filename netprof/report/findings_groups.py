"""Findings grouped for a person: one summary per rule, one group per rule and kind of fix.

A model made of repeated blocks repeats its findings: ShuffleNet V1 has 31 G2 findings on the same
kind of grouped 1x1 conv, each with the same fix sentence but its own channel counts. The table,
the pull-request comment and the GitHub annotations show them as one group (listing its modules);
JSON and SARIF stay one entry per finding.

Two findings share a group when they have the same rule, the same severity and the same fix once
its numbers are blanked out (``fix_kind``): "use groups=1 for this 1x1 conv: a dense 60->80 conv"
and "... a dense 120->160 conv" are one kind, a 1x1 and a 3x3 conv are not (kernel sizes are kept).

Paths are shown as a reader can use them anywhere (``netprof.source_paths.display_path``): inside
the repository relative to its root, from an installed package as ``package/module.py``, never as
this machine's absolute path when either applies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netprof import units
from netprof.rules.base import Finding, Severity, SourceLocation
from netprof.source_paths import display_path

# A size with its unit, a kernel size (kept), or a bare number.
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*[KMGT]i?B\b|\b\d+(?:x\d+)+\b|\d+(?:\.\d+)?")


# --- paths ---------------------------------------------------------------------------------------


def location_text(location: SourceLocation | None) -> str:
    """``path:line`` as ``display_path`` gives the path; "" without a location."""
    return "" if location is None else f"{display_path(location.path)}:{location.line}"


# --- groups --------------------------------------------------------------------------------------


def fix_kind(fix: str) -> str:
    """The fix with its numbers (sizes, channel counts, ratios) blanked out, kernel sizes kept."""
    return _NUMBER.sub(lambda m: m.group() if "x" in m.group() else "#", " ".join(fix.split()))


def finding_predicted_s(finding: Finding, op_predicted_s: Mapping[int, float] | None) -> float | None:
    """The predicted seconds of the finding's ops on a device profile: its own evidence (G3, G4), else
    the prediction of the op it names (a conv finding's ``op_id``); None without a prediction."""
    value = finding.evidence.get("predicted_s")
    if isinstance(value, (int, float)):
        return float(value)
    op_id = finding.evidence.get("op_id")
    if op_predicted_s is not None and isinstance(op_id, int) and op_id in op_predicted_s:
        return op_predicted_s[op_id]
    return None


def _sum_predicted(findings: Iterable[Finding], op_predicted_s: Mapping[int, float] | None) -> float | None:
    values = [v for v in (finding_predicted_s(f, op_predicted_s) for f in findings) if v is not None]
    return math.fsum(values) if values else None


@dataclass(frozen=True)
class Group:
    """Findings of one rule and one kind of fix, worst (most memory access) first."""

    rule: str
    severity: Severity
    findings: tuple[Finding, ...]
    predicted_s: float | None = None

    @property
    def worst(self) -> Finding:
        return self.findings[0]

    @property
    def cost_bytes(self) -> int:
        return sum(f.cost_bytes for f in self.findings)

    @property
    def cost_share(self) -> float:
        return math.fsum(f.cost_share for f in self.findings)

    @property
    def module_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.module_type for f in self.findings if f.module_type))

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t in (location_text(f.location) for f in self.findings) if t))


@dataclass(frozen=True)
class RuleSummary:
    """Every finding of one rule in one model: how many, what they cost, the worst one."""

    rule: str
    severity: Severity  # the highest
    count: int
    groups: int
    cost_bytes: int
    cost_share: float
    predicted_s: float | None
    worst: Finding


def natural_key(path: str) -> tuple:
    """Module paths in reading order: ``stage2.9`` before ``stage2.10``."""
    return tuple(int(chunk) if i % 2 else chunk for i, chunk in enumerate(re.split(r"(\d+)", path)))


def _ranked(items: Iterable, severity, cost) -> list:
    return sorted(items, key=lambda item: (-severity(item).rank, -cost(item)))


def group_findings(
    findings: Iterable[Finding], op_predicted_s: Mapping[int, float] | None = None
) -> list[Group]:
    """Groups by rule, severity and ``fix_kind``: the most severe first, then the costliest."""
    grouped: dict[tuple[str, Severity, str], list[Finding]] = {}
    for f in findings:
        grouped.setdefault((f.rule, f.severity, fix_kind(f.fix)), []).append(f)
    groups = [
        Group(
            rule,
            severity,
            tuple(sorted(items, key=lambda f: (-f.cost_bytes, natural_key(f.module)))),
            _sum_predicted(items, op_predicted_s),
        )
        for (rule, severity, _), items in grouped.items()
    ]
    return _ranked(groups, lambda g: g.severity, lambda g: g.cost_bytes)


def summarize(groups: Sequence[Group]) -> list[RuleSummary]:
    """One summary per rule, in the order of its first group."""
    by_rule: dict[str, list[Group]] = {}
    for group in groups:
        by_rule.setdefault(group.rule, []).append(group)
    summaries = []
    for rule, parts in by_rule.items():
        findings = [f for g in parts for f in g.findings]
        predicted = [g.predicted_s for g in parts if g.predicted_s is not None]
        summaries.append(
            RuleSummary(
                rule=rule,
                severity=max((g.severity for g in parts), key=lambda s: s.rank),
                count=len(findings),
                groups=len(parts),
                cost_bytes=sum(f.cost_bytes for f in findings),
                cost_share=math.fsum(f.cost_share for f in findings),
                predicted_s=math.fsum(predicted) if predicted else None,
                worst=max(findings, key=lambda f: (f.cost_bytes, f.severity.rank)),
            )
        )
    return summaries


# --- text shared by the renderers --------------------------------------------------------------------


def module_name(finding: Finding) -> str:
    return finding.module or "(model)"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cost_text(cost_bytes: int, cost_share: float) -> str:
    return f"{units.nbytes(cost_bytes)} ({100 * cost_share:.1f}%)"


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value)) if abs(value) < 10_000 else units.count(value)
    return f"{value:.3g}"


def measured_text(finding: Finding) -> str:
    """The value the rule compared and the threshold it exceeds: ``3 > 1``."""
    return f"{_number(finding.measured)} > {_number(finding.threshold)}"


def names(findings: Sequence[Finding], limit: int, quote: str = "") -> tuple[list[str], int]:
    """The first ``limit`` module names (quoted) and how many more there are."""
    shown = [f"{quote}{module_name(f)}{quote}" for f in findings[:limit]]
    return shown, max(0, len(findings) - limit)
