"""Repetitions in fresh interpreters, so that imports, caches and peak RSS cannot leak between them.

A benchmark script calls ``repeat(__file__, n)`` in its parent; each child runs the script
with ``--child``, does one repetition and prints one JSON line, which ``repeat`` collects.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def peak_rss_bytes() -> int:
    """This process's peak resident set size; ``ru_maxrss`` is in KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def runs(description: str, child: Callable[[], None], script: str, cwd: Path) -> list[dict] | None:
    """The command line of a benchmark: ``--child`` runs one repetition here and exits; otherwise the
    ``--repetitions`` rows of fresh children (None if one failed)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        sys.exit(0)
    return repeat(script, args.repetitions, cwd)


def repeat(script: str, repetitions: int, cwd: Path) -> list[dict] | None:
    """``script --child`` run ``repetitions`` times; None (after printing its stderr) if one fails."""
    runs = []
    for index in range(repetitions):
        proc = subprocess.run(
            [sys.executable, script, "--child"], capture_output=True, text=True, check=False, cwd=cwd
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            print(f"repetition {index + 1} failed with exit code {proc.returncode}", file=sys.stderr)
            return None
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def print_stats(rows: list[tuple[str, dict[str, float], float]]) -> None:
    """A median / min / max table, each row's values divided by its scale."""
    width = max(len(label) for label, _, _ in rows) + 2
    print(f"{'':<{width}}{'median':>10}{'min':>10}{'max':>10}")
    for label, stats, scale in rows:
        print(f"{label:<{width}}" + "".join(f"{stats[k] / scale:>10.1f}" for k in ("median", "min", "max")))
