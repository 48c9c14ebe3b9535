"""``netprof plot`` and ``netprof compare``: parsers and handlers, wired into ``netprof.cli``.

Both subparsers set ``handler(args, out, err) -> int``. Errors a user can fix
(a bad spec, an unwritable directory) raise the exceptions ``netprof.cli``
already reports as exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof.charts.files import KINDS
from netprof.cli import argtypes

DEFAULT_REPEAT = 10
COMPARE_STEM = "flops_vs_latency"


def _timing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        action="append",
        type=argtypes.shape,
        metavar="SHAPE",
        help="shape of one positional tensor argument, e.g. 1,3,224,224 (repeat for several)",
    )
    parser.add_argument(
        "--repeat",
        type=argtypes.positive(int),
        default=DEFAULT_REPEAT,
        metavar="N",
        help=f"timed passes per model (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--threads",
        type=argtypes.positive(int),
        metavar="N",
        help="torch intra-op threads while timing (default: torch's)",
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to time (default cpu)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def add_plot_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot",
        help="time a model and chart it: FLOPs vs latency per op, roofline, Figure-2 breakdown",
        description="Time every op of one model and write charts as PNG and SVG: layers (mult_adds vs "
        "measured time per op, log-log; ops with 0 mult_adds on a strip), roofline (every op on the roof of "
        "`netprof calibrate`), breakdown (ShuffleNet V2 Figure-2 classes plus overhead).",
    )
    parser.add_argument("spec", help="file.py:callable or package.module:callable")
    parser.add_argument("--kind", choices=[*KINDS, "all"], default="all", help="which chart (default all)")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory for <kind>.png and <kind>.svg (default: current directory)",
    )
    _timing_arguments(parser)
    parser.set_defaults(handler=plot_command)
    return parser


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="time several models: latency against mult_adds and MAC, with rank correlations",
        description="Time each model (plain forward passes) and print its latency next to its mult_adds and "
        "memory access cost, with Spearman's rank correlation of latency with each. With --output, also "
        f"write {COMPARE_STEM}.png/.svg (two panels) and {COMPARE_STEM}.json there.",
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="models to compare (two or more)")
    parser.add_argument("--output", "-o", type=Path, metavar="DIR", help="directory for the chart and JSON")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    _timing_arguments(parser)
    parser.set_defaults(handler=compare_command)
    return parser


def plot_command(args: argparse.Namespace, out: Console, err: Console) -> int:
    from netprof.charts.files import write_model_charts
    from netprof.timing.ranking import spec_name, time_specs

    kinds = KINDS if args.kind == "all" else (args.kind,)
    with err.status(f"timing {args.spec} ...", spinner="dots"):
        ((_, analysis),) = time_specs(
            [args.spec], repeat=args.repeat, threads=args.threads, device=args.device, input_shapes=args.input
        )
    for note in analysis.timing.warnings if analysis.timing else ():
        err.print(f"note: {note}", markup=False, highlight=False)
    for path in write_model_charts(analysis, args.output, kinds, spec_name(args.spec)):
        err.print(f"wrote {path}", markup=False, highlight=False)
    return 0


def compare_table(comparison: Any) -> Table:
    from netprof.timing.ranking import rho_text

    table = Table(
        show_edge=False,
        pad_edge=False,
        caption=(
            f"Spearman rank correlation of latency with mult_adds: {rho_text(comparison.rho_mult_adds)}, "
            f"with MAC (mem_access_bytes): {rho_text(comparison.rho_mem_access)}; "
            f"{comparison.device}, {comparison.threads} thread(s); times are of this machine only"
        ),
    )
    for column in (
        "model",
        "mult_adds (M)",
        "MAC (MB)",
        "params (M)",
        "latency ms (median)",
        "IQR ms",
        "runs",
        "images/s",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    for p in comparison.points:
        table.add_row(
            p.name,
            f"{p.mult_adds / 1e6:.1f}",
            f"{p.mem_access_bytes / 1e6:.1f}",
            f"{p.params / 1e6:.2f}",
            f"{p.latency.median * 1e3:.2f}",
            f"{p.latency.iqr * 1e3:.2f}",
            str(p.latency.runs),
            f"{p.images_per_s:.1f}",
        )
    return table


def compare_command(args: argparse.Namespace, out: Console, err: Console) -> int:
    from netprof.charts.files import comparison_figure, save
    from netprof.timing.ranking import compare, time_specs, to_dict

    analyses = time_specs(
        args.specs,
        repeat=args.repeat,
        threads=args.threads,
        device=args.device,
        input_shapes=args.input,
        progress=lambda line: err.print(line, markup=False, highlight=False),
    )
    comparison = compare(analyses)
    if args.format == "json":
        out.file.write(json.dumps(to_dict(comparison), indent=1) + "\n")
    else:
        out.print(compare_table(comparison))
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / f"{COMPARE_STEM}.json").write_text(json.dumps(to_dict(comparison), indent=1) + "\n")
        for path in [
            args.output / f"{COMPARE_STEM}.json",
            *save(comparison_figure(comparison, analyses), args.output / COMPARE_STEM),
        ]:
            err.print(f"wrote {path}", markup=False, highlight=False)
    return 0
