"""``netprof whatif``: compression variants of one model, priced before anyone trains them."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netprof.capture.loader import load
from netprof.cli import common
from netprof.compression.variants import MOVES, variants
from netprof.compression.whatif import UNPRICED, WhatIf, whatif
from netprof.errors import NetprofError
from netprof.prediction import DeviceProfile, ProfileError
from netprof.runtimes import profile as runtime_profiles
from netprof.timing.run import TimingOptions

NAME = "whatif"
HELP = "price compression variants (width, resolution, pruning, low rank, int8) before training them"
DESCRIPTION = (
    "Build each variant of the model without training (--width: every layer's channels scaled, through "
    "Torch-Pruning's dependency graph; --resolution: the input scaled; --prune: a share of all channels by "
    "filter norm; --rank: low-rank factorization where it saves compute; --quantize: int8 or int4 weights) "
    "and print one table: mult_adds, params, parameter bytes, mem_access_bytes and predicted latency (measured "
    "with --time), each as a ratio to the base, and the G1-G4 findings each variant adds or removes. Each "
    "flag is repeatable or a comma list."
)
CHART_STEM = "whatif_latency"
_VALUES = {
    "width": "ALPHA",
    "resolution": "RHO",
    "prune": "FRACTION",
    "rank": "FRACTION",
    "quantize": "int8|int4w",
}
_HELP = {
    "width": "keep ALPHA of every layer's output channels, e.g. 0.5,0.75",
    "resolution": "scale the input's height and width by RHO, e.g. 0.5",
    "prune": "remove FRACTION of all prunable channels, smallest filter norms first (global)",
    "rank": "factorize convolutions and linears keeping FRACTION of their rank, where it saves compute",
    "quantize": "int8 weights and activations, or int4 weights of the linear layers",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help=common.SPEC_HELP)
    moves = parser.add_argument_group("variants (each repeatable or a comma list)")
    for move in MOVES:
        moves.add_argument(f"--{move}", action="append", metavar=_VALUES[move], help=_HELP[move])
    common.add_input_argument(parser)
    parser.add_argument("--dtype", type=common.argtypes.dtype, default=torch.float32, help="dtype of --input")
    prediction = parser.add_argument_group("latency")
    prediction.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="predict on this profile (netprof calibrate -o FILE); default: the one cached for this CPU "
        "and thread count, or the runtime's with --runtime",
    )
    prediction.add_argument(
        "--runtime",
        choices=("onnxruntime", "openvino"),
        help="predict as this runtime runs the model (its fused kernels; netprof calibrate --runtime R), "
        "and with --time, time it there",
    )
    prediction.add_argument("--time", action="store_true", help="also run every variant and time it")
    common.add_repeat_and_threads(prediction, None, "timed passes (default: as many as fit in --budget)")
    common.add_budget_argument(
        prediction, 2.0, "seconds of timed passes per variant when --repeat is not given"
    )
    common.add_format_argument(parser, NAME)
    common.add_output_argument(parser)
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="DIR",
        help=f"also write the chart of latency against mult_adds, {CHART_STEM}.png and .svg, to DIR",
    )
    common.add_timeout_argument(parser)


def _profile(args: argparse.Namespace, err: Console) -> tuple[DeviceProfile | None, tuple[str, ...]]:
    """The profile to predict on, or None and the line saying how to make one (said on stderr too)."""
    threads = args.threads or torch.get_num_threads()
    try:
        if args.runtime is None:
            return common.device_profile(args.profile, "cpu", args.threads), ()
        if args.profile is None:
            return runtime_profiles.cached(args.runtime, threads), ()
        profile = runtime_profiles.load(args.profile)
        return runtime_profiles.for_runtime(profile, args.runtime, str(args.profile)), ()
    except ProfileError:
        if args.profile is not None:  # a file the user named and that cannot serve: their error
            raise
    runtime = f" --runtime {args.runtime}" if args.runtime else ""
    line = f"no device profile: run `netprof calibrate{runtime} --threads {threads}` to price latency"
    err.print(f"netprof: {line}", style="bold red", markup=False, highlight=False, soft_wrap=True)
    return None, (line,)


def _timing(args: argparse.Namespace) -> TimingOptions | None:
    if not args.time:
        return None
    return TimingOptions(
        repeat=args.repeat, budget_s=args.budget, threads=args.threads, runtime=args.runtime or "eager"
    )


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    moves = variants({move: getattr(args, move) for move in MOVES})
    if not moves:
        raise NetprofError(f"name at least one variant: {', '.join(f'--{move}' for move in MOVES)}")
    if args.plot is not None:
        common.output_directory(args.plot)
    profile, notes = _profile(args, err)
    with err.status(f"building {args.spec} ...", spinner="dots"):
        loaded = load(args.spec, args.input, args.dtype, "cpu")  # real weights: pruning and SVD read them
    if loaded.kwargs:
        raise NetprofError("whatif runs the model on positional inputs only: the builder passes keywords")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("what-if", total=len(moves) + 1)
        done = []

        def progress(name: str) -> None:
            bar.update(task, completed=len(done), description=f"pricing {name}")
            done.append(name)

        report = whatif(
            loaded.model,
            loaded.inputs,
            moves,
            profile=profile,
            timing=_timing(args),
            name=loaded.name,
            notes=notes + loaded.notes,
            progress=progress,
        )
    common.emit(NAME, args.format, report, args.output, out, err)
    _say_unpriced(report, err)
    if args.plot is not None:
        _write_chart(report, args, err)
    return common.ExitStatus.SUCCESS


def _say_unpriced(report: WhatIf, err: Console) -> None:
    """A variant the profile cannot price (int8 on a profile older than its int8 kinds), in red on stderr:
    the table's empty cell alone would read as a missing profile."""
    for priced in report.variants:
        for note in priced.notes:
            if note.startswith(UNPRICED):
                line = f"netprof: {priced.name}: {note}"
                err.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)


def _write_chart(report: WhatIf, args: argparse.Namespace, err: Console) -> None:
    from netprof.charts.common import machine
    from netprof.charts.files import save, whatif_figure

    models = (report.base, *report.variants)
    points = [(p.name, p.totals["mult_adds"], p.predicted_s, p.measured_s) for p in models]
    if all(predicted is None and measured is None for _, _, predicted, measured in points):
        common.say(err, "no chart: no model has a predicted or measured latency (calibrate, or add --time)")
        return
    where = machine("cpu", args.threads or torch.get_num_threads())
    if args.runtime:
        where += f", {args.runtime}"
    with common.writing(args.plot):
        paths = save(whatif_figure(points, report.model, where), args.plot / CHART_STEM)
    for path in paths:
        common.say(err, f"wrote {path}")
