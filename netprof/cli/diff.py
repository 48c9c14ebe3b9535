"""``netprof diff``: what a change did to a model, from two JSON reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netprof.cli import common
from netprof.report import diff as diffing

NAME = "diff"
HELP = "compare two JSON reports: totals, modules and findings"
DESCRIPTION = (
    "Compare two netprof analyze/check --format json outputs: what a change did to "
    "mult_adds, params, memory access cost and findings, per module."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", type=Path, help="report before the change")
    parser.add_argument("new", type=Path, help="report after the change")
    common.add_format_argument(parser, NAME)
    common.add_output_argument(parser)
    parser.add_argument("--depth", type=int, help="only modules down to this depth (default: all)")


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    common.emit(
        NAME,
        args.format,
        diffing.diff(diffing.load(args.old), diffing.load(args.new), args.depth),
        args.output,
        out,
        err,
    )
    return common.ExitStatus.SUCCESS
