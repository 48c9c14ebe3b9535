"""``netprof analyze``: count a model's mult_adds, flops, params and memory access, optionally timed."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netprof import pipeline
from netprof.capture.workload import LOSSES, OPTIMIZERS, TrainingError, TrainStep
from netprof.cli import common, generation, pages
from netprof.prediction import profile as profiles
from netprof.report import html, json_report, markdown, prediction, text, training
from netprof.report.crosscheck import render_crosscheck
from netprof.timing import report as timing_report
from netprof.timing.run import TimingError

NAME = "analyze"
HELP = "count mult_adds, flops, params and memory access cost of a model"
DESCRIPTION = "Capture one inference forward pass at the ATen level and price every op."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help=f"{common.SPEC_HELP}; default: {common.DEFAULT_SPEC}")
    common.add_model_arguments(parser)
    parser.add_argument(
        "--format",
        choices=["table", "json", "markdown", "html"],
        default="table",
        help="html: one self-contained interactive page (with -o FILE)",
    )
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
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="with --time: also write the timed pass as a Chrome trace-event JSON (ui.perfetto.dev)",
    )
    group = parser.add_argument_group("training and memory")
    group.add_argument(
        "--train", action="store_true", help="count a training step: forward, backward, optimizer"
    )
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="with --train (default sgd)")
    group.add_argument(
        "--loss", choices=LOSSES, default="sum", help="with --train (default sum of the output)"
    )
    group.add_argument(
        "--memory",
        action="store_true",
        help="follow every tensor's life: the peak, by kind and module (with --plot DIR: the timeline chart)",
    )
    generation.add_arguments(parser)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    if args.trace is not None and not args.time:
        raise TimingError("--trace writes a timed forward pass: add --time")
    if generation.wanted(args):
        if args.train or args.memory:
            raise TrainingError("--train and --memory count one pass or step: drop --prefill/--decode")
        return generation.run(args, out, err)
    spec = args.spec or common.DEFAULT_SPEC
    if args.train and (args.time or args.crosscheck):
        raise TrainingError("--time and --crosscheck run one forward pass: they do not combine with --train")
    if args.plot is not None and not (args.time or args.memory):
        raise TimingError("--plot charts measured times (add --time) or memory (add --memory)")
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
            train=TrainStep(optimizer=args.optimizer, loss=args.loss) if args.train else None,
            memory=args.memory,
        )
    if result.timing is not None:
        result = _with_cached_prediction(result, err)
    if args.trace is not None and result.timing is not None:
        from netprof.timing import trace

        with common.writing(args.trace):
            profile = None if result.prediction is None else result.prediction.profile.key
            trace.write(args.trace, result.analysis, result.timing, result.op_predicted_s, profile=profile)
        common.say(err, f"wrote {args.trace}")
    if args.plot is not None:
        from netprof.charts.files import write_memory_chart, write_model_charts

        paths = []
        with common.writing(args.plot):
            if result.timing is not None:
                paths += write_model_charts(result.timing, args.plot, name=spec, prediction=result.prediction)
            if result.analysis.memory is not None:
                paths += write_memory_chart(result.analysis, args.plot)
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
    elif args.format == "html":
        common.write_text(html.render([pages.model_page(result, spec)]), args.output, err)
    elif args.format == "markdown":
        report = markdown.render(result.analysis, args.depth, result.timing)
        report += training.markdown(result.analysis, args.depth)
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
    training.render(result.analysis, console, depth)
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
