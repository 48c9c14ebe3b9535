"""What every findings report shows, computed once: renderers only format it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from netprof import units
from netprof.rules.base import Finding, Severity
from netprof.rules.baseline import CheckedModel

# (key in the totals, label, formatter)
TOTAL_COLUMNS = (
    ("mult_adds", "mult_adds", units.count),
    ("flops", "flops", units.count),
    ("params", "params", units.count),
    ("mem_access_bytes", "mem_access", units.nbytes),
)


def signed(value: int, formatter=units.count) -> str:
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + formatter(abs(value))


def delta(now: int, before: int, formatter=units.count) -> str:
    """``+1.20 M (+3.4%)``; the share is of the previous value."""
    change = now - before
    share = f" ({100 * change / before:+.1f}%)" if before else ""
    return signed(change, formatter) + share


def deltas(checked: CheckedModel) -> dict[str, str] | None:
    """Per total, the change against the baseline's totals; ``None`` without a baseline."""
    if checked.previous is None:
        return None
    now = checked.analysis.headline()
    return {
        key: delta(now[key], checked.previous[key], fmt) if key in checked.previous else "-"
        for key, _, fmt in TOTAL_COLUMNS
    }


def totals(checked: CheckedModel) -> dict[str, str]:
    now = checked.analysis.headline()
    return {key: fmt(now[key]) for key, _, fmt in TOTAL_COLUMNS}


def cost(finding: Finding) -> str:
    return f"{units.nbytes(finding.cost_bytes)} ({100 * finding.cost_share:.1f}%)"


def severity_counts(findings: Iterable[Finding]) -> str:
    """``1 error, 2 warnings`` (severities with none left out; ``no findings`` when empty)."""
    counts = Counter(f.severity for f in findings)
    parts = [
        f"{counts[s]} {s.value}{'' if counts[s] == 1 or s is Severity.INFO else 's'}"
        for s in sorted(counts, key=lambda s: -s.rank)
    ]
    return ", ".join(parts) or "no findings"


def failing(models: Iterable[CheckedModel], fail_on: Severity) -> list[Finding]:
    return [f for m in models for f in m.findings if f.severity.rank >= fail_on.rank]


def verdict(models: list[CheckedModel], fail_on: Severity) -> str:
    reported = [f for m in models for f in m.findings]
    bad = failing(models, fail_on)
    which = (
        "new findings"
        if any(m.previous is not None or m.baselined or m.fixed for m in models)
        else "findings"
    )
    head = f"{severity_counts(reported)}" if reported else f"no {which}"
    state = (
        f"{len(bad)} at or above {fail_on.value}: failing"
        if bad
        else f"none at or above {fail_on.value}: passing"
    )
    plural = "s" if len(models) != 1 else ""
    return f"{head} in {len(models)} model{plural}; {state}"


def rule_titles(rules: Iterable[object]) -> Mapping[str, str]:
    return {rule.id: getattr(rule, "title", "") for rule in rules}
