"""``netprof bench guidelines``: ShuffleNet V2's guideline experiments (Tables 1-4) timed on this machine.

Prints the report on stdout and progress on stderr, and writes ``guidelines.json``,
``guidelines.png`` and ``guidelines.svg`` under ``--output``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netprof import datafiles
from netprof.bench import guidelines
from netprof.charts.files import save_figure
from netprof.cli import argtypes, common
from netprof.report import formats

OUTPUTS = ("guidelines.json", "guidelines.png", "guidelines.svg")


NAME = "bench"
HELP = "time reference networks on this machine"
DESCRIPTION = "Time reference networks on this machine and compare with published numbers."


def add_arguments(bench: argparse.ArgumentParser) -> None:
    kinds = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    parser = kinds.add_parser(
        "guidelines",
        help="ShuffleNet V2 Tables 1-4 (guidelines G1-G4): measured images/sec next to the paper's",
        description="Build the networks of ShuffleNet V2's guideline experiments (Tables 1-4: 10 blocks, "
        "56x56 input, random init), count them with netprof.analyze, time them here and print measured "
        "images/sec next to the paper's ARM and GPU numbers, with whether each table's trend holds here. "
        "Writes guidelines.json, guidelines.png and guidelines.svg. About 5 minutes by default.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="first column of each table only, short timing (under a minute)"
    )
    common.add_output_directory_argument(parser, "guidelines.json/.png/.svg")
    parser.add_argument(
        "--threads",
        type=argtypes.positive(int),
        default=1,
        help="intra-op threads while timing (default 1, as the paper's ARM column)",
    )
    parser.add_argument(
        "--batch", type=argtypes.positive(int), default=1, help="images per forward pass (default 1)"
    )
    parser.add_argument(
        "--clock",
        choices=["auto", "process", "wall"],
        default="auto",
        help="process: this process's CPU time; wall: wall clock; auto (default): process on 1 thread, "
        "wall on more (CPU time sums the threads)",
    )


def write_outputs(result: guidelines.GuidelinesResult, directory: Path) -> list[Path]:
    """The JSON result and the chart as PNG and SVG."""
    from matplotlib.figure import Figure

    from netprof.bench.chart import plot_guidelines

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in OUTPUTS]
    datafiles.write_text(paths[0], guidelines.dumps(result))
    figure = Figure(figsize=(15, 11))
    plot_guidelines(figure, result)
    save_figure(figure, paths[1], dpi=120)
    save_figure(figure, paths[2])
    return paths


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    if args.clock == "process" and args.threads > 1:
        err.print("note: --clock process with several threads sums their CPU time: images per CPU-second")
    settings = guidelines.Settings.for_run(args.quick, args.threads, args.batch, args.clock)
    result = guidelines.run_guidelines(settings, progress=lambda line: err.print(line, highlight=False))
    common.emit(NAME, formats.TABLE, result, None, out, err)
    with common.writing(args.output):
        paths = write_outputs(result, args.output)
    for path in paths:
        common.say(err, f"wrote {path}")
    return common.ExitStatus.SUCCESS
