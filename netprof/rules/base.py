"""What a rule is and what it finds.

A rule module holds its metadata (id, title, default severity and options) and a
``check(context, options) -> Iterator[Finding]``, where the context gives the
analysis and the graph metrics computed from it; its long document is
``rules/<ID>.md`` at the top of the repository, shipped with the package.
Renderers only format findings: thresholds are applied here, never there.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from netprof.analysis import Analysis
from netprof.detection import StageModules
from netprof.errors import NetprofError
from netprof.fingerprints import finding_key
from netprof.metrics import ConvMetrics, GraphMetrics
from netprof.units import seconds


class RuleError(NetprofError, ValueError):
    """A rule id, option, plugin or rule run that cannot be used; a ValueError, as bad values are."""


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a module's class is defined, for SARIF and GitHub annotations."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation of one rule at one module.

    Attributes:
        rule: the rule id, e.g. ``"G1"``.
        severity: after configuration.
        module: the ``named_modules()`` path of the offending module ("" for the root).
        module_type: its class name.
        location: where that class is defined, when known.
        message: one sentence for a person, naming the measured value and the threshold.
        measured: the value the rule compared (e.g. a channel ratio).
        threshold: the value it was compared against.
        cost_bytes: memory access the violation adds, in bytes (what ranks findings).
        cost_share: ``cost_bytes`` as a share of the model's ``mem_access_bytes``.
        fix: a concrete change that removes the violation.
        evidence: further numbers backing the finding (JSON-serialisable).
    """

    rule: str
    severity: Severity
    module: str
    module_type: str
    location: SourceLocation | None
    message: str
    measured: float
    threshold: float
    cost_bytes: int
    cost_share: float
    fix: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable identity within one model: the rule and the module, not the numbers
        (``netprof.fingerprints``; a baseline adds the model)."""
        return finding_key(self.rule, self.module)


class Status(str, enum.Enum):
    """A rule's maturity, as ruff labels its rules: only stable rules run unless enabled."""

    STABLE = "stable"
    PREVIEW = "preview"
    DEPRECATED = "deprecated"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Fusion:
    """What a deployment runtime fused: op id -> the kernel that computes it inside another op's work
    (a batch-norm folded into a convolution, an activation run in its epilogue)."""

    runtime: str
    fused_into: Mapping[int, str]

    def describe(self, op_ids: Iterable[int]) -> tuple[str, dict[str, Any]]:
        """A finding's ops all fused away, some, or none: a message suffix and evidence."""
        ids = sorted(set(op_ids))
        fused = [i for i in ids if i in self.fused_into]
        kernels = sorted({self.fused_into[i] for i in fused})
        evidence = {"runtime": self.runtime, "fused_ops": len(fused), "ops": len(ids), "fused_into": kernels}
        if not ids or not fused:
            return f"; on {self.runtime}: still runs as kernels of its own", evidence
        if len(fused) == len(ids):
            shown = ", ".join(kernels[:3]) + (f" and {len(kernels) - 3} more" if len(kernels) > 3 else "")
            return f"; on {self.runtime}: vanishes into fused kernels ({shown})", evidence
        return f"; on {self.runtime}: {len(fused)} of its {len(ids)} ops fused away", evidence


@dataclass(frozen=True)
class RuleContext:
    """What a rule's ``check`` receives: the analysis and the metrics computed from it once.

    ``op_seconds`` maps op ids to their measured median seconds when the model was
    timed, so that findings can say what share of op time they cost; ``op_predicted_s``
    to their predicted seconds on a device profile, so that they can say what time;
    ``fusion``, when timed in a deployment runtime, which ops it fused away; ``stage_modules``, a
    detector's stages set by module path (``netprof.detection``), over those its module names give.
    """

    analysis: Analysis
    metrics: GraphMetrics
    op_seconds: Mapping[int, float] | None = None
    op_predicted_s: Mapping[int, float] | None = None
    fusion: Fusion | None = None
    stage_modules: StageModules | None = None

    def module_type(self, path: str) -> str:
        try:
            return self.analysis.module(path).type
        except KeyError:
            return ""

    def share(self, cost_bytes: int) -> float:
        """``cost_bytes`` as a share of the model's memory access."""
        total = self.analysis.totals.mem_access_bytes
        return cost_bytes / total if total else 0.0

    def time_share(self, op_ids: Iterable[int]) -> float | None:
        """The measured share of op time spent in ``op_ids``; None when the analysis was not timed."""
        if not self.op_seconds:
            return None
        attributed_s = math.fsum(self.op_seconds.values())
        if not attributed_s:
            return None
        return math.fsum(self.op_seconds.get(op_id, 0.0) for op_id in set(op_ids)) / attributed_s

    def predicted_s(self, op_ids: Iterable[int]) -> float | None:
        """The predicted seconds of ``op_ids`` on the profile; None without a prediction."""
        if self.op_predicted_s is None:
            return None
        return math.fsum(self.op_predicted_s.get(op_id, 0.0) for op_id in set(op_ids))

    def costs(self, op_ids: Iterable[int]) -> tuple[str, dict[str, float]]:
        """What ``op_ids`` cost in time, as a message suffix and evidence: measured, predicted, both or none."""
        ids = list(op_ids)
        said, evidence = "", {}
        measured = self.time_share(ids)
        if measured is not None:
            said += f"; measured: {measured:.1%} of op time"
            evidence["time_share"] = measured
        predicted = self.predicted_s(ids)
        if predicted is not None:
            said += f"; predicted: {seconds(predicted)} on the profile"
            evidence["predicted_s"] = predicted
        if self.fusion is not None:
            fused, evidence["fusion"] = self.fusion.describe(ids)
            said += fused
        return said, evidence


class Rule(Protocol):
    """The interface of a rule (a module or an object; plugins provide the same).

    Optional attributes, read with defaults: ``status`` (a ``Status``, stable when absent),
    ``option_docs`` (option name -> one line, for ``rules/<ID>.md`` and the CLI) and ``tags``
    (what SARIF files the rule under; ``("performance",)`` when absent).
    """

    id: ClassVar[str]
    title: ClassVar[str]
    default_severity: ClassVar[Severity]
    default_options: ClassVar[Mapping[str, Any]]

    def check(self, context: Any, options: Mapping[str, Any]) -> Iterator[Finding]: ...


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """What configuration (pyproject.toml, then the command line) says about one rule.

    ``None`` keeps the rule's default; ``options`` are merged over its ``default_options``.
    """

    enabled: bool | None = None
    severity: Severity | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def finding(
    rule: Rule,
    context: RuleContext,
    module: str,
    *,
    message: str,
    measured: float,
    threshold: float,
    cost_bytes: int,
    fix: str,
    evidence: Mapping[str, Any] | None = None,
) -> Finding:
    """A finding at the rule's default severity; ``netprof.rules.run`` applies configuration."""
    return Finding(
        rule=rule.id,
        severity=rule.default_severity,
        module=module,
        module_type=context.module_type(module),
        location=None,
        message=message,
        measured=measured,
        threshold=threshold,
        cost_bytes=cost_bytes,
        cost_share=context.share(cost_bytes),
        fix=fix,
        evidence=dict(evidence or {}),
    )


def conv_finding(
    rule: Rule, context: RuleContext, conv: ConvMetrics, *, evidence: Mapping[str, Any], **fields: Any
) -> Finding:
    """A finding on one conv call: at its module, with the conv's shape and memory access as evidence
    before the rule's own; ``fields`` are ``finding``'s (message, measured, threshold, cost_bytes, fix)."""
    return finding(rule, context, conv.module, evidence={**conv.evidence(), **evidence}, **fields)


def resolve_options(rule: Rule, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` merged over the rule's defaults; unknown keys and wrong types raise RuleError.

    An option's type is its default's: a bool takes a bool, an int an int, a float an
    int or a float, a sequence a list or tuple.
    """
    defaults = dict(rule.default_options)
    for key, value in options.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise RuleError(f"rule {rule.id}: unknown option {key!r} (known: {known})")
        default = defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, (list, tuple)):
            ok = isinstance(value, (list, tuple))
        else:
            ok = True
        if not ok:
            raise RuleError(f"rule {rule.id}: option {key!r} must be {type(default).__name__}, got {value!r}")
    return {**defaults, **options}


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
