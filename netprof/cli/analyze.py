"""``netprof analyze``: count a model's mult_adds, flops, params and memory access, optionally timed."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netprof import pipeline
from netprof.cli import common, generation
from netprof.prediction import profile as profiles
from netprof.report import json_report, markdown, prediction, text
from netprof.report.crosscheck import render_crosscheck
from netprof.timing import report as timing_report
from netprof.timing.run import TimingError

NAME = "analyze"
HELP = "count mult_adds, flops, params and memory access cost of a model"
DESCRIPTION = "Capture one inference forward pass at the ATen level and price every op."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help=f"{common.SPEC_HELP}; default: {common.DEFAULT_SPEC}")
    common.add_model_arguments(parser)
    parser.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    common.add_output_argument(parser)
    common.add_timeout_argument(parser)
    parser.add_argument("--depth", type=int, default=2, help="module depth of the table (default 2)")
    parser.add_argument("--crosscheck", choices=["fvcore"], help="compare with another counter, per op type")
    common.add_time_arguments(parser)
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="DIR",
        help="with --time: also write the layers, roofline and breakdown charts (PNG and SVG) to DIR; "
        "with --decode: the per-token decode and prefill-vs-decode roofline chart",
    )
    generation.add_arguments(parser)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    if generation.wanted(args):
        return generation.run(args, out, err)
    spec = args.spec or common.DEFAULT_SPEC
    if args.plot is not None and not args.time:
        raise TimingError("--plot charts measured times: add --time")
    with err.status(f"capturing {spec} ...", spinner="dots"):
        loaded, result = pipeline.load_and_run(
            spec,
            args.input,
            args.dtype,
            args.device,
            timing=common.timing_options(args),
            notes=() if args.spec else (common.default_spec_note("analyzing"),),
            weights=args.crosscheck is not None,
            hf_class=args.hf_class,
        )
    if result.timing is not None:
        result = _with_cached_prediction(result, err)
    if args.plot is not None and result.timing is not None:
        from netprof.charts.files import write_model_charts

        with common.writing(args.plot):
            paths = write_model_charts(result.timing, args.plot, name=spec, prediction=result.prediction)
        for path in paths:
            common.say(err, f"wrote {path}")
    if args.crosscheck == "fvcore":
        with err.status("running fvcore on the same model ...", spinner="dots"):
            result = pipeline.add_crosscheck(result, loaded.model, loaded.workload)
    if args.format == "json":
        common.write_text(
            json_report.dumps(result.analysis, result.timing, result.crosscheck, result.prediction),
            args.output,
            err,
        )
    elif args.format == "markdown":
        report = markdown.render(result.analysis, args.depth, result.timing)
        if result.crosscheck is not None:
            report += markdown.crosscheck_section(result.crosscheck)
        if result.prediction is not None and result.timing is not None:
            report += prediction.markdown_versus(result.prediction, result.timing)
        common.write_text(report, args.output, err)
    else:
        common.write_table(lambda console: _render_table(result, console, args.depth), args.output, out, err)
    return common.ExitStatus.SUCCESS


def _render_table(result: pipeline.Result, console: Console, depth: int) -> None:
    text.render(result.analysis, console, depth)
    if result.timing is not None:
        console.print()
        timing_report.render(result.timing, console, depth)
    if result.crosscheck is not None:
        console.print()
        console.print(render_crosscheck(result.crosscheck))
    if result.prediction is not None and result.timing is not None:
        console.print()
        prediction.render_versus(result.prediction, result.timing, console)


def _with_cached_prediction(result: pipeline.Result, err: Console) -> pipeline.Result:
    """A timed result with the cached profile's prediction beside the measurement, when there is one."""
    assert result.timing is not None
    device = result.timing.device.split(":")[0]
    try:
        profile = common.device_profile(None, device, result.timing.threads)
    except profiles.ProfileError:
        common.say(
            err,
            f"note: no device profile for {device} with {result.timing.threads} thread(s): "
            "run `netprof calibrate` to see predicted next to measured",
        )
        return result
    return pipeline.add_prediction(result, profile)
