"""``netprof plot``: time one model and chart it (FLOPs vs latency per op, roofline, Figure-2 breakdown)."""

from __future__ import annotations

import argparse

from rich.console import Console

from netprof.charts.files import KINDS
from netprof.cli import common, timed_models
from netprof.timing.ranking import spec_name

NAME = "plot"
HELP = "time a model and chart it: FLOPs vs latency per op, roofline, Figure-2 breakdown"
DESCRIPTION = (
    "Time every op of one model and write charts as PNG and SVG: layers (mult_adds vs "
    "measured time per op, log-log; ops with 0 mult_adds on a strip), roofline (every op on the roof of "
    "`netprof calibrate`), breakdown (ShuffleNet V2 Figure-2 classes plus overhead)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="file.py:callable or package.module:callable")
    parser.add_argument("--kind", choices=[*KINDS, "all"], default="all", help="which chart (default all)")
    common.add_output_directory_argument(parser, "<kind>.png and <kind>.svg")
    timed_models.add_arguments(parser)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    from netprof.charts.files import write_model_charts

    kinds = KINDS if args.kind == "all" else (args.kind,)
    common.output_directory(args.output)
    ((_, result),) = timed_models.time_specs(args, [args.spec], err)
    assert result.timing is not None  # time_specs times every model
    for note in result.timing.warnings:
        common.say(err, f"note: {note}")
    with common.writing(args.output):
        paths = write_model_charts(result.timing, args.output, spec_name(args.spec), kinds, result.prediction)
    for path in paths:
        common.say(err, f"wrote {path}")
    return common.ExitStatus.SUCCESS
