"""A whole registry swept: every torchvision model (or every timm model, with timm installed).

    python benchmarks/sweep_registry.py torchvision [--jobs 2]
    python benchmarks/sweep_registry.py timm [--jobs 2]

Runs ``netprof sweep REGISTRY:* -o benchmarks/results/sweep_REGISTRY --jobs N``
(analysis on meta, the rules, no timing), then records the wall time, the time
per model and the failures by cause in ``benchmarks/results/sweep_REGISTRY.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import fresh_processes

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", choices=["torchvision", "timm"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "results" / f"sweep_{args.registry}"
    command = [
        sys.executable,
        "-m",
        "netprof",
        "sweep",
        f"{args.registry}:*",
        "-o",
        str(out.relative_to(ROOT)),  # run in ROOT: recorded without this checkout's own path
        "--jobs",
        str(args.jobs),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines() if line.strip()]
    failed = [row for row in rows if row["error"]]
    causes = Counter(row["error"].split(":")[0] for row in failed)
    record = {
        "benchmark": f"sweep_{args.registry}",
        "command": " ".join(["netprof", *command[3:]]),
        "machine": fresh_processes.machine(),
        "jobs": args.jobs,
        "models": len(rows),
        "failed": len(failed),
        "wall_s": wall,
        "seconds_per_model": wall / max(len(rows), 1),
        "failures_by_cause": dict(causes.most_common()),
        "failures": {row["name"]: row["error"] for row in failed},
    }
    (out.parent / f"sweep_{args.registry}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"{len(rows)} models, {len(failed)} failed, {wall:.0f} s ({wall / max(len(rows), 1):.2f} s a model)"
    )
    for cause, count in causes.most_common():
        print(f"  {count:4d}  {cause}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
