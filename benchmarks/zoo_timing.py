"""Time the seed zoo at batch 1: latency next to mult_adds and MAC, and how well each ranks latency.

    python benchmarks/zoo_timing.py [--repeat 30] [--threads 1]

Each network is timed with ``netprof.pipeline.time_specs``; its latency is the
median of the plain forward passes (no instrumentation), with IQR and run
count. Writes benchmarks/results/zoo_timing.json, .md and .png. Absolute times
and images/s are of this machine only; mult_adds and MAC are not.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netprof.charts.common import machine
from netprof.charts.files import comparison_figure, save
from netprof.pipeline import time_specs
from netprof.timing.ranking import rank_models, rho_text, to_dict
from netprof.timing.run import TimingOptions

RESULTS = ROOT / "benchmarks" / "results"
SEED = {
    "shufflenet_v1_g3": "netprof.zoo:shufflenet_v1_g3",
    "shufflenet_v2_x1_0": "netprof.zoo:shufflenet_v2_x1_0",
    "mobilenet_v1_1.0": "netprof.zoo:mobilenet_v1",
    "mobilenet_v2": "netprof.zoo:mobilenet_v2",
    "mobilenet_v3_large": "netprof.zoo:mobilenet_v3_large",
    "squeezenet1_1": "netprof.zoo:squeezenet1_1",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    results = time_specs(
        list(SEED.values()),
        TimingOptions(repeat=args.repeat, threads=args.threads),
        progress=lambda line: print(line, file=sys.stderr),
    )
    comparison = rank_models([(name, r.analysis, r.timing) for name, (_, r) in zip(SEED, results)])
    where = machine(comparison.device, comparison.threads)
    data = {
        "machine": where,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "batch": 1,
        "repeat": args.repeat,
        "note": "absolute times and images/s are machine-specific; mult_adds and mem_access_bytes are not",
        **to_dict(comparison),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "zoo_timing.json").write_text(json.dumps(data, indent=1) + "\n")
    lines = [
        "# Seed zoo timing (batch 1)",
        "",
        (
            f"`python benchmarks/zoo_timing.py --repeat {args.repeat} --threads {args.threads}` on {where}, "
            f"torch {torch.__version__}. **Times and images/s are of this machine only** (a shared, noisy 2-core "
            "VM); latency is the median of plain forward passes (no instrumentation)."
        ),
        "",
        "| model | mult_adds (M) | MAC (MB) | params (M) | latency ms (median) | IQR ms | runs | images/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {p.name} | {p.mult_adds / 1e6:.1f} | {p.mem_access_bytes / 1e6:.1f} | {p.params / 1e6:.2f} | "
            f"{p.latency.median * 1e3:.2f} | {p.latency.iqr * 1e3:.2f} | {p.latency.runs} | {p.images_per_s:.1f} |"
            for p in comparison.points
        ],
        "",
        (
            f"Spearman rank correlation of latency with mult_adds: **{rho_text(comparison.rho_mult_adds)}**; "
            f"with MAC (mem_access_bytes): **{rho_text(comparison.rho_mem_access)}** (n = {len(comparison.points)})."
        ),
        "",
        "![latency vs mult_adds and MAC](zoo_timing.png)",
        "",
    ]
    (RESULTS / "zoo_timing.md").write_text("\n".join(lines))
    save(
        comparison_figure(comparison, [(name, r.timing) for name, (_, r) in zip(SEED, results)]),
        RESULTS / "zoo_timing",
    )
    (RESULTS / "zoo_timing.svg").unlink()  # the PNG is the result kept in the repository
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
