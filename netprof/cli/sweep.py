"""``netprof sweep``: many models, one row each, locally in worker processes or on a Ray cluster."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netprof import units
from netprof.cli import argtypes, common
from netprof.environment import total_memory
from netprof.sweep import charts
from netprof.sweep.local import run_local
from netprof.sweep.ray_engine import run_ray
from netprof.sweep.results import SUMMARY, Results, read_accuracy, summary
from netprof.sweep.row import SweepOptions
from netprof.sweep.sources import jobs_from

NAME = "sweep"
HELP = "analyze many models (a list, a registry glob, a search space): one row each, locally or on Ray"
DESCRIPTION = (
    "SOURCE is a text file of SPECs, a registry glob (torchvision:*, timm:mobilenet* with timm installed) or "
    "a Python callable yielding SPECs or (name, builder) pairs. Each model runs in its own worker process "
    "(a per-model timeout and memory limit; a failure is a row with its error); rows go to DIR/rows.jsonl as "
    "they finish and to DIR/rows.csv, with DIR/summary.md and charts at the end."
)


def _size(text: str) -> int:
    try:
        return units.parse_nbytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="SPEC list file, registry glob or callable"
    )
    parser.add_argument("--output", "-o", type=Path, required=True, metavar="DIR", help="where the rows go")
    parser.add_argument("--jobs", type=argtypes.positive(int), help="worker processes (default: the cores)")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the models as Ray tasks: on the cluster at ADDRESS, else on a local one (netprof[ray])",
    )
    parser.add_argument("--resume", action="store_true", help="keep DIR's finished rows and run the rest")
    parser.add_argument("--accuracy", type=Path, metavar="CSV", help="name,accuracy rows: the Pareto front")
    parser.add_argument(
        "--model-timeout", type=argtypes.positive(float), default=600.0, metavar="S", help="per model (600)"
    )
    parser.add_argument(
        "--memory-limit", type=_size, metavar="SIZE", help="resident, per worker (default: memory / jobs)"
    )
    common.add_input_argument(parser)
    common.add_time_arguments(parser)
    common.add_predict_argument(parser, "predict each model's latency")
    common.add_timeout_argument(parser)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    jobs = jobs_from(args.sources)
    results = Results(common.output_directory(args.output), args.resume)
    accuracy = read_accuracy(args.accuracy) if args.accuracy else {}
    todo = [job for job in jobs if job.name not in results.rows]
    options = SweepOptions(tuple(args.input or ()), common.predict_profile(args), common.timing_options(args))
    workers = args.jobs or len(os.sched_getaffinity(0))
    total = total_memory()
    limit = args.memory_limit or (total // workers if total else None)
    engine = "Ray" if args.ray is not None else "local"
    if args.resume and len(todo) < len(jobs):
        common.say(err, f"resuming: {len(jobs) - len(todo)} of {len(jobs)} models already done")
    started = time.perf_counter()
    failures = 0
    columns = (
        TextColumn("[bold]sweep[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("models", total=len(todo), failed=0, rate="")
        if args.ray is not None:
            rows = run_ray(todo, options, args.ray or None, args.model_timeout, cpus=args.jobs)
        else:
            rows = run_local(todo, options, workers, args.model_timeout, limit)
        for done, (_, row) in enumerate(rows, start=1):
            results.add(row)
            failures += bool(row.get("error"))
            rate = done / (time.perf_counter() - started)
            progress.update(task, advance=1, failed=failures, rate=f"{rate:.2f} models/s")
    seconds = time.perf_counter() - started
    order = [job.name for job in jobs]
    rows_in_order = [results.rows[name] for name in order if name in results.rows]
    paths = [results.path, results.write_csv(order)]
    common.write_text(summary(rows_in_order, accuracy, seconds, engine), args.output / SUMMARY, err)
    with common.writing(args.output):
        paths += charts.write_charts(rows_in_order, accuracy, args.output)
    for path in paths:
        common.say(err, f"wrote {path}")
    failed = sum(bool(row.get("error")) for row in rows_in_order)
    common.say(err, f"{len(rows_in_order)} models, {failed} failed, {seconds:.1f} s ({engine})")
    return common.ExitStatus.SUCCESS
