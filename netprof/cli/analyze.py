"""``netprof analyze``: count a model's mult_adds, flops, params and memory access, optionally timed."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import track

from netprof import pipeline
from netprof.capture.workload import LOSSES, OPTIMIZERS, TrainStep
from netprof.cli import common, generation, runtime_calibrate
from netprof.devices import timing_device
from netprof.prediction import profile as profiles
from netprof.report import trace
from netprof.report.model import ModelReport
from netprof.runtimes import profile as runtime_profiles
from netprof.timing.run import TimingError

NAME = "analyze"
HELP = "count mult_adds, flops, params and memory access cost of a model"
DESCRIPTION = "Capture one inference forward pass at the ATen level and price every op."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help=f"{common.SPEC_HELP}; default: {common.DEFAULT_SPEC}")
    common.add_model_arguments(parser)
    common.add_format_argument(parser, NAME, "html: one self-contained interactive page (with -o FILE)")
    common.add_output_argument(parser)
    common.add_timeout_argument(parser)
    parser.add_argument("--depth", type=int, default=2, help="module depth of the table (default 2)")
    common.add_config_argument(parser)  # [tool.netprof.stages]: a detector's stages by module path
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
    common.add_detections_argument(parser)
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
    timing = common.timing_options(args)
    if args.trace is not None and timing is None:
        raise TimingError("--trace writes a timed forward pass: add --time")
    generate = generation.request(args)  # None: one forward pass
    if args.plot is not None and not (timing or args.memory or generate is not None):
        raise TimingError(
            "--plot charts measured times (add --time) or memory (add --memory), or prefill and decode (--decode)"
        )
    spec = args.spec or common.DEFAULT_SPEC
    config = common.read_config(args.config)
    request = pipeline.RunRequest(
        spec,
        args.input,
        args.dtype,
        args.device,
        hf_class=args.hf_class,
        notes=() if args.spec else (common.default_spec_note("analyzing"),),
        timing=timing,
        train=TrainStep(optimizer=args.optimizer, loss=args.loss) if args.train else None,
        memory=args.memory,
        crosscheck=args.crosscheck is not None,
        generation=generate,
        detections=args.detections or (),
        stage_modules=config.stage_modules,
    )
    request.validate()  # before looking for a profile: a request no run can honour is one line
    profile, missing = _profile(request, args)
    request = dataclasses.replace(request, profile=profile)
    with err.status(f"analyzing {spec} ...", spinner="dots"):
        result = pipeline.execute(
            request,
            progress=lambda steps: track(steps, description="decode steps", console=err, transient=True),
        )
    if missing:  # after the run: a run that fails says only why
        common.say(err, missing)
    if args.trace is not None and result.timing is not None:
        with common.writing(args.trace):
            profile = None if result.prediction is None else result.prediction.profile.key
            trace.write(args.trace, result.analysis, result.timing, result.op_predicted_s, profile=profile)
        common.say(err, f"wrote {args.trace}")
    if args.plot is not None:
        _write_charts(result, args.plot, spec, err)
    common.emit(NAME, args.format, ModelReport(result, spec, args.depth), args.output, out, err)
    return common.ExitStatus.SUCCESS


def _write_charts(result: pipeline.Result, directory: Path, spec: str, err: Console) -> None:
    from netprof.charts.files import write_memory_chart, write_model_charts, write_stages_chart
    from netprof.charts.generation import write_generation_chart

    paths = []
    with common.writing(directory):
        if result.timing is not None:
            paths += write_model_charts(result.timing, directory, name=spec, prediction=result.prediction)
        if result.analysis.memory is not None:
            paths += write_memory_chart(result.analysis, directory)
        if (stages := result.stages) is not None:
            paths += write_stages_chart(stages, directory, spec)
        if result.generation is not None:
            roofline = None if result.serving is None else result.serving.roofline
            paths += write_generation_chart(result.generation, roofline, directory)
    for path in paths:
        common.say(err, f"wrote {path}")


def _profile(
    request: pipeline.RunRequest, args: argparse.Namespace
) -> tuple[profiles.DeviceProfile | None, str | None]:
    """The profile to predict on, and a note when a timed forward has none: ``--predict``'s for prefill
    and decode; for a timed forward, the profile cached for the timing device (eager) or for the runtime,
    so that predicted stands next to measured when there is one."""
    if request.generation is not None:
        return common.predict_profile(args), None
    if request.timing is None:
        return None, None
    runtime = request.timing.runtime
    if runtime not in ("eager", *runtime_calibrate.RUNTIMES):
        return None, f"note: no runtime profile for {runtime} yet: its latency is measured, not predicted"
    device, threads = timing_device(args.device), args.threads or torch.get_num_threads()
    try:
        if runtime != "eager":
            return runtime_profiles.cached(runtime, threads), None
        return common.device_profile(None, device, threads), None
    except profiles.ProfileError:
        flag = "" if runtime == "eager" else f" --runtime {runtime} --threads {threads}"
        what = f"{runtime} profile" if runtime != "eager" else f"device profile for {device}"
        return None, (
            f"note: no {what} with {threads} thread(s): run `netprof calibrate{flag}` to see predicted "
            "next to measured"
        )
