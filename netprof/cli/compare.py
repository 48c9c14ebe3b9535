"""``netprof compare``: time several models; latency against mult_adds and memory access, rank-correlated."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netprof import datafiles
from netprof.cli import common, timed_models
from netprof.report import compare as compare_report
from netprof.report import formats
from netprof.report.compare import CompareReport
from netprof.timing.ranking import rank_models

REPORT_STEM = "compare"
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
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="DIR",
        help=f"a folder (several models, several files): the charts, {COMPARE_STEM}.json and, for a format "
        f"other than the table, the report as {REPORT_STEM}.json, .md or .html",
    )
    common.add_format_argument(
        parser,
        NAME,
        "html: the models side by side in one self-contained page (stdout, or compare.html in -o DIR)",
    )
    timed_models.add_arguments(parser)


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
    extension = formats.EXTENSIONS.get(args.format)  # None: the terminal table, always on the terminal
    report_file = (
        None if args.output is None or extension is None else args.output / f"{REPORT_STEM}.{extension}"
    )
    document = CompareReport(results, comparison)
    common.emit(NAME, args.format, document, report_file, out, err)
    if args.output is not None:
        figure = comparison_figure(comparison, [(name, timing) for name, _, timing in timed])
        with common.writing(args.output):
            datafiles.write_text(args.output / f"{COMPARE_STEM}.json", compare_report.to_json(document))
            paths = [args.output / f"{COMPARE_STEM}.json", *save(figure, args.output / COMPARE_STEM)]
            if comparison.rho_predicted is not None:
                measured = [(p.name, p.latency.median, p.predicted_s) for p in comparison.points]
                where = machine(comparison.device, comparison.threads)
                paths += save(predicted_models_figure(measured, where), args.output / PREDICTED_STEM)
        for path in paths:
            common.say(err, f"wrote {path}")
    return common.ExitStatus.SUCCESS
