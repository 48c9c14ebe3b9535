"""The flags of the commands that time whole models (``plot``, ``compare``)."""

from __future__ import annotations

import argparse

from rich.console import Console

from netprof import pipeline
from netprof.cli import common
from netprof.devices import TIMING_DEVICES
from netprof.timing.run import TimingOptions

DEFAULT_REPEAT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_input_argument(parser)
    common.add_repeat_and_threads(
        parser, DEFAULT_REPEAT, f"timed passes per model (default {DEFAULT_REPEAT})"
    )
    parser.add_argument("--device", choices=TIMING_DEVICES, default="cpu", help="where to time (default cpu)")
    common.add_predict_argument(parser, "also predict each latency")


def options(args: argparse.Namespace) -> TimingOptions:
    return TimingOptions(device=args.device, repeat=args.repeat, threads=args.threads)


def time_specs(args: argparse.Namespace, specs: list[str], err: Console) -> list[tuple[str, pipeline.Result]]:
    """Each spec timed (and predicted with ``--predict``), with a line on stderr as each starts."""
    return pipeline.time_specs(
        specs,
        options(args),
        input_shapes=args.input,
        progress=lambda line: common.say(err, line),
        profile=common.predict_profile(args),
    )
