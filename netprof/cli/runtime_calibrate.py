"""``netprof calibrate --runtime R``: a runtime's device profile, a pack for another device, or its results.

Not a command of its own: ``netprof calibrate`` hands over here when ``--runtime``,
``--export-pack`` or ``--import-results`` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netprof.calibration import runtime as calibration
from netprof.cli import common
from netprof.errors import NetprofError
from netprof.report.listings import CalibrationReport
from netprof.runtimes import profile as runtime_profiles
from netprof.runtimes.backends import require

RUNTIMES = ("onnxruntime", "openvino")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("deployment runtimes")
    group.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help="profile this runtime instead of eager PyTorch: micro-benchmarks and fusion pairs exported to "
        "ONNX and timed in it (cached per runtime and thread count)",
    )
    group.add_argument(
        "--export-pack",
        type=Path,
        metavar="DIR",
        help="write the micro-benchmarks as ONNX files, a manifest and run.py (onnxruntime and numpy only) "
        "to a new directory, for a device netprof cannot reach",
    )
    group.add_argument(
        "--import-results",
        type=Path,
        metavar="RESULTS.json",
        help="make the profile from what a pack's run.py wrote on its device (with -o)",
    )


def wanted(args: argparse.Namespace) -> bool:
    return args.runtime is not None or args.export_pack is not None or args.import_results is not None


def _check(args: argparse.Namespace) -> str:
    runtime = args.runtime
    if runtime is None:
        raise NetprofError("--export-pack and --import-results need --runtime onnxruntime")
    if args.export_pack is not None and args.import_results is not None:
        raise NetprofError("--export-pack and --import-results are two steps: give one")
    if (args.export_pack or args.import_results) and runtime != "onnxruntime":
        raise NetprofError(f"packs run in ONNX Runtime only, not in {runtime}: use --runtime onnxruntime")
    if args.device != "cpu":
        raise NetprofError(f"--runtime {runtime} runs on the CPU: drop --device {args.device}")
    if args.import_results is None and args.export_pack is None:
        require(runtime)
    if args.export_pack is not None:
        require("onnxruntime")  # the exporter's onnx comes with the same extra
    return runtime


def _bar(err: Console):
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=True)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    runtime = _check(args)
    if args.export_pack is not None:
        with _bar(err) as bar:
            task = bar.add_task("pack", total=None)
            document = calibration.write_pack(
                args.export_pack,
                progress=lambda done, total, name: bar.update(
                    task, completed=done, total=total, description=name
                ),
            )
        common.say(
            err,
            f"wrote {len(document['benches'])} micro-benchmarks to {args.export_pack}: on the device, "
            f"`python run.py --threads N -o results.json`, then netprof calibrate --runtime onnxruntime "
            f"--import-results results.json -o profile.json",
        )
        return common.ExitStatus.SUCCESS
    threads = args.threads or torch.get_num_threads()
    if args.import_results is not None:
        profile = calibration.import_results(args.import_results)
        if args.output is None:
            common.say(err, "no -o given: the imported profile is only shown (and not cached)")
    else:
        path = runtime_profiles.cache_path(runtime, threads)
        found = None if args.force or not path.is_file() else runtime_profiles.load(path)
        if found is not None:
            common.say(err, f"cached profile from {path} (use --force to measure again)")
            profile = runtime_profiles.for_runtime(found, runtime, str(path))
        else:
            with _bar(err) as bar:
                task = bar.add_task("micro-benchmarks", total=None)
                profile = calibration.calibrate(
                    runtime,
                    threads,
                    progress=lambda done, total, name: bar.update(
                        task, completed=done, total=total, description=name
                    ),
                )
            with common.writing(path):
                runtime_profiles.save(profile, path)
            common.say(err, f"cached profile in {path}")
    if args.output is not None:
        with common.writing(args.output):
            runtime_profiles.save(profile, args.output)
        common.say(err, f"wrote {args.output}")
    common.emit("calibrate", args.format, CalibrationReport(None, profile), None, out, err)
    return common.ExitStatus.SUCCESS
