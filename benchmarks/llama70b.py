"""How long and how much memory netprof takes to analyse Llama-2-70B on the meta device.

    python benchmarks/llama70b.py [--repetitions 3]

Each repetition is a fresh interpreter, so imports, caches and the peak RSS of
one run cannot leak into the next. The child builds the model under
``torch.device("meta")`` (no weight is allocated), runs
``netprof.analyze(model, tokens, mode="meta")`` and reports its wall times and
``ru_maxrss``. The parent prints the median and spread and writes
``benchmarks/results/llama70b.json``.

Requirement: analysis under 20 s and peak RSS under 2 GB on a 2-core machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import fresh_processes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "llama70b.json"
ANALYSIS_LIMIT_S = 20.0
PEAK_RSS_LIMIT_BYTES = 2_000_000_000  # 2 GB, the stricter reading of the requirement
# Per token and layer: q, o 2*8192^2 + k, v 2*8192*1024 + FFN 3*8192*28672 + attention 2*4096*8192
# = 134,217,728 + 16,777,216 + 704,643,072 + 67,108,864 = 922,746,880; 80 layers plus the LM head
# 8192*32000 = 74,081,894,400 per token; times 4096 tokens:
EXPECTED_MULT_ADDS = 303_439_439_462_400


def child() -> None:
    """One repetition; prints one JSON line on stdout."""
    import torch

    import netprof

    sys.path.insert(0, str(ROOT / "examples"))
    import llama

    rss_after_import = fresh_processes.peak_rss_bytes()
    start = time.perf_counter()
    with torch.device("meta"):
        model, tokens = llama.llama70b()
    built = time.perf_counter()
    rss_after_build = fresh_processes.peak_rss_bytes()
    analysis = netprof.analyze(model, tokens, mode="meta")
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "build_s": built - start,
                "analysis_s": done - built,
                "build_and_analysis_s": done - start,
                "peak_rss_bytes": fresh_processes.peak_rss_bytes(),
                "peak_rss_after_import_bytes": rss_after_import,
                "peak_rss_after_build_bytes": rss_after_build,
                "ops": analysis.totals.ops,
                "mult_adds": analysis.totals.mult_adds,
                "params": analysis.params,
                "uncounted": analysis.uncounted,
                "mode": analysis.mode,
            }
        )
    )


def main() -> int:
    import torch

    runs = fresh_processes.runs(__doc__.splitlines()[0], child, __file__, ROOT)
    if runs is None:
        return 1

    build_and_analysis = fresh_processes.summary([r["build_and_analysis_s"] for r in runs])
    analysis = fresh_processes.summary([r["analysis_s"] for r in runs])
    peak_rss = fresh_processes.summary([r["peak_rss_bytes"] for r in runs])
    counts_right = all(r["mult_adds"] == EXPECTED_MULT_ADDS and not r["uncounted"] for r in runs)
    passed = counts_right and analysis["median"] < ANALYSIS_LIMIT_S and peak_rss["max"] < PEAK_RSS_LIMIT_BYTES

    print(f"Llama-2-70B, meta device, {len(runs)} fresh processes")
    fresh_processes.print_stats(
        [
            ("build + analysis (s)", build_and_analysis, 1),
            ("analysis (s)", analysis, 1),
            ("peak RSS (MiB)", peak_rss, 1024**2),
        ]
    )
    for label, stats in (("analysis", analysis), ("build + analysis", build_and_analysis)):
        if stats["max"] - stats["min"] > 0.1 * stats["median"]:
            print(f"warning: {label} spread (max - min) exceeds 10% of its median")
    print(f"ops {runs[0]['ops']:,}  mult_adds {runs[0]['mult_adds']:,}  params {runs[0]['params']:,}")
    if not counts_right:
        print(f"mult_adds differ from the closed form {EXPECTED_MULT_ADDS:,} or ops are uncounted")
    print(
        f"requirement (analysis < {ANALYSIS_LIMIT_S:.0f} s, peak RSS < 2 GB): {'met' if passed else 'MISSED'}"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "llama70b",
        "command": "python benchmarks/llama70b.py",
        "machine": {
            **fresh_processes.machine(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "repetitions": len(runs),
        "build_and_analysis_s": build_and_analysis,
        "analysis_s": analysis,
        "peak_rss_bytes": peak_rss,
        "requirement": {
            "analysis_s_below": ANALYSIS_LIMIT_S,
            "peak_rss_bytes_below": PEAK_RSS_LIMIT_BYTES,
            "mult_adds_expected": EXPECTED_MULT_ADDS,
            "met": passed,
        },
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
