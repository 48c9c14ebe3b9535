"""Command-line pieces for timing, to be wired into ``netprof.cli``.

    add_time_arguments(analyze_parser)          # --time, --repeat, --budget, --threads
    analysis = netprof.analyze(..., **time_options(args))
    add_calibrate_parser(subparsers)            # netprof calibrate; args.handler(args, out, err)

Errors a user can fix (no CUDA, a bad thread count) raise ``TimingError``,
which the CLI reports as a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from netprof.cli.argtypes import positive
from netprof.timing import calibrate
from netprof.timing.report import render_calibration
from netprof.timing.run import DEFAULT_BUDGET_S, TimingError


def add_time_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--time``, ``--repeat``, ``--budget`` and ``--threads`` to the ``analyze`` parser."""
    group = parser.add_argument_group("timing")
    group.add_argument(
        "--time",
        action="store_true",
        help="also run the model for real and time every op (capture becomes 'real'; needs --device cpu or auto)",
    )
    group.add_argument(
        "--repeat",
        type=positive(int),
        metavar="N",
        help="timed passes (default: as many as fit in --budget)",
    )
    group.add_argument(
        "--budget",
        type=positive(float),
        default=DEFAULT_BUDGET_S,
        metavar="SECONDS",
        help=f"time spent on timed passes when --repeat is not given (default {DEFAULT_BUDGET_S:g})",
    )
    group.add_argument(
        "--threads",
        type=positive(int),
        metavar="N",
        help="torch intra-op threads while timing (default: torch's)",
    )


def time_options(args: argparse.Namespace, device: str = "cpu") -> dict[str, Any]:
    """Keyword arguments of ``netprof.analyze`` for the parsed timing flags."""
    return {
        "time": bool(args.time),
        "device": device,
        "repeat": args.repeat,
        "budget_s": args.budget,
        "threads": args.threads,
    }


def add_calibrate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``netprof calibrate``; the parsed namespace's ``handler(args, out, err)`` runs it."""
    parser = subparsers.add_parser(
        "calibrate",
        help="measure this machine's peak FLOP/s and memory bandwidth for the roofline (cached)",
        description="Measure peak fp32 FLOP/s (a large GEMM) and memory bandwidth (a large copy) once; "
        "cached under $XDG_CACHE_HOME/netprof (else ~/.cache/netprof), keyed by device and thread count.",
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--threads", type=positive(int), metavar="N", help="torch intra-op threads (default: torch's)"
    )
    parser.add_argument("--force", action="store_true", help="measure again even if a cached value exists")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(handler=calibrate_command)
    return parser


def calibrate_command(args: argparse.Namespace, out: Console, err: Console) -> int:
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
    return 0
