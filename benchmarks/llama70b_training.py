"""Llama-2-70B (examples/llama.py), one AdamW training step at batch 1 x 4096 tokens: counts and memory, on meta.

    python benchmarks/llama70b_training.py [--repetitions 3]

Each repetition is a fresh interpreter that builds the model under
``torch.device("meta")`` and runs ``netprof analyze examples/llama.py:llama70b
--train --optimizer adamw --memory``'s work twice: on fake CPU tensors (the
default for training: attention dispatches to the fused kernel, as a real run's)
and on meta tensors (``--device meta``: attention takes the unfused math path, which
saves its score matrices). The parent checks parameters, gradients, AdamW state and
the activations saved for backward against the closed forms below, prints medians
and spreads and writes ``benchmarks/results/llama70b_training.json``.

Requirement (issue 10): under 60 s and under 4 GB peak RSS on this 2-core machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import fresh_processes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "llama70b_training.json"
LIMIT_S = 60.0
PEAK_RSS_LIMIT_BYTES = 4_000_000_000
F32 = 4
LAYERS, HIDDEN, KV, FFN, HEADS, HEAD_DIM, VOCAB, TOKENS = 80, 8192, 1024, 28672, 64, 128, 32000, 4096
PARAMS = 68_976_648_192  # examples/llama.py's closed form, checked in tests/test_llama_example.py
PARAMETER_TENSORS = LAYERS * 9 + 3  # per layer: 2 norms, q k v o, gate up down; embedding, final norm, head


def saved_activation_bytes() -> int:
    """What the forward keeps for the backward, with fused attention, by hand (float32):

    per layer: two RMSNorms, each keeping x * rsqrt (T x H), its product with the weight (T x H, the
    projections' input) and rsqrt (T); the rotated q (T x H) and k (T x KV) and v (T x KV); attention's
    output (T x H) and log-sum-exp (heads x T); the two residual sums (2 T x H); gate, up, silu(gate) and
    their product (4 T x F). Around the layers: the embedding (T x H), cos and sin (2 T x head_dim), the
    final norm (2 T x H + T), and the loss (1).
    """
    t = TOKENS
    per_layer = 8 * t * HIDDEN + 2 * t * KV + 2 * t + HEADS * t + 4 * t * FFN
    around = t * HIDDEN + 2 * t * HEAD_DIM + 2 * t * HIDDEN + t + 1
    return F32 * (LAYERS * per_layer + around)


def child() -> None:
    import torch

    from netprof import pipeline
    from netprof.capture.workload import TrainStep

    sys.path.insert(0, str(ROOT / "examples"))
    import llama

    start = time.perf_counter()
    with torch.device("meta"):
        model, tokens = llama.llama70b()
    result = {}
    for mode in ("fake", "meta"):
        began = time.perf_counter()
        analysis = pipeline.analyze(model, TrainStep((tokens,), optimizer="adamw"), mode=mode, memory=True)
        memory = analysis.memory
        backward = dict(analysis.phases)["backward"]
        last = analysis.ops[-1].id
        result[mode] = {
            "seconds": time.perf_counter() - began,
            "peak_bytes": memory.peak_bytes,
            "peak_op": analysis.ops[memory.peak_op].op,
            "peak_module": memory.peak_module,
            "peak_phase": analysis.phase_of(memory.peak_op),
            "at_peak": memory.at_peak,
            "parameters": memory.timeline["parameters"][last],
            "gradients_at_end": memory.timeline["gradients"][last],
            "optimizer_state": memory.timeline["optimizer_state"][0],
            "saved_activations": memory.timeline["activations"][backward],
            "mult_adds_by_phase": {
                name: totals.mult_adds for name, totals in analysis.phase_totals().items()
            },
            "uncounted": analysis.uncounted,
        }
    result["total_s"] = time.perf_counter() - start
    result["peak_rss_bytes"] = fresh_processes.peak_rss_bytes()
    print(json.dumps(result))


def main() -> int:
    runs = fresh_processes.runs(__doc__.splitlines()[0], child, __file__, ROOT)
    if runs is None:
        return 1
    run = runs[0]
    fake, meta = run["fake"], run["meta"]
    weights = PARAMS * F32
    checks = {
        "parameters = 68,976,648,192 x 4 B": all(r["parameters"] == weights for r in (fake, meta)),
        "gradients = parameters": all(r["gradients_at_end"] == weights for r in (fake, meta)),
        "AdamW state = 2 x parameters + a 4-byte step per tensor": all(
            r["optimizer_state"] == 2 * weights + 4 * PARAMETER_TENSORS for r in (fake, meta)
        ),
        "saved activations (fused attention) = closed form": fake["saved_activations"]
        == saved_activation_bytes(),
        "every op counted": not fake["uncounted"] and not meta["uncounted"],
    }
    total = fresh_processes.summary([r["total_s"] for r in runs])
    rss = fresh_processes.summary([r["peak_rss_bytes"] for r in runs])
    passed = all(checks.values()) and total["median"] < LIMIT_S and rss["max"] < PEAK_RSS_LIMIT_BYTES
    print(f"Llama-2-70B, one AdamW step, batch 1 x {TOKENS} tokens, float32, {len(runs)} fresh processes")
    fresh_processes.print_stats([("build + two analyses (s)", total, 1), ("peak RSS (MiB)", rss, 1024**2)])
    for label, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {label}")
    for mode, record in (("fake (fused attention)", fake), ("meta (unfused attention)", meta)):
        print(
            f"{mode}: peak {record['peak_bytes'] / 1e12:.3f} TB in the {record['peak_phase']} "
            f"({record['peak_op']}, {record['peak_module'] or 'root'}); saved activations "
            f"{record['saved_activations'] / 1e9:.1f} GB; {record['seconds']:.1f} s"
        )
    print(f"requirement (under {LIMIT_S:.0f} s, peak RSS under 4 GB): {'met' if passed else 'MISSED'}")
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "llama70b_training",
                "command": "python benchmarks/llama70b_training.py",
                "machine": fresh_processes.machine(),
                "total_s": total,
                "peak_rss_bytes": rss,
                "checks": checks,
                "passed": passed,
                "saved_activations_closed_form": saved_activation_bytes(),
                "first_run": run,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
