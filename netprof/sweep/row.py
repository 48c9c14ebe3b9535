"""One model's row: counts, the rules' findings, predicted and measured latency, or its one-line error."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from netprof import pipeline
from netprof.config import Config
from netprof.errors import one_line
from netprof.metrics import compute
from netprof.prediction import DeviceProfile
from netprof.rules import all_rules
from netprof.sweep.sources import Job
from netprof.timing.run import TimingOptions

RULES = tuple(sorted(rule.id for rule in all_rules() if rule.id.startswith("G")))
COLUMNS = (
    "name",
    "spec",
    "params",
    "mult_adds",
    "flops",
    "mem_access_bytes",
    "fragments_per_block",
    *(f"findings_{rule}" for rule in RULES),
    "predicted_s",
    "measured_s",
    "mode",
    "uncounted_ops",
    "error",
    "seconds",
)
# What does not depend on the machine or the moment: equal whichever engine ran the row.
STATIC = tuple(column for column in COLUMNS if column not in ("measured_s", "seconds"))


@dataclass(frozen=True)
class SweepOptions:
    input_shapes: tuple[tuple[int, ...], ...] = ()
    profile: DeviceProfile | None = None
    timing: TimingOptions | None = None


def measure(job: Job, options: SweepOptions) -> dict[str, Any]:
    """The row of ``job``; a model that fails gives a row with its error and no numbers."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(name=job.name, spec=job.spec if isinstance(job.spec, str) else "")
    started = time.perf_counter()
    try:
        spec = job.spec if isinstance(job.spec, str) else (job.name, job.spec)
        with warnings.catch_warnings():  # a thousand models' deprecation notes would bury the progress bar
            warnings.simplefilter("ignore")
            result = pipeline.execute(
                pipeline.RunRequest(
                    spec,
                    list(options.input_shapes) or None,
                    timing=options.timing,
                    profile=options.profile,
                    rules=Config(),
                )
            )
        findings = Counter(finding.rule for finding in result.findings or ())
        analysis = result.analysis
        row.update(
            params=analysis.params,
            mult_adds=analysis.totals.mult_adds,
            flops=analysis.totals.flops,
            mem_access_bytes=analysis.totals.mem_access_bytes,
            fragments_per_block=round(compute(analysis).fragments_per_block, 4),
            predicted_s=None if result.prediction is None else result.prediction.latency_s,
            measured_s=None if result.timing is None else result.timing.plain.median,
            mode=analysis.mode,
            uncounted_ops=sum(analysis.uncounted.values()),
            **{f"findings_{rule}": findings.get(rule, 0) for rule in RULES},
        )
    except Exception as error:  # noqa: BLE001 - one model never stops a sweep: its row says why it failed
        row["error"] = one_line(error)
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def failed(job: Job, error: str) -> dict[str, Any]:
    """The row of a model whose worker died or ran out of time."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(name=job.name, spec=job.spec if isinstance(job.spec, str) else "", error=error)
    return row
