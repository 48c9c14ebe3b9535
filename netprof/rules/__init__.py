"""Check a model against ShuffleNet V2's four guidelines (G1-G4), a memory budget (M1), a detector's post-processing (D1) and head (D2), and any plugin rules.

    >>> findings = netprof.rules.run(netprof.analyze(model, x), model)
    >>> [f.fingerprint for f in findings]

Configuration has one precedence, applied by the caller before it gets here
(defaults < pyproject.toml < command line); ``run`` takes the result as ``RuleSettings``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from torch import nn

from netprof.analysis import Analysis
from netprof.detection import StageModules
from netprof.errors import one_line
from netprof.metrics import compute
from netprof.rules import docs
from netprof.rules.base import (
    Finding,
    Fusion,
    Rule,
    RuleContext,
    RuleError,
    RuleSettings,
    Severity,
    SourceLocation,
    Status,
    resolve_options,
)
from netprof.rules.registry import RuleEntry, entries
from netprof.source_paths import relative_to

__all__ = [
    "Finding",
    "Fusion",
    "Rule",
    "RuleContext",
    "RuleEntry",
    "RuleError",
    "RuleSettings",
    "Severity",
    "SourceLocation",
    "Status",
    "all_rules",
    "docs",
    "entries",
    "run",
]


def all_rules(plugins: Sequence[str] = ()) -> list[Rule]:
    """Built-in rules, then entry-point plugins, then ``plugins`` ("package.module:OBJECT")."""
    return [entry.rule for entry in entries(plugins).values()]


@functools.lru_cache(maxsize=256)
def _class_location(cls: type) -> SourceLocation | None:
    try:
        path = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (TypeError, OSError):
        return None
    if path is None:
        return None
    return SourceLocation(relative_to(path, Path.cwd()) or path, line)


def _location(model: nn.Module | None, path: str) -> SourceLocation | None:
    """Where the class of the module, or of its nearest ancestor not built into PyTorch, is
    defined: a finding on ``features.2.block.0.0`` (an ``nn.Conv2d``) points at the class whose
    ``__init__`` made that conv, not at torch's own conv.py."""
    if model is None:
        return None
    parts = path.split(".") if path else []
    for depth in range(len(parts), -1, -1):
        try:
            module = model.get_submodule(".".join(parts[:depth]))
        except AttributeError:
            continue
        if not type(module).__module__.startswith("torch.") or depth == 0:
            return _class_location(type(module))
    return None


def _enabled(entry: RuleEntry, setting: RuleSettings) -> bool:
    if setting.enabled is not None:
        return setting.enabled
    return entry.status is Status.STABLE


def _checked(rule: Rule, origin: str, context: RuleContext, options: Mapping[str, object]) -> list[Finding]:
    """The rule's findings; a rule that raises is named, so that a broken plugin can be disabled."""
    try:
        return list(rule.check(context, options))
    except Exception as error:
        raise RuleError(
            f"rule {rule.id} ({origin}) raised {one_line(error)}; disable it with --ignore-rules {rule.id}"
        ) from error


def run(
    analysis: Analysis,
    model: nn.Module | None = None,
    settings: Mapping[str, RuleSettings] = {},  # read only, never mutated
    ignore: Sequence[str] = (),
    plugins: Sequence[str] = (),
    op_seconds: Mapping[int, float] | None = None,
    op_predicted_s: Mapping[int, float] | None = None,
    fusion: Fusion | None = None,
    stage_modules: StageModules | None = None,
) -> list[Finding]:
    """Every finding of every enabled rule, worst first (most memory access added).

    ``settings`` maps rule ids to their configuration; an unknown id, option or wrongly
    typed option raises RuleError (a ValueError) naming it. ``ignore`` holds module path globs
    (``fnmatch``: ``"stage2.*"``; ``""`` is the root). ``model``, when given, fills each
    finding's source location (the module class's file, relative to the working
    directory when inside it, and line). ``op_seconds`` (op id -> measured median
    seconds) lets findings carry the share of op time they cost, ``op_predicted_s`` (op id ->
    predicted seconds on a device profile) the time a prediction gives them, ``fusion`` (from a
    deployment runtime's timing) whether their ops still cost time there or vanish into fused kernels,
    ``stage_modules`` (stage -> module paths or globs) a detector's stages for the detector rules, over
    those its module names give.
    """
    table = entries(plugins)
    unknown = [rule_id for rule_id in settings if rule_id not in table]
    if unknown:
        raise RuleError(f"unknown rule id {unknown[0]!r} in settings (known: {', '.join(table)})")
    chosen = []
    for rule_id, entry in table.items():
        setting = settings.get(rule_id, RuleSettings())
        options = resolve_options(entry.rule, setting.options)  # validate even when disabled
        if _enabled(entry, setting):
            chosen.append((entry.rule, setting, options))
    if not chosen:
        return []
    context = RuleContext(analysis, compute(analysis), op_seconds, op_predicted_s, fusion, stage_modules)
    findings: list[Finding] = []
    for rule, setting, options in chosen:
        severity = Severity(setting.severity) if setting.severity is not None else rule.default_severity
        for found in _checked(rule, table[rule.id].origin, context, options):
            if any(fnmatchcase(found.module, pattern) for pattern in ignore):
                continue
            findings.append(
                dataclasses.replace(found, severity=severity, location=_location(model, found.module))
            )
    findings.sort(key=lambda f: (-f.cost_bytes, f.rule, f.module))
    return findings
