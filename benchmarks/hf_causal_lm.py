"""Every causal-LM model type of the installed transformers, from its default config, through prefill and decode.

    python benchmarks/hf_causal_lm.py [--types mixtral qwen2_moe ...] [--timeout 300] [--out FILE]

For each model type in ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES``: the default config
(``AutoConfig.for_model(type)``, full size, never shrunk) saved to a directory and
analysed as ``netprof analyze hf:DIR --prefill 8 --decode 2`` does (built on meta,
captured on fake tensors). Each type's outcome is one of

- ``analyzed``: the prefill's mult_adds, and the ops left uncounted in any captured pass (``{}`` is the goal);
- ``refused``: a ``NetprofError``, the one line the command line would print (exit 2);
- ``crashed``: any other exception (exit 3 on the command line: a bug), or the per-type timeout;
- ``not run``: not reached yet (``--types`` runs some and keeps the stored outcomes of the others).

Writes ``benchmarks/results/hf_causal_lm.json``. Each type runs in a fresh interpreter, so that
one model's memory, patched globals or hung forward cannot touch the next.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFILL, DECODE = 8, 2


def outcome(model_type: str) -> dict:
    """One type analysed in this process (the child's work)."""
    import transformers

    from netprof import pipeline
    from netprof.errors import NetprofError, one_line
    from netprof.serving import analyze_generation

    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as directory:
            try:
                config = transformers.AutoConfig.for_model(model_type)
            except Exception as error:  # noqa: BLE001 - no default config: not netprof's to count
                return {"outcome": "no default config", "reason": one_line(error)}
            config.save_pretrained(directory)
            loaded, _ = pipeline.load_on_meta(f"hf:{directory}", [(1, PREFILL)])
            generation = analyze_generation(loaded.model, prefill=PREFILL, decode=DECODE, name=model_type)
    except NetprofError as error:
        return {
            "outcome": "refused",
            "reason": str(error),
            "seconds": round(time.perf_counter() - started, 1),
        }
    except Exception as error:  # noqa: BLE001 - every other failure is a crash to report
        return {
            "outcome": "crashed",
            "reason": one_line(error),
            "seconds": round(time.perf_counter() - started, 1),
        }
    uncounted: dict[str, int] = {}
    for analysis in (generation.prefill_analysis, *(a for _, a in generation.captured_steps)):
        for op, count in analysis.uncounted.items():
            uncounted[op] = uncounted.get(op, 0) + count
    return {
        "outcome": "analyzed",
        "model": generation.prefill_analysis.model,
        "mode": generation.prefill_analysis.mode,
        "prefill_mult_adds": generation.prefill.total.mult_adds,
        "decode_mult_adds": generation.decode.total.mult_adds if generation.decode else None,
        "uncounted": uncounted,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_child(model_type: str, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", model_type]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "crashed", "reason": f"timed out after {timeout:g} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"outcome": "crashed", "reason": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="*", help="these model types only (default: every causal-LM type)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per type")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hf_causal_lm.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(outcome(args.child)))
        return 0
    import transformers
    from transformers.models.auto import modeling_auto

    registry = list(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    types = args.types or registry
    # Every type of the registry is listed; one this walk has not reached yet says so.
    results: dict[str, dict] = {model_type: {"outcome": "not run"} for model_type in registry}
    if args.out.exists() and args.types:  # a partial run updates the stored walk
        results.update(json.loads(args.out.read_text()).get("types", {}))
    for model_type in types:
        results[model_type] = run_child(model_type, args.timeout)
        print(f"{model_type}: {json.dumps(results[model_type])}", flush=True)
        document = {
            "transformers": transformers.__version__,
            "command": f"netprof analyze hf:DIR --prefill {PREFILL} --decode {DECODE} (DIR: the type's default config)",
            "counts": _counts(results),
            "types": dict(sorted(results.items())),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=1) + "\n")
    return 0


def _counts(results: dict[str, dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results.values():
        key = result["outcome"]
        if key == "analyzed" and result["uncounted"]:
            key = "analyzed, with uncounted ops"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
