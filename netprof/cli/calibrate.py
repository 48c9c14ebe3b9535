"""``netprof calibrate``: this machine's peak FLOP/s and memory bandwidth, the roof of the roofline."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from netprof.cli import common
from netprof.timing import calibrate
from netprof.timing.report import render_calibration
from netprof.timing.run import TimingError

NAME = "calibrate"
HELP = "measure this machine's peak FLOP/s and memory bandwidth for the roofline (cached)"
DESCRIPTION = (
    "Measure peak fp32 FLOP/s (a large GEMM) and memory bandwidth (a large copy) once; "
    "cached under $XDG_CACHE_HOME/netprof (else ~/.cache/netprof), keyed by device and thread count."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    common.add_threads_argument(parser)
    parser.add_argument("--force", action="store_true", help="measure again even if a cached value exists")
    parser.add_argument("--format", choices=["table", "json"], default="table")


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    """Show the cached roof, or measure and cache it; returns the exit status (0)."""
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise TimingError("device 'cuda' requested but torch.cuda.is_available() is False")
    threads = args.threads if args.threads is not None else torch.get_num_threads()
    path = calibrate.cache_path()
    found = None if args.force else calibrate.load(args.device, threads, path)
    if found is None:
        with err.status(f"calibrating {args.device} with {threads} threads ...", spinner="dots"):
            found = calibrate.measure(args.device, threads)
        calibrate.save(found, path)
        err.print(f"cached in {path}", highlight=False)
    else:
        err.print(f"cached value from {path} (use --force to measure again)", highlight=False)
    if args.format == "json":
        out.file.write(json.dumps(calibrate.to_dict(found), indent=1) + "\n")
    else:
        render_calibration(found, out)
    return common.ExitStatus.SUCCESS
