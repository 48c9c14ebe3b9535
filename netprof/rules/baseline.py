"""Baselines: accept today's findings so that only new ones fail a check.

A finding's identity is its rule, its model and its module path (not its numbers, which move
with every change). The file is JSON, versioned ``netprof.baseline/1``; it also keeps each
model's totals, so that a report can show what a change did to them.

    {"schema": "netprof.baseline/1",
     "models": {"net.py:build": {"totals": {"mult_adds": ..., "params": ..., ...},
                                 "findings": [{"rule": "G1", "module": "layer1.0", "message": "..."}]}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netprof.analysis import HEADLINE, Analysis
from netprof.datafiles import read_json, write_text
from netprof.errors import NetprofError
from netprof.fingerprints import fingerprint
from netprof.rules.base import Finding

SCHEMA = "netprof.baseline/1"


class BaselineError(NetprofError):
    """The baseline file is missing or not a netprof baseline."""


@dataclass(frozen=True, slots=True)
class Entry:
    model: str
    rule: str
    module: str
    message: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.model, self.rule, self.module)


@dataclass(frozen=True)
class Baseline:
    entries: tuple[Entry, ...] = ()
    totals: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    path: Path | None = None

    def __contains__(self, key: str) -> bool:
        return key in {entry.fingerprint for entry in self.entries}


@dataclass(frozen=True)
class CheckedModel:
    """One model after the check: what to report, and what the baseline already knew.

    Attributes:
        analysis: what was measured.
        findings: the findings to report and to fail on (with a baseline: the new ones), worst first.
        baselined: findings the baseline already holds (not reported).
        fixed: baseline entries of this model that no longer occur.
        previous: the baseline's totals for this model, for deltas; ``None`` without one.
    """

    analysis: Analysis
    findings: tuple[Finding, ...]
    baselined: tuple[Finding, ...] = ()
    fixed: tuple[Entry, ...] = ()
    previous: Mapping[str, int] | None = None


def triage(analysis: Analysis, findings: Iterable[Finding], baseline: Baseline | None) -> CheckedModel:
    findings = tuple(findings)
    if baseline is None:
        return CheckedModel(analysis, findings)
    known = {entry.fingerprint for entry in baseline.entries}
    model = analysis.model
    prints = [fingerprint(model, f.rule, f.module) for f in findings]
    new = tuple(f for f, p in zip(findings, prints) if p not in known)
    old = tuple(f for f, p in zip(findings, prints) if p in known)
    present = set(prints)
    fixed = tuple(e for e in baseline.entries if e.model == model and e.fingerprint not in present)
    return CheckedModel(analysis, new, old, fixed, baseline.totals.get(model))


def to_dict(checked: Iterable[tuple[Analysis, Iterable[Finding]]]) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for analysis, findings in checked:
        models[analysis.model] = {
            "totals": analysis.headline(),
            "findings": sorted(
                ({"rule": f.rule, "module": f.module, "message": f.message} for f in findings),
                key=lambda item: (item["rule"], item["module"]),
            ),
        }
    return {"schema": SCHEMA, "models": models}


def write(path: Path, checked: Iterable[tuple[Analysis, Iterable[Finding]]]) -> None:
    write_text(path, json.dumps(to_dict(checked), indent=1) + "\n")


def _expect(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise BaselineError(f"{path}: not a {SCHEMA} file: {what}")


def load(path: Path) -> Baseline:
    document = read_json(path, BaselineError, "baseline file not found")
    _expect(isinstance(document, dict), path, "expected an object")
    schema = document.get("schema")
    _expect(schema == SCHEMA, path, f"schema is {schema!r}")
    models = document.get("models")
    _expect(isinstance(models, dict), path, "models: expected an object")
    entries: list[Entry] = []
    totals: dict[str, Mapping[str, int]] = {}
    for model, record in models.items():
        _expect(
            isinstance(record, dict) and isinstance(record.get("findings", []), list),
            path,
            f"models.{model}: expected an object with a findings list",
        )
        if isinstance(record.get("totals"), dict):
            totals[model] = {
                k: v for k, v in record["totals"].items() if k in HEADLINE and isinstance(v, int)
            }
        for i, item in enumerate(record.get("findings", [])):
            _expect(
                isinstance(item, dict)
                and isinstance(item.get("rule"), str)
                and isinstance(item.get("module"), str),
                path,
                f"models.{model}.findings[{i}]: expected rule and module strings",
            )
            entries.append(Entry(model, item["rule"], item["module"], str(item.get("message", ""))))
    return Baseline(tuple(entries), totals, path)
