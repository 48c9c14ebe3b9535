"""``netprof predict``: a model's latency on a device, from a meta capture and a device profile."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console

from netprof import pipeline
from netprof.cli import common
from netprof.devices import TIMING_DEVICES
from netprof.report.model import ModelReport

NAME = "predict"
HELP = "predict a model's latency on a device without running it (needs a profile: netprof calibrate)"
DESCRIPTION = (
    "Capture the model on meta (nothing runs, any size) and price every op with a device profile: "
    "predicted latency end to end, per category, module and op, each op labelled overhead-, compute- or "
    "memory-bound. Without --profile, the profile netprof calibrate cached for this device and thread count."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help=f"{common.SPEC_HELP}; default: {common.DEFAULT_SPEC}")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="a profile written by netprof calibrate -o"
    )
    parser.add_argument("--device", choices=TIMING_DEVICES, default="cpu", help="the device to predict for")
    parser.add_argument(
        "--runtime",
        choices=("onnxruntime", "openvino"),
        help="predict the model as this runtime runs it (fused kernels), on its profile "
        "(netprof calibrate --runtime R; without --profile, the one cached for R and the thread count)",
    )
    common.add_threads_argument(parser)
    common.add_input_argument(parser)
    parser.add_argument("--dtype", type=common.argtypes.dtype, default=torch.float32, help="dtype of --input")
    common.add_format_argument(parser, NAME)
    common.add_output_argument(parser)
    common.add_timeout_argument(parser)
    parser.add_argument("--depth", type=int, default=1, help="module depth of the table (default 1)")
    common.add_detections_argument(parser)
    common.add_config_argument(parser)  # [tool.netprof.stages]: a detector's stages by module path


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    spec = args.spec or common.DEFAULT_SPEC
    config = common.read_config(args.config)
    profile = common.latency_profile(args.profile, args.runtime, args.device, args.threads, args.dtype)
    notes = () if args.spec else (common.default_spec_note("predicting"),)
    if args.threads is not None and args.threads != profile.threads:
        notes += (f"the profile was measured with {profile.threads} thread(s), not {args.threads}",)
    # On meta (no weight is read, nothing runs), unless the model needs data (a detector's box
    # filtering): then it runs once on the CPU, and a note says so.
    request = pipeline.RunRequest(
        spec,
        args.input,
        args.dtype,
        "auto",
        notes=notes,
        profile=profile,
        detections=args.detections or (),
        stage_modules=config.stage_modules,
    )
    with err.status(f"capturing {spec} on meta ...", spinner="dots"):
        result = pipeline.execute(request)
    common.emit(NAME, args.format, ModelReport(result, spec, args.depth), args.output, out, err)
    return common.ExitStatus.SUCCESS
