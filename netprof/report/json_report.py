"""The ``netprof.analysis/1`` JSON document, produced in this one place.

Later features add keys; a change that removes or renames one bumps the
version. ``netprof/report/analysis.schema.json`` is its JSON Schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from netprof.analysis import Analysis, ModuleSummary, OpNode, Totals
from netprof.capture.ir import TensorMeta
from netprof.costs import CONVENTIONS
from netprof.crosscheck import Crosscheck
from netprof.environment import versions
from netprof.fingerprints import fingerprint
from netprof.prediction import Prediction
from netprof.records import pick
from netprof.report.crosscheck import crosscheck_to_dict
from netprof.report.prediction import to_dict as prediction_to_dict
from netprof.report.timing import timing_to_dict
from netprof.source_paths import relative_to
from netprof.timing.attribution import Timing

SCHEMA = "netprof.analysis/1"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _tensor(meta: TensorMeta) -> dict[str, Any]:
    return {"shape": list(meta.shape), "dtype": _dtype(meta.dtype)}


def _totals(totals: Totals) -> dict[str, int]:
    return pick(totals, "mult_adds", "flops", "mem_access_bytes", "ops", "uncounted_ops")


def module_entry(summary: ModuleSummary) -> dict[str, Any]:
    """One module subtree's counts, as every JSON document (and the HTML report's data) gives them."""
    return {
        "path": summary.path,
        "type": summary.type,
        "calls": summary.calls,
        "params": summary.params,
        "mult_adds": summary.totals.mult_adds,
        "flops": summary.totals.flops,
        "mem_access_bytes": summary.totals.mem_access_bytes,
    }


def _op(node: OpNode) -> dict[str, Any]:
    first = (node.output_metas or node.input_metas or (None,))[0]
    return {
        "id": node.id,
        "op": node.op,
        "category": node.category,
        "module": node.module,
        "inputs": list(node.inputs),
        "input_shapes": [list(m.shape) for m in node.input_metas],
        "output_shapes": [list(m.shape) for m in node.output_metas],
        "dtype": _dtype(first.dtype) if first is not None else None,
        "mult_adds": node.mult_adds,
        "flops": node.flops,
        "mem_access_bytes": node.mem_access_bytes,
        "counted": node.counted,
    }


def to_dict(
    analysis: Analysis,
    timing: Timing | None = None,
    crosscheck: Crosscheck | None = None,
    prediction: Prediction | None = None,
) -> dict[str, Any]:
    """The document; ``timing``, ``crosscheck`` and ``prediction`` are added when they were computed."""
    document = {
        "schema": SCHEMA,
        "model": analysis.model,
        "mode": analysis.mode,
        "conventions": CONVENTIONS,
        "versions": versions(),
        "inputs": [_tensor(meta) for meta in analysis.inputs],
        "notes": list(analysis.notes),
        "totals": {"params": analysis.params, **_totals(analysis.totals)},
        "uncounted": dict(analysis.uncounted),
        "categories": {name: _totals(totals) for name, totals in analysis.categories.items()},
        "modules": [module_entry(summary) for summary in analysis.modules],
        "ops": [_op(node) for node in analysis.ops],
    }
    if analysis.phases:
        document["phases"] = {name: _totals(totals) for name, totals in analysis.phase_totals().items()}
        for entry, node in zip(document["ops"], analysis.ops):
            entry["phase"] = analysis.phase_of(node.id)
    if analysis.memory is not None:
        document["memory"] = analysis.memory.to_dict()
    if timing is not None:
        document["timing"] = timing_to_dict(timing)
    if crosscheck is not None:
        document["crosscheck"] = crosscheck_to_dict(crosscheck)
    if prediction is not None:
        document["prediction"] = prediction_to_dict(prediction)
    return document


def dumps(
    analysis: Analysis,
    timing: Timing | None = None,
    crosscheck: Crosscheck | None = None,
    prediction: Prediction | None = None,
) -> str:
    return json.dumps(to_dict(analysis, timing, crosscheck, prediction), indent=1) + "\n"


def finding_to_dict(finding: Any, model: str) -> dict[str, Any]:
    """One ``netprof.rules`` Finding; ``fingerprint`` is what baselines match (rule, model, module).

    The location's path is relative to the working directory when inside it, as in SARIF.
    """
    location = finding.location
    return {
        "rule": finding.rule,
        "severity": str(finding.severity),
        "module": finding.module,
        "module_type": finding.module_type,
        "location": None
        if location is None
        else {"path": relative_to(location.path, Path.cwd()) or location.path, "line": location.line},
        "message": finding.message,
        "measured": finding.measured,
        "threshold": finding.threshold,
        "cost_bytes": finding.cost_bytes,
        "cost_share": finding.cost_share,
        "fix": finding.fix,
        "evidence": dict(finding.evidence),
        "fingerprint": fingerprint(model, finding.rule, finding.module),
    }


def check_to_dict(
    analysis: Analysis,
    findings: Any,
    baseline: dict[str, Any] | None = None,
    timing: Timing | None = None,
) -> dict[str, Any]:
    """``to_dict`` plus the ``findings`` of ``netprof check`` (and, with a baseline, what it hid).

    Same schema name: ``findings`` and ``baseline`` are optional keys added to ``netprof.analysis/1``.
    """
    document = to_dict(analysis, timing)
    document["findings"] = [finding_to_dict(finding, analysis.model) for finding in findings]
    if baseline is not None:
        document["baseline"] = baseline
    return document
