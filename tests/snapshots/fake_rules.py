"""A stand-in for ``netprof.rules`` while the real rules are being written.

Implements the agreed interface (``run``, ``all_rules``, ``docs.load``) with one G1-like rule
(a 1x1 convolution whose channel ratio exceeds ``max_ratio``), so that the CLI, config,
baseline and formats can be tested end to end. ``install`` does nothing once the real
``netprof.rules.run`` exists: the tests then run on the real rules.
"""

from __future__ import annotations

import fnmatch
import inspect
import types
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from netprof.rules import base
from netprof.rules.base import Finding, RuleSettings, Severity, SourceLocation


class G1:
    id = "G1"
    title = "Equal channel width minimizes memory access cost"
    default_severity = Severity.ERROR
    default_options: ClassVar[dict[str, Any]] = {"max_ratio": 2.0}
    status = "stable"


DOC = """# G1: Equal channel width minimizes memory access cost

## What it does

Flags 1x1 convolutions whose output and input channel counts differ by more than `max_ratio`.

## Why is this bad?

At fixed FLOPs, memory access cost is lowest when c1 = c2 (ShuffleNet V2, G1).
"""


def _location(model, path):
    if model is None:
        return None, ""
    module = model.get_submodule(path)
    owner = type(model.get_submodule(path.rpartition(".")[0])) if path else type(module)
    try:
        _, line = inspect.getsourcelines(owner)
        return SourceLocation(inspect.getsourcefile(owner), line), type(module).__name__
    except (OSError, TypeError):
        return None, type(module).__name__


def run(analysis, model=None, settings: Mapping[str, RuleSettings] = types.MappingProxyType({}), ignore: Sequence[str] = (),
        plugins: Sequence[str] = ()) -> list[Finding]:
    rule = settings.get("G1", RuleSettings())
    if rule.enabled is False:
        return []
    options = {**G1.default_options, **rule.options}
    severity = rule.severity or G1.default_severity
    findings = []
    for node in analysis.ops:
        if node.op != "aten.convolution.default" or len(node.input_metas) < 2:
            continue
        weight = node.input_metas[1].shape
        if tuple(weight[2:]) != (1, 1) or any(fnmatch.fnmatch(node.module, glob) for glob in ignore):
            continue
        c2, c1 = weight[0], weight[1]
        ratio = max(c1, c2) / min(c1, c2)
        if ratio <= options["max_ratio"]:
            continue
        location, kind = _location(model, node.module)
        findings.append(Finding(
            rule="G1", severity=severity, module=node.module, module_type=kind, location=location,
            message=f"1x1 conv {c1}->{c2}: channel ratio {ratio:g} exceeds {options['max_ratio']:g}",
            measured=ratio, threshold=options["max_ratio"], cost_bytes=node.mem_access_bytes,
            cost_share=node.mem_access_bytes / analysis.totals.mem_access_bytes,
            fix=f"use equal widths, e.g. {min(c1, c2) * 2}->{min(c1, c2) * 2}",
            evidence={"c1": c1, "c2": c2},
        ))
    return sorted(findings, key=lambda f: -f.cost_bytes)


def all_rules():
    return [G1]


def _load(rule_id: str) -> str:
    if rule_id != "G1":
        raise LookupError(rule_id)
    return DOC


docs = types.SimpleNamespace(load=_load)


def real_rules_available() -> bool:
    from netprof import rules

    return hasattr(rules, "run") and hasattr(rules, "all_rules")


def install(monkeypatch) -> bool:
    """Patch the fake in unless the real rules exist; True when the fake is in use."""
    if real_rules_available():
        return False
    from netprof import rules

    monkeypatch.setattr(rules, "run", run, raising=False)
    monkeypatch.setattr(rules, "all_rules", all_rules, raising=False)
    monkeypatch.setattr(rules, "docs", docs, raising=False)
    return True


__all__ = ["base", "install"]
