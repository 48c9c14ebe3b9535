"""``netprof check --format sarif``: SARIF 2.1.0 for GitHub code scanning.

Unlike a checker that marks every result "error", the level follows the finding's severity
(error -> error, warning -> warning, info -> note). Each rule carries its document: the first
paragraph of "What it does" as ``fullDescription``, the whole Markdown as ``help``. A result sits
at the definition of its module's class (relative to the repository root, the nearest directory
above the working directory holding ``.git``; an absolute ``file://`` URI outside it);
``partialFingerprints`` hold the baseline identity (rule, model, module), so code scanning tracks a
finding across commits even when its line moves. Results stay one per finding (code scanning
deduplicates by fingerprint); the other reports group them (``findings_groups``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from netprof.environment import __version__
from netprof.fingerprints import hashed_fingerprint
from netprof.rules.base import Finding, Severity
from netprof.rules.baseline import CheckedModel
from netprof.source_paths import repository_path

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
INFORMATION_URI = "https://github.com/netprof/netprof"


def first_paragraph(doc: str) -> str:
    """The first paragraph under a "What it does" heading, else the first paragraph that is not a heading."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", doc.strip()) if b.strip()]
    for i, block in enumerate(blocks):
        if block.startswith("#") and "what it does" in block.lower() and i + 1 < len(blocks):
            return " ".join(blocks[i + 1].split())
    for block in blocks:
        if not block.startswith("#"):
            return " ".join(block.split())
    return doc.strip()


def _rule(rule: Any, doc: str | None) -> dict[str, Any]:
    severity = Severity(getattr(rule, "default_severity", Severity.WARNING))
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": re.sub(r"\W+", "", rule.title.title()) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": first_paragraph(doc) if doc else rule.title},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {"tags": list(getattr(rule, "tags", ("performance",))), "precision": "high"},
    }
    if doc:
        descriptor["help"] = {"text": doc, "markdown": doc}
    return descriptor


def _physical(finding: Finding, spec: str) -> dict[str, Any] | None:
    if finding.location is not None:
        path, line = finding.location.path, max(1, finding.location.line)
    elif spec.rpartition(":")[0].endswith(".py"):
        path, line = spec.rpartition(":")[0], 1  # no class location: the model file itself
    else:
        return None
    relative = repository_path(path)
    if relative is None:  # outside the repository (an installed package's class)
        artifact = {"uri": Path(os.path.abspath(path)).as_uri()}
    else:
        artifact = {"uri": relative, "uriBaseId": "%SRCROOT%"}
    return {"artifactLocation": artifact, "region": {"startLine": line}}


def _result(finding: Finding, model: str, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message + (f" Fix: {finding.fix}" if finding.fix else "")},
        "locations": [],
        "partialFingerprints": {"netprofFinding/v1": hashed_fingerprint(model, finding.rule, finding.module)},
        "properties": {
            "model": model,
            "module": finding.module,
            "moduleType": finding.module_type,
            "measured": finding.measured,
            "threshold": finding.threshold,
            "costBytes": finding.cost_bytes,
            "costShare": finding.cost_share,
        },
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    location: dict[str, Any] = {
        "logicalLocations": [
            {"fullyQualifiedName": f"{model}:{finding.module or '(model)'}", "kind": "module"}
        ]
    }
    physical = _physical(finding, model)
    if physical is not None:
        location["physicalLocation"] = physical
    result["locations"].append(location)
    return result


def to_dict(
    models: list[CheckedModel], rules: Iterable[Any], doc: Callable[[str], str | None]
) -> dict[str, Any]:
    """``rules``: every rule known to this run (plugins included); ``doc(id)`` its Markdown or None."""
    descriptors = [_rule(rule, doc(rule.id)) for rule in rules]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    for checked in models:  # a finding of a rule this run does not list (a plugin's) still gets a descriptor
        for finding in checked.findings:
            if finding.rule not in index:
                index[finding.rule] = len(descriptors)
                descriptors.append({"id": finding.rule, "shortDescription": {"text": finding.rule}})
    results = [_result(f, checked.analysis.model, index) for checked in models for f in checked.findings]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "netprof",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def dumps(models: list[CheckedModel], rules: Iterable[Any], doc: Callable[[str], str | None]) -> str:
    return json.dumps(to_dict(models, rules, doc), indent=1) + "\n"
