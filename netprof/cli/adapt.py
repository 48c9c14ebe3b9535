"""``netprof adapt``: NetAdapt without fine-tuning, to a latency budget predicted on a device profile."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netprof import datafiles, units
from netprof.adapt import Adaptation, Step, adapt
from netprof.adapt.budget import Budget, BudgetError, parse_budget
from netprof.adapt.run import DEFAULT_MIN_KEEP, DEFAULT_STEP
from netprof.capture.loader import load
from netprof.charts.adapt import write_trajectory
from netprof.cli import argtypes, common
from netprof.report import formats
from netprof.timing.run import TimingOptions

NAME = "adapt"
HELP = "remove filters until a latency budget is met (NetAdapt without fine-tuning); writes the model"
DESCRIPTION = (
    "Each iteration proposes, for every prunable layer, removing just enough of its smallest-L2-norm filters "
    "(coupled channels together, through Torch-Pruning) to cut the predicted latency by one step, and keeps "
    "the proposal that loses the least weight norm per second saved, until the prediction is within --budget. "
    "Latency is predicted from a device profile, which must exist: netprof calibrate --threads N (eager), "
    "netprof calibrate --runtime R --threads N, or --profile FILE; without one, adapt stops at once and says "
    "which command makes it. The base and the adapted model are then measured. Writes DIR/model.pt "
    "(torch.save of the adapted module), DIR/report.json and DIR/trajectory.png/svg. Accuracy is not "
    "evaluated: fine-tune the result. Needs pip install 'netprof[compression]'."
)
MODEL_FILE = "model.pt"
REPORT_FILE = "report.json"


def _budget(text: str) -> Budget:
    try:
        return parse_budget(text)
    except BudgetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fraction(text: str) -> float:
    value = argtypes.positive(float)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction of the base latency below 1, got {text!r}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share of each layer's filters, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a share of each layer's filters in [0, 1), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help=common.SPEC_HELP)
    parser.add_argument(
        "--budget",
        type=_budget,
        required=True,
        metavar="BUDGET",
        help="predicted latency to reach: a fraction of the base's (0.6x) or a latency (12ms, 800us, 0.5s)",
    )
    parser.add_argument(
        "--step",
        type=_fraction,
        default=DEFAULT_STEP,
        metavar="FRACTION",
        help=f"predicted latency each iteration saves, as a fraction of the base's (default {DEFAULT_STEP:g})",
    )
    parser.add_argument(
        "--min-keep",
        type=_share,
        default=DEFAULT_MIN_KEEP,
        metavar="FRACTION",
        help=f"the share of each layer's filters kept at least (default {DEFAULT_MIN_KEEP:g}; 0: down to one)",
    )
    parser.add_argument(
        "--runtime",
        choices=("onnxruntime", "openvino"),
        help="adapt for this runtime: predict on its profile and measure in it (default: eager PyTorch)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="a profile written by netprof calibrate -o"
    )
    common.add_threads_argument(parser)
    common.add_input_argument(parser)
    parser.add_argument(
        "--measure-budget",
        type=argtypes.positive(float),
        default=5.0,
        metavar="SECONDS",
        help="timed passes per model when measuring the base and the result (default 5)",
    )
    parser.add_argument("--no-measure", action="store_true", help="skip measuring: predictions only")
    parser.add_argument("--output", "-o", type=Path, required=True, metavar="DIR", help="where the files go")
    common.add_timeout_argument(parser)


def _progress(err: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    profile = common.latency_profile(args.profile, args.runtime, "cpu", args.threads, torch.float32)
    directory = common.output_directory(args.output)
    loaded = load(args.spec, args.input, device="cpu")
    measure = None
    if not args.no_measure:
        measure = TimingOptions(
            budget_s=args.measure_budget, threads=args.threads, runtime=args.runtime or "eager"
        )
    iteration = 1
    with _progress(err) as progress:
        layers = progress.add_task(f"iteration {iteration}: layers priced", total=None)

        def on_layer(done: int, total: int) -> None:
            progress.update(layers, completed=done, total=total)

        def on_step(step: Step) -> None:
            nonlocal iteration
            common.say(
                err,
                f"iteration {step.index}: {step.layer} {step.channels_before} -> {step.channels_after} filters, "
                f"predicted {units.seconds(step.predicted_s)} ({step.probes} proposals priced)",
            )
            iteration += 1
            progress.reset(layers, description=f"iteration {iteration}: layers priced")

        adaptation = adapt(
            loaded.model,
            loaded.workload,
            args.budget,
            profile,
            step=args.step,
            min_keep=args.min_keep,
            measure=None,
            spec=args.spec,
            on_layer=on_layer,
            on_step=on_step,
        )
    if measure is not None:
        with err.status("measuring the base and the adapted model ...", spinner="dots"):
            adaptation = adaptation.measured(loaded.model, loaded.inputs, measure)
    _write(adaptation, directory, err)
    common.emit(NAME, formats.TABLE, adaptation.report, None, out, err)
    return common.ExitStatus.SUCCESS


def _write(adaptation: Adaptation, directory: Path, err: Console) -> None:
    with common.writing(directory):
        with datafiles.replaced(directory / MODEL_FILE) as temporary:
            torch.save(adaptation.model, temporary)
        common.say(err, f"wrote {directory / MODEL_FILE}")
        common.write_text(formats.render(NAME, "json", adaptation.report), directory / REPORT_FILE, err)
        for path in write_trajectory(adaptation.report, directory):
            common.say(err, f"wrote {path}")
