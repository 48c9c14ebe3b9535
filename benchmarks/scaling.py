"""How netprof's analysis time scales: linear in the number of ops, flat in batch and resolution.

    python benchmarks/scaling.py [--repeats 5]

Three series, each point timed in this process with ``netprof.analyze`` (auto
mode, which runs on the meta device): ``first_s`` is the first call on that
configuration (no remembered meta kernel results for its shapes), ``median_s``
the median of ``--repeats`` further calls.

* depth: torchvision ``ResNet`` with bottleneck blocks, ``[n, n, n, n]`` blocks per
  stage for n = 1 .. 32, batch 1, 224 x 224: the op count grows with n.
* batch: resnet50 at 224 x 224, batch 1 .. 256.
* resolution: resnet50 at batch 1, 64 x 64 .. 1024 x 1024.

The depth series is fitted with a line through the origin (seconds per op); the
batch and resolution series report their largest / smallest time.
Writes ``benchmarks/results/scaling.{json,csv,md}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torchvision
from torchvision.models.resnet import Bottleneck, ResNet

import netprof

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _time(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> dict[str, Any]:
    start = time.perf_counter()
    analysis = netprof.analyze(model, x)
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        netprof.analyze(model, x)
        times.append(time.perf_counter() - start)
    return {
        "ops": analysis.totals.ops,
        "mult_adds": analysis.totals.mult_adds,
        "mode": analysis.mode,
        "first_s": first,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rows: list[dict[str, Any]] = []

    def run(series: str, label: str, model: torch.nn.Module, batch: int, side: int) -> None:
        x = torch.randn(batch, 3, side, side)
        row = {"series": series, "model": label, "batch": batch, "resolution": side}
        row.update(_time(model.eval(), x, args.repeats))
        rows.append(row)
        print(
            f"{series:<10} {label:<22} batch {batch:>4} res {side:>5}  ops {row['ops']:>6}  "
            f"first {row['first_s'] * 1e3:8.1f} ms  median {row['median_s'] * 1e3:8.1f} ms",
            flush=True,
        )

    for blocks in (1, 2, 4, 8, 16, 32):
        model = ResNet(Bottleneck, [blocks] * 4)
        run("depth", f"resnet-bottleneck-{blocks}x4", model, 1, 224)
    resnet50 = torchvision.models.resnet50(weights=None)
    for batch in (1, 4, 16, 64, 256):
        run("batch", "resnet50", resnet50, batch, 224)
    for side in (64, 128, 224, 512, 1024):
        run("resolution", "resnet50", resnet50, 1, side)

    depth = [r for r in rows if r["series"] == "depth"]
    # least squares through the origin: seconds = per_op * ops
    per_op = sum(r["ops"] * r["median_s"] for r in depth) / sum(r["ops"] ** 2 for r in depth)
    mean = statistics.fmean(r["median_s"] for r in depth)
    residual = sum((r["median_s"] - per_op * r["ops"]) ** 2 for r in depth)
    total = sum((r["median_s"] - mean) ** 2 for r in depth)
    fit = {"seconds_per_op": per_op, "r_squared": 1 - residual / total if total else 1.0}
    spread = {}
    for series in ("batch", "resolution"):
        medians = [r["median_s"] for r in rows if r["series"] == series]
        spread[series] = {"max_over_min_median": max(medians) / min(medians)}
    summary = {
        "benchmark": "scaling",
        "command": "python benchmarks/scaling.py",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "repeats": args.repeats,
        "depth_fit": fit,
        "flat": spread,
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (RESULTS / "scaling.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Analysis time against ops, batch and resolution",
        "",
        (
            f"`python benchmarks/scaling.py`, {os.cpu_count()} CPUs, torch {torch.__version__}; median of "
            f"{args.repeats} calls after a first (cold) call per configuration."
        ),
        "",
        (
            f"Depth series: {per_op * 1e6:.1f} us per op (line through the origin, R^2 = {fit['r_squared']:.3f}). "
            f"Batch 1..256: slowest / fastest median = {spread['batch']['max_over_min_median']:.2f}. "
            f"Resolution 64..1024: {spread['resolution']['max_over_min_median']:.2f}."
        ),
        "",
        "| series | model | ops | batch | resolution | first call s | median s |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['series']} | {r['model']} | {r['ops']} | {r['batch']} | {r['resolution']} | "
        f"{r['first_s']:.4f} | {r['median_s']:.4f} |"
        for r in rows
    ]
    (RESULTS / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:7]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
