"""``netprof compare``: time several models; latency against mult_adds and memory access, rank-correlated."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from netprof import datafiles
from netprof.cli import common, pages, timed_models
from netprof.report import html
from netprof.timing.ranking import Comparison, rank_models, rho_text, to_dict

COMPARE_STEM = "flops_vs_latency"
PREDICTED_STEM = "predicted_vs_measured"

NAME = "compare"
HELP = "time several models: latency against mult_adds and MAC, with rank correlations"
DESCRIPTION = (
    "Time each model (plain forward passes) and print its latency next to its mult_adds and "
    "memory access cost, with Spearman's rank correlation of latency with each. With --output, also "
    f"write {COMPARE_STEM}.png/.svg (two panels) and {COMPARE_STEM}.json there."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="models to compare (two or more)")
    parser.add_argument("--output", "-o", type=Path, metavar="DIR", help="directory for the chart and JSON")
    parser.add_argument(
        "--format",
        choices=["table", "json", "html"],
        default="table",
        help="html: the models side by side in one self-contained page (compare.html with -o DIR, else stdout)",
    )
    timed_models.add_arguments(parser)


def compare_table(comparison: Comparison) -> Table:
    table = Table(
        show_edge=False,
        pad_edge=False,
        caption=(
            f"Spearman rank correlation of latency with mult_adds: {rho_text(comparison.rho_mult_adds)}, "
            f"with MAC (mem_access_bytes): {rho_text(comparison.rho_mem_access)}; "
            + (
                ""
                if comparison.rho_predicted is None
                else f"with the predicted latency: {rho_text(comparison.rho_predicted)}; "
            )
            + f"{comparison.device}, {comparison.threads} thread(s); times are of this machine only"
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
        *(("predicted ms",) if comparison.rho_predicted is not None else ()),
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
            *((f"{p.predicted_s * 1e3:.2f}",) if p.predicted_s is not None else ()),
        )
    return table


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    from netprof.charts.common import machine
    from netprof.charts.files import comparison_figure, predicted_models_figure, save

    if args.output is not None:
        common.output_directory(args.output)
    results = timed_models.time_specs(args, args.specs, err)
    timed = [(name, result.analysis, result.timing) for name, result in results]  # time_specs times each
    predicted = {
        name: result.prediction.latency_s for name, result in results if result.prediction is not None
    }
    comparison = rank_models(timed, predicted)
    document = json.dumps(to_dict(comparison), indent=1) + "\n"
    if args.format == "json":
        out.file.write(document)
    elif args.format == "html":
        page = html.render([pages.model_page(result, name) for name, result in results])
        if args.output is None:
            out.file.write(page)
        else:
            common.write_text(page, args.output / "compare.html", err)
    else:
        out.print(compare_table(comparison))
    if args.output is not None:
        figure = comparison_figure(comparison, [(name, timing) for name, _, timing in timed])
        with common.writing(args.output):
            datafiles.write_text(args.output / f"{COMPARE_STEM}.json", document)
            paths = [args.output / f"{COMPARE_STEM}.json", *save(figure, args.output / COMPARE_STEM)]
            if comparison.rho_predicted is not None:
                measured = [(p.name, p.latency.median, p.predicted_s) for p in comparison.points]
                where = machine(comparison.device, comparison.threads)
                paths += save(predicted_models_figure(measured, where), args.output / PREDICTED_STEM)
        for path in paths:
            common.say(err, f"wrote {path}")
    return common.ExitStatus.SUCCESS
