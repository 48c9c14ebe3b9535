"""``netprof calibrate``: this machine's roof (peak FLOP/s, bandwidth) and its device profile, cached."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netprof.calibration.profile import DEFAULT_BUDGET_S
from netprof.calibration.profile import calibrate as calibrate_profile
from netprof.cli import argtypes, common, runtime_calibrate
from netprof.devices import TIMING_DEVICES
from netprof.prediction import profile as profiles
from netprof.report.listings import CalibrationReport
from netprof.timing import calibrate
from netprof.timing.run import TimingError

NAME = "calibrate"
HELP = "measure this machine: the roofline's peak FLOP/s and bandwidth, and a device profile (cached)"
DESCRIPTION = (
    "Measure peak FLOP/s (a large GEMM) and memory bandwidth (a large copy), then time synthetic "
    "micro-benchmarks of every op kind and fit a device profile (netprof.profile/1) that netprof predict "
    "uses. Both are cached under $XDG_CACHE_HOME/netprof (else ~/.cache/netprof), keyed by device, "
    "thread count and dtype; -o also writes the profile to a file that can be used on another machine."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=TIMING_DEVICES, default="cpu")
    common.add_threads_argument(parser)
    parser.add_argument("--dtype", type=argtypes.dtype, default=torch.float32, help="dtype of the profile")
    common.add_budget_argument(parser, DEFAULT_BUDGET_S, "time for the micro-benchmarks")
    parser.add_argument(
        "-o", "--output", type=Path, metavar="PROFILE.json", help="also write the profile here"
    )
    parser.add_argument("--force", action="store_true", help="measure again even if cached values exist")
    common.add_format_argument(parser, NAME, "the report, on stdout")
    runtime_calibrate.add_arguments(parser)


def _roof(args: argparse.Namespace, threads: int, err: Console) -> calibrate.Calibration:
    path = calibrate.cache_path()
    found = None if args.force else calibrate.load(args.device, threads, path)
    if found is None:
        with err.status(f"calibrating {args.device} with {threads} threads ...", spinner="dots"):
            found = calibrate.measure(args.device, threads)
        calibrate.save(found, path)
        err.print(f"cached in {path}", highlight=False)
    else:
        err.print(f"cached value from {path} (use --force to measure again)", highlight=False)
    return found


def _profile(args: argparse.Namespace, threads: int, err: Console) -> profiles.DeviceProfile:
    dtype = str(args.dtype).removeprefix("torch.")
    path = profiles.cache_path(args.device, threads, dtype)
    if path.is_file() and not args.force:
        common.say(err, f"cached profile from {path} (use --force to measure again)")
        return profiles.load(path)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("micro-benchmarks", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"micro-benchmark {name}")

        profile = calibrate_profile(args.device, threads, args.dtype, args.budget, progress)
    with common.writing(path):
        profiles.save(profile, path)
    common.say(err, f"cached profile in {path}")
    return profile


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    """Show the cached roof and profile, or measure and cache them."""
    if runtime_calibrate.wanted(args):
        return runtime_calibrate.run(args, out, err)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise TimingError("device 'cuda' requested but torch.cuda.is_available() is False")
    threads = args.threads if args.threads is not None else torch.get_num_threads()
    roof = _roof(args, threads, err)
    profile = _profile(args, threads, err)
    if args.output is not None:
        with common.writing(args.output):
            profiles.save(profile, args.output)
        common.say(err, f"wrote {args.output}")
    common.emit(NAME, args.format, CalibrationReport(roof, profile), None, out, err)
    return common.ExitStatus.SUCCESS
