"""Llama-2-70B as a Hugging Face config: a 4096-token prefill and 256 decode steps, counted on meta.

    python benchmarks/llama70b_serving.py [--repetitions 3]

The configuration is benchmarks/configs/llama-2-70b/config.json, the published
one (80 layers, hidden 8192, 64 heads / 8 KV heads, FFN 28672, vocab 32000,
float16). Each repetition is a fresh interpreter that runs ``netprof analyze
hf:... --prefill 4096 --decode 256``'s work (``netprof.serving.analyze_generation``)
and reports its wall time and ``ru_maxrss``. The parent checks the per-token
decode cost and the KV-cache size against the closed forms below, prints the
median and spread and writes ``benchmarks/results/llama70b_serving.json``.

Requirement (issue 9): under 30 s and under 2 GB peak RSS on this 2-core machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import fresh_processes

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "configs" / "llama-2-70b"
RESULTS = ROOT / "benchmarks" / "results" / "llama70b_serving.json"
LIMIT_S = 30.0
PEAK_RSS_LIMIT_BYTES = 2_000_000_000
PROMPT, STEPS = 4096, 256
LAYERS, HIDDEN, KV_HEADS, HEAD_DIM, FFN, VOCAB, ITEMSIZE = 80, 8192, 8, 128, 28672, 32000, 2


def decode_mult_adds(context: int) -> int:
    """One token at ``context``: q, o 2*8192^2 + k, v 2*8192*1024 + FFN 3*8192*28672 per layer,
    attention 2*context*8192 per layer, and the LM head 8192*32000."""
    per_layer = (
        2 * HIDDEN * HIDDEN + 2 * HIDDEN * KV_HEADS * HEAD_DIM + 3 * HIDDEN * FFN + 2 * context * HIDDEN
    )
    return LAYERS * per_layer + HIDDEN * VOCAB


def kv_cache_bytes(tokens: int) -> int:
    """2 (K and V) x layers x KV heads x head_dim x tokens x 2 bytes (float16)."""
    return 2 * LAYERS * KV_HEADS * HEAD_DIM * tokens * ITEMSIZE


def child() -> None:
    """One repetition; prints one JSON line on stdout."""
    start = time.perf_counter()
    from netprof import pipeline
    from netprof.serving import analyze_generation

    imported = time.perf_counter()
    loaded, _ = pipeline.load_on_meta(f"hf:{CONFIG}", [(1, PROMPT)])
    built = time.perf_counter()
    generation = analyze_generation(loaded.model, prefill=PROMPT, decode=STEPS)
    done = time.perf_counter()
    decode = generation.decode
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "build_s": built - imported,
                "analysis_s": done - built,
                "total_s": done - start,
                "peak_rss_bytes": fresh_processes.peak_rss_bytes(),
                "mode": generation.prefill_analysis.mode,
                "prefill_mult_adds": generation.prefill.total.mult_adds,
                "decode_step_mult_adds": [step.mult_adds for step in decode.steps],
                "decode_contexts": [step.context for step in decode.steps],
                "kv_cache_bytes_after_prefill": generation.prefill.kv_cache_bytes,
                "kv_cache_bytes_at_end": decode.kv_cache_bytes,
                "decode_step_mem_access_bytes": [
                    decode.steps[0].mem_access_bytes,
                    decode.steps[-1].mem_access_bytes,
                ],
                "decode_step_weight_bytes": decode.steps[0].weight_bytes,
                "prefill_intensity": generation.prefill.total.intensity,
                "decode_intensity": decode.total.intensity,
                "uncounted": generation.prefill_analysis.uncounted,
                "notes": list(generation.notes),
            }
        )
    )


def main() -> int:
    runs = fresh_processes.runs(__doc__.splitlines()[0], child, __file__, ROOT)
    if runs is None:
        return 1
    run = runs[0]
    expected_steps = [decode_mult_adds(PROMPT + k) for k in range(1, STEPS + 1)]
    checks = {
        "decode per-token mult_adds equal the closed form at every step": run["decode_step_mult_adds"]
        == expected_steps,
        "KV cache after the prefill equals the closed form": run["kv_cache_bytes_after_prefill"]
        == kv_cache_bytes(PROMPT),
        "KV cache at the end equals the closed form": run["kv_cache_bytes_at_end"]
        == kv_cache_bytes(PROMPT + STEPS),
        "every op counted": not run["uncounted"],
    }
    total = fresh_processes.summary([r["total_s"] for r in runs])
    analysis = fresh_processes.summary([r["analysis_s"] for r in runs])
    rss = fresh_processes.summary([r["peak_rss_bytes"] for r in runs])
    passed = all(checks.values()) and total["median"] < LIMIT_S and rss["max"] < PEAK_RSS_LIMIT_BYTES

    print(f"Llama-2-70B (hf: config), prefill {PROMPT}, {STEPS} decode steps, {len(runs)} fresh processes")
    fresh_processes.print_stats(
        [
            ("import + build + count (s)", total, 1),
            ("count (s)", analysis, 1),
            ("peak RSS (MiB)", rss, 1024**2),
        ]
    )
    for label, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {label}")
    print(
        f"decode step 1: {run['decode_step_mult_adds'][0]:,} mult_adds, KV cache at the end "
        f"{run['kv_cache_bytes_at_end']:,} bytes; intensity prefill {run['prefill_intensity']:.1f}, "
        f"decode {run['decode_intensity']:.2f} flop/byte"
    )
    print(f"requirement (under {LIMIT_S:.0f} s, peak RSS under 2 GB): {'met' if passed else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "llama70b_serving",
        "command": "python benchmarks/llama70b_serving.py",
        "machine": fresh_processes.machine(),
        "total_s": total,
        "analysis_s": analysis,
        "peak_rss_bytes": rss,
        "checks": checks,
        "passed": passed,
        "first_run": {k: v for k, v in run.items() if k != "decode_step_mult_adds"},
        "decode_step_mult_adds_first_last": [
            run["decode_step_mult_adds"][0],
            run["decode_step_mult_adds"][-1],
        ],
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
