"""``netprof bench guidelines [--quick] [--output DIR] [--threads N] [--batch N] [--clock C]``.

To wire into ``netprof.cli``::

    from netprof.cli.bench import add_bench_parser
    add_bench_parser(commands)            # commands = parser.add_subparsers(...)
    ...
    if args.command == "bench":
        return args.handler(args, out, err)   # -> exit status (0 on success)

``handler(args, out, err)`` prints the report on ``out`` and progress on ``err``, writes
``guidelines.json``, ``guidelines.png`` and ``guidelines.svg`` under ``--output`` and returns 0; an
unwritable directory raises ``OSError`` (which ``netprof.cli`` reports as exit 2). Until then
``python -m netprof.bench guidelines`` runs it standalone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from netprof.bench import guidelines, report
from netprof.cli.argtypes import positive

OUTPUTS = ("guidelines.json", "guidelines.png", "guidelines.svg")


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench`` (with its ``guidelines`` subcommand) to an ``add_subparsers()`` object."""
    bench = subparsers.add_parser(
        "bench",
        help="time reference networks on this machine",
        description="Time reference networks on this machine and compare with published numbers.",
    )
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
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory for guidelines.json/.png/.svg (default: current directory)",
    )
    parser.add_argument(
        "--threads",
        type=positive(int),
        default=1,
        help="intra-op threads while timing (default 1, as the paper's ARM column)",
    )
    parser.add_argument("--batch", type=positive(int), default=1, help="images per forward pass (default 1)")
    parser.add_argument(
        "--clock",
        choices=["auto", "process", "wall"],
        default="auto",
        help="process: this process's CPU time; wall: wall clock; auto (default): process on 1 thread, "
        "wall on more (CPU time sums the threads)",
    )
    parser.set_defaults(handler=run_guidelines_command)
    return bench


def write_outputs(result: guidelines.GuidelinesResult, directory: Path) -> list[Path]:
    """The JSON result and the chart as PNG and SVG."""
    from matplotlib.figure import Figure

    from netprof.bench.chart import plot_guidelines

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in OUTPUTS]
    paths[0].write_text(guidelines.dumps(result))
    figure = Figure(figsize=(15, 11))
    plot_guidelines(figure, result)
    figure.savefig(paths[1], dpi=120)
    figure.savefig(paths[2])
    return paths


def run_guidelines_command(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.clock == "process" and args.threads > 1:
        err.print("note: --clock process with several threads sums their CPU time: images per CPU-second")
    settings = guidelines.Settings.for_run(args.quick, args.threads, args.batch, args.clock)
    result = guidelines.run_guidelines(settings, progress=lambda line: err.print(line, highlight=False))
    report.render(result, out)
    for path in write_outputs(result, args.output):
        err.print(f"wrote {path}", highlight=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m netprof.bench guidelines ...``."""
    parser = argparse.ArgumentParser(prog="python -m netprof.bench")
    commands = parser.add_subparsers(dest="command", required=True)
    add_bench_parser(commands)
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args, Console(), Console(stderr=True))
