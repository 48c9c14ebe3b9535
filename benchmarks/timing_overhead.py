"""What a timed analysis costs compared with running the model: torchvision mobilenet_v2, batch 1.

    python benchmarks/timing_overhead.py [--repetitions 5] [--repeat 20] [--threads 1]

One repetition times ``netprof.run(model, x, timing=TimingOptions(repeat=R))`` as a
whole (real capture, pricing, warm-up, timed and plain passes, attribution),
counts the forward passes it ran (1 capture + 2 x (warm-up + timed): each
timing round is one plain and one instrumented pass), and right after times
that many plain ``model(x)`` calls in eval mode without autograd. The ratio of
the two walls is taken per repetition, so both sides of a ratio see the same
machine load; the figures are medians over repetitions with their IQR.

Requirement: the median ratio is at most 3 (a timed analysis costs no more
than 3x the forward passes it runs). Writes benchmarks/results/timing_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torchvision

import netprof
from netprof.timing import Measurement
from netprof.timing.measurement import quantile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "timing_overhead.json"
RATIO_LIMIT = 3.0


def _plain_passes(model: torch.nn.Module, x: torch.Tensor, passes: int) -> float:
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(passes):
            model(x)
        return time.perf_counter() - start


def _line(label: str, m: Measurement, scale: float = 1.0, unit: str = "s") -> str:
    return f"{label:<34}{m.median * scale:>10.3f}{m.iqr * scale:>10.3f} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="timed passes per analysis")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sides")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    x = torch.randn(1, 3, 224, 224)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        _plain_passes(model, x, 3)  # warm the process: allocator, thread pool, oneDNN primitives
        netprof.run(model, x, timing=netprof.TimingOptions(repeat=2, threads=args.threads))
        analyses, plains, ratios, passes, per_pass = [], [], [], [], []
        for _ in range(args.repetitions):
            start = time.perf_counter()
            timing = netprof.run(
                model, x, timing=netprof.TimingOptions(repeat=args.repeat, threads=args.threads)
            ).timing
            analysed = time.perf_counter() - start
            count = 1 + 2 * (timing.warmup + timing.runs + timing.diverged_runs)
            plain = _plain_passes(model, x, count)
            analyses.append(analysed)
            plains.append(plain)
            ratios.append(analysed / plain)
            passes.append(count)
            per_pass.append((timing.end_to_end.median, timing.plain.median, timing.attributed_s))
    finally:
        torch.set_num_threads(previous)

    analysis_m = Measurement.of(analyses, args.threads)
    plain_m = Measurement.of(plains, args.threads)
    ratio = {
        "median": quantile(ratios, 0.5),
        "q1": quantile(ratios, 0.25),
        "q3": quantile(ratios, 0.75),
        "values": ratios,
    }
    instrumented_m = Measurement.of([p[0] for p in per_pass], args.threads)
    plain_pass_m = Measurement.of([p[1] for p in per_pass], args.threads)
    ops_m = Measurement.of([p[2] for p in per_pass], args.threads)
    passed = ratio["median"] <= RATIO_LIMIT

    print(
        f"mobilenet_v2, batch 1, {args.threads} thread(s), {args.repetitions} repetitions, "
        f"{passes[0]} forward passes per timed analysis (repeat={args.repeat})"
    )
    print(f"{'':<34}{'median':>10}{'IQR':>10}")
    print(_line("timed analysis wall", analysis_m))
    print(_line("same number of plain passes wall", plain_m))
    print(f"{'ratio':<34}{ratio['median']:>10.3f}{ratio['q3'] - ratio['q1']:>10.3f} x")
    print(_line("instrumented pass (inside timing)", instrumented_m, 1e3, "ms"))
    print(_line("plain pass (inside timing)", plain_pass_m, 1e3, "ms"))
    print(_line("sum of op medians", ops_m, 1e3, "ms"))
    for m, label in ((analysis_m, "timed analysis"), (plain_m, "plain passes")):
        if m.warning:
            print(f"warning: {label}: {m.warning}")
    print(f"requirement: ratio <= {RATIO_LIMIT:g}: {'PASS' if passed else 'FAIL'}")

    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "benchmark": "timing_overhead",
                    "command": "python benchmarks/timing_overhead.py "
                    f"--repetitions {args.repetitions} --repeat {args.repeat} --threads {args.threads}",
                    "machine": {
                        "platform": platform.platform(),
                        "processor": platform.processor(),
                        "cpu_count": os.cpu_count(),
                        "python": platform.python_version(),
                        "torch": torch.__version__,
                        "torchvision": torchvision.__version__,
                        "threads": args.threads,
                    },
                    "model": "torchvision.models.mobilenet_v2",
                    "input": [1, 3, 224, 224],
                    "repetitions": args.repetitions,
                    "repeat": args.repeat,
                    "forward_passes_per_analysis": passes[0],
                    "timed_analysis_s": analysis_m.to_dict(),
                    "plain_passes_s": plain_m.to_dict(),
                    "ratio": ratio,
                    "instrumented_pass_s": instrumented_m.to_dict(),
                    "plain_pass_s": plain_pass_m.to_dict(),
                    "attributed_op_s": ops_m.to_dict(),
                    "requirement": {"ratio_at_most": RATIO_LIMIT},
                    "passed": passed,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
