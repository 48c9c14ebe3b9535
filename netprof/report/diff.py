"""``netprof diff old.json new.json``: what a change did to a model's cost and findings.

Both files are ``netprof analyze --format json`` or ``netprof check --format json`` outputs (one
``netprof.analysis/1`` document, or a list of them for several models). Models pair by name;
two single documents pair whatever their names, since a change may rename the SPEC. Modules
pair by path, findings by rule and module path (the baseline identity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netprof.analysis import HEADLINE
from netprof.datafiles import read_json
from netprof.errors import NetprofError

SCHEMA = "netprof.diff/1"
ANALYSIS_SCHEMA = "netprof.analysis/1"


class DiffError(NetprofError):
    """An input file is missing or not a netprof analysis."""


@dataclass(frozen=True, slots=True)
class ModuleChange:
    """One module whose numbers changed; ``old`` or ``new`` is None when it was added or removed."""

    path: str
    type: str
    old: Mapping[str, int] | None
    new: Mapping[str, int] | None

    @property
    def status(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def change(self, metric: str) -> int:
        return (self.new or {}).get(metric, 0) - (self.old or {}).get(metric, 0)


@dataclass(frozen=True)
class ModelDiff:
    old_model: str | None
    new_model: str | None
    old_totals: Mapping[str, int] | None
    new_totals: Mapping[str, int] | None
    modules: tuple[ModuleChange, ...]
    findings_added: tuple[Mapping[str, Any], ...]
    findings_resolved: tuple[Mapping[str, Any], ...]
    has_findings: bool  # both documents came from ``netprof check``

    @property
    def name(self) -> str:
        if self.old_model and self.new_model and self.old_model != self.new_model:
            return f"{self.old_model} -> {self.new_model}"
        return self.new_model or self.old_model or ""

    def change(self, metric: str) -> int:
        return (self.new_totals or {}).get(metric, 0) - (self.old_totals or {}).get(metric, 0)


def load(path: Path) -> list[dict[str, Any]]:
    document = read_json(path, DiffError)
    documents = document if isinstance(document, list) else [document]
    for i, doc in enumerate(documents):
        where = f"{path}" + (f"[{i}]" if isinstance(document, list) else "")
        if not isinstance(doc, dict) or doc.get("schema") != ANALYSIS_SCHEMA:
            found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise DiffError(
                f"{where}: not a {ANALYSIS_SCHEMA} document (schema {found!r}); "
                "expected netprof analyze/check --format json output"
            )
        for key in ("model", "totals", "modules"):
            if key not in doc:
                raise DiffError(f"{where}: missing key {key!r}")
    return documents


def _modules(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    findings: dict[str, int] = {}
    for f in doc.get("findings", []):
        findings[f["module"]] = findings.get(f["module"], 0) + 1
    return {
        m["path"]: {
            "type": m["type"],
            **{k: m[k] for k in ("mult_adds", "params", "mem_access_bytes")},
            "findings": findings.get(m["path"], 0),
        }
        for m in doc["modules"]
    }


def _level(path: str) -> int:
    return path.count(".") + 1 if path else 0


def _key(finding: Mapping[str, Any]) -> tuple[str, str]:
    return finding["rule"], finding["module"]


def compare(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, depth: int | None = None
) -> ModelDiff:
    old_modules = _modules(old) if old else {}
    new_modules = _modules(new) if new else {}
    changes = []
    for path in [*new_modules, *(p for p in old_modules if p not in new_modules)]:
        if depth is not None and _level(path) > depth:
            continue
        before, after = old_modules.get(path), new_modules.get(path)
        if before is not None and after is not None and before == after:
            continue
        kind = (after or before)["type"]
        strip = lambda d: None if d is None else {k: v for k, v in d.items() if k != "type"}
        changes.append(ModuleChange(path, kind, strip(before), strip(after)))
    old_findings = {_key(f): f for f in (old or {}).get("findings", [])}
    new_findings = {_key(f): f for f in (new or {}).get("findings", [])}
    return ModelDiff(
        old_model=old["model"] if old else None,
        new_model=new["model"] if new else None,
        old_totals={k: old["totals"][k] for k in HEADLINE if k in old["totals"]} if old else None,
        new_totals={k: new["totals"][k] for k in HEADLINE if k in new["totals"]} if new else None,
        modules=tuple(changes),
        findings_added=tuple(f for k, f in new_findings.items() if k not in old_findings),
        findings_resolved=tuple(f for k, f in old_findings.items() if k not in new_findings),
        has_findings=bool(old and new and "findings" in old and "findings" in new),
    )


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]], depth: int | None = None) -> list[ModelDiff]:
    if len(old) == 1 and len(new) == 1:
        return [compare(old[0], new[0], depth)]
    by_name = {doc["model"]: doc for doc in old}
    result = [compare(by_name.pop(doc["model"], None), doc, depth) for doc in new]
    return result + [compare(doc, None, depth) for doc in by_name.values()]


def to_dict(diffs: list[ModelDiff]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "models": [
            {
                "old_model": d.old_model,
                "new_model": d.new_model,
                "totals": {
                    k: {
                        "old": (d.old_totals or {}).get(k),
                        "new": (d.new_totals or {}).get(k),
                        "change": d.change(k),
                    }
                    for k in HEADLINE
                },
                "modules": [
                    {
                        "path": m.path,
                        "type": m.type,
                        "status": m.status,
                        "old": m.old,
                        "new": m.new,
                        "change": {
                            k: m.change(k) for k in ("mult_adds", "params", "mem_access_bytes", "findings")
                        },
                    }
                    for m in d.modules
                ],
                "findings": {"added": list(d.findings_added), "resolved": list(d.findings_resolved)}
                if d.has_findings
                else None,
            }
            for d in diffs
        ],
    }
