"""``netprof bench guidelines``: time the networks of ShuffleNet V2's Tables 1-4 on this machine.

Every network is counted with ``netprof.analyze`` (mult_adds and memory access cost per image) and timed
with ``netprof.bench.measure`` (images/sec: median and IQR over repetitions, warm-up first, eval mode,
no grad, an explicit thread count restored afterwards). The default, batch 1 on 1 thread, mirrors the
paper's single-thread ARM measurements; the paper does not state its batch size. Each table's trend is
judged by ``netprof.bench.trend`` on per-round (paired) speed ratios and, as a check of the rule, on the paper's
own ARM and GPU numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import torch

from netprof import pipeline
from netprof.bench.experiments import Experiment, experiments
from netprof.bench.measure import Throughput, TimingPlan, clock_name, time_interleaved
from netprof.bench.networks import BLOCKS, RESOLUTION, example_input
from netprof.bench.trend import NOISE_FLOOR, Speed, TrendRule, Verdict, judge, paired, scaled
from netprof.environment import processor, threads_set, versions
from netprof.records import pick

SCHEMA = "netprof.bench.guidelines/1"


@dataclass(frozen=True)
class Settings:
    quick: bool = False  # the first column of each table only, shorter timing
    threads: int = 1
    batch: int = 1
    budget_s: float = 20.0  # timing per column of a table (its rows interleaved), after warm-up
    min_runs: int = 10
    max_runs: int = 100  # the paper averages 100 runs
    min_block_s: float = 0.025
    warmup_s: float = 0.3
    noise_floor: float = NOISE_FLOOR
    clock: str = "process"  # see netprof.bench.measure: CPU time on 1 thread, wall clock on more

    @classmethod
    def for_run(cls, quick: bool = False, threads: int = 1, batch: int = 1, clock: str = "auto") -> Settings:
        clock = clock_name(threads, clock)
        if quick:
            return cls(
                True,
                threads,
                batch,
                budget_s=1.5,
                min_runs=5,
                max_runs=30,
                min_block_s=0.01,
                warmup_s=0.05,
                clock=clock,
            )
        return cls(False, threads, batch, clock=clock)

    @property
    def plan(self) -> TimingPlan:
        return TimingPlan(
            self.budget_s, self.min_runs, self.max_runs, self.min_block_s, self.warmup_s, self.clock
        )


@dataclass(frozen=True)
class Machine:
    cpu: str
    cpu_count: int
    threads: int
    torch_version: str
    python: str
    platform: str

    @classmethod
    def here(cls, threads: int) -> Machine:
        software = versions()
        return cls(
            processor(),
            os.cpu_count() or 0,
            threads,
            software["torch"],
            software["python"],
            platform.platform(),
        )


@dataclass(frozen=True)
class ConfigResult:
    """One network: its counts per image, its measured speed and the paper's."""

    row: str
    column: str
    channels: str
    network: str
    mult_adds: int
    mem_access_bytes: int
    params: int
    paper_gpu: float  # batches/sec, GTX 1080Ti, the paper's GPU widths
    paper_arm: float  # images/sec, Snapdragon 810, 1 thread
    measured: Throughput  # images/sec here
    relative: Speed  # images/sec / the column's first row's, round by round (paired): median and IQR


@dataclass(frozen=True)
class ExperimentResult:
    table: int
    guideline: str
    title: str
    varied: str
    rows: tuple[str, ...]
    short_rows: tuple[str, ...]
    columns: tuple[str, ...]  # the measured ones
    choices: tuple[str, ...]
    paper_gpu_note: str
    configs: tuple[ConfigResult, ...]
    mult_adds_spread: tuple[float, ...]  # per column: largest |mult_adds / first row's - 1|
    rule: TrendRule
    verdict: Verdict  # on measured images/sec, paired to the rule's fast row (see netprof.bench.trend)
    adjusted_verdict: Verdict  # the same, each row's speed x its mult_adds / the fast row's
    paper_arm_verdict: Verdict
    paper_gpu_verdict: Verdict

    def config(self, row: str, column: str) -> ConfigResult:
        for config in self.configs:
            if config.row == row and config.column == column:
                return config
        raise KeyError((row, column))


@dataclass(frozen=True)
class GuidelinesResult:
    settings: Settings
    machine: Machine
    experiments: tuple[ExperimentResult, ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())


_CLOCK_NOTES = {
    "process": "this process's CPU time (1 thread: time the scheduler gave to other programs on this "
    "shared machine is left out; their effect on caches and memory bandwidth is not)",
    "wall": "wall clock (time.perf_counter)",
}


def general_notes(settings: Settings) -> tuple[str, ...]:
    return (
        (
            f"every network: {BLOCKS} stacked blocks, {RESOLUTION}x{RESOLUTION} input, random init, float32, "
            "no BatchNorm, no conv bias (the paper names neither)"
        ),
        (
            f"timing: batch {settings.batch}, {settings.threads} thread(s) (the paper's ARM column is 1 thread; "
            "it does not state a batch size); eval, torch.no_grad"
        ),
        f"clock: {_CLOCK_NOTES[settings.clock]}",
        (
            f"each repetition runs a block of forwards of at least {settings.min_block_s * 1000:g} ms after "
            f"{settings.warmup_s:g} s of warm-up; the rows of one column are timed in interleaved rounds, "
            f"{settings.min_runs}-{settings.max_runs} rounds within about {settings.budget_s:g} s per column"
        ),
        (
            "images/sec: median ± IQR over the repetitions; mult_adds and MAC (memory access cost, bytes) "
            "per image from netprof.analyze; 'vs row 1': each round's images/sec divided by the same round's "
            "of the column's first row, median ± IQR"
        ),
        (
            "verdicts: on the same paired ratios, taken to the row the guideline says is fastest, so a slow "
            "spell of this shared machine cancels; 'at equal mult_adds' also multiplies each ratio by the "
            "row's mult_adds / that row's"
        ),
        (
            "paper GPU: batches/sec on a GTX 1080Ti at the paper's (wider) GPU widths; "
            "paper ARM: images/sec on a Snapdragon 810, 1 thread, at the widths built here"
        ),
    ) + (("--quick: only the first column of each table, short timing",) if settings.quick else ())


def _run_experiment(
    experiment: Experiment, settings: Settings, progress: Callable[[str], None]
) -> ExperimentResult:
    columns = experiment.columns[:1] if settings.quick else experiment.columns
    results: list[ConfigResult] = []
    spreads = []
    for column in columns:
        configs = [experiment.config(row, column) for row in experiment.rows]
        networks = [(config.build(), example_input(config.in_channels, settings.batch)) for config in configs]
        counts = [
            pipeline.analyze(model, example_input(c.in_channels)) for (model, _), c in zip(networks, configs)
        ]
        progress(
            f"Table {experiment.table} ({experiment.guideline}) {column}: timing {len(networks)} networks"
        )
        measured = time_interleaved(networks, settings.plan)
        relative = paired({c.row: m.runs for c, m in zip(configs, measured)}, configs[0].row)
        for config, analysis, measurement in zip(configs, counts, measured):
            results.append(
                ConfigResult(
                    config.row,
                    column,
                    config.channels,
                    config.call,
                    analysis.totals.mult_adds,
                    analysis.totals.mem_access_bytes,
                    analysis.params,
                    config.paper_gpu,
                    config.paper_arm,
                    measurement,
                    relative[config.row],
                )
            )
        first = counts[0].totals.mult_adds
        spreads.append(max(abs(a.totals.mult_adds / first - 1) for a in counts))

    def speeds(of: Callable[[ConfigResult], Speed]) -> dict[str, dict[str, Speed]]:
        return {c: {r.row: of(r) for r in results if r.column == c} for c in columns}

    def measured_speeds(equal_mult_adds: bool) -> dict[str, dict[str, Speed]]:
        out = {}
        for column in columns:
            rows = {r.row: r for r in results if r.column == column}
            ratios = paired({row: r.measured.runs for row, r in rows.items()}, experiment.rule.fast)
            if equal_mult_adds:
                fast = rows[experiment.rule.fast].mult_adds
                ratios = {row: scaled(speed, rows[row].mult_adds / fast) for row, speed in ratios.items()}
            out[column] = ratios
        return out

    rule, floor = experiment.rule, settings.noise_floor
    return ExperimentResult(
        **pick(experiment, "table", "guideline", "title", "varied", "rows", "short_rows"),
        columns=tuple(columns),
        **pick(experiment, "choices", "paper_gpu_note"),
        configs=tuple(results),
        mult_adds_spread=tuple(spreads),
        rule=rule,
        verdict=judge(rule, measured_speeds(equal_mult_adds=False), floor),
        adjusted_verdict=judge(rule, measured_speeds(equal_mult_adds=True), floor),
        paper_arm_verdict=judge(rule, speeds(lambda r: Speed(r.paper_arm)), floor),
        paper_gpu_verdict=judge(rule, speeds(lambda r: Speed(r.paper_gpu)), floor),
    )


def run_guidelines(
    settings: Settings | None = None, progress: Callable[[str], None] | None = None
) -> GuidelinesResult:
    """Build, count and time every network of Tables 1-4; ``progress`` gets one line per column."""
    settings = settings or Settings()
    progress = progress or (lambda _message: None)
    start = time.perf_counter()
    torch.manual_seed(0)
    with threads_set(settings.threads):
        results = tuple(_run_experiment(e, settings, progress) for e in experiments())
    return GuidelinesResult(
        settings,
        Machine.here(settings.threads),
        results,
        time.perf_counter() - start,
        general_notes(settings),
    )


def to_dict(result: GuidelinesResult) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    for experiment, source in zip(data["experiments"], result.experiments):
        for name in ("verdict", "adjusted_verdict", "paper_arm_verdict", "paper_gpu_verdict"):
            experiment[name]["summary"] = getattr(source, name).summary
    return {"schema": SCHEMA, **data}


def dumps(result: GuidelinesResult) -> str:
    return json.dumps(to_dict(result), indent=2) + "\n"


def _load(kind: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{f.name: _load(hints[f.name], value[f.name]) for f in dataclasses.fields(kind)})
    if get_origin(kind) is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], item) for item in value)
        return tuple(_load(a, item) for a, item in zip(args, value))
    return value


def from_dict(data: dict[str, Any]) -> GuidelinesResult:
    """The inverse of ``to_dict`` (extra keys such as verdict summaries are ignored)."""
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} result: schema {data.get('schema')!r}")
    return _load(GuidelinesResult, data)


def load(path: str | os.PathLike[str]) -> GuidelinesResult:
    return from_dict(json.loads(Path(path).read_text()))
