"""What a network's ops cost beyond their one-op loops: each leaf module called in network order, then again.

    python benchmarks/network_vs_loop.py [--batch 1] [--threads 1] [--passes 12] [MODEL ...]

A device profile's per-kind prices come mostly from one-op loops, where an op finds its weights, input and
code where its last call left them. In a network it last touched them a pass ago, and the ops between have
streamed their own through the caches. This replays a model's leaf modules in the order a forward pass calls
them, each on the input it got there, twice in a row: the first call is the op as a network runs it (its
sum is checked against the model's own plain latency), the second as a loop runs it. Each call keeps the
median over ``--passes`` replays. Per model: plain, the two sums and their ratio, and the gap per module
beside its mean bytes (weights, input and output); per working-set bin (what the profile's
``loop_cached_bytes`` draws its line through: the L2) the same. Output:
``benchmarks/results/network_vs_loop_t{T}_b{B}.json`` and ``.md``. Models are built with ``weights=None``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from predict_families import RESULTS, TORCHVISION, build

from netprof.calibration.caches import cache_sizes
from netprof.units import nbytes

BINS_KIB = (64, 256, 1024, 2048, 4096)  # working-set bins' upper ends, the last one open


def _leaf_calls(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[torch.nn.Module, tuple, int]]:
    """Every leaf module's call in a forward pass: the module, its inputs and its working set in bytes."""
    calls = []

    def record(module, inputs, output):
        if isinstance(output, torch.Tensor):
            weights = sum(t.nbytes for t in (*module.parameters(), *module.buffers()))
            moved = sum(t.nbytes for t in inputs if isinstance(t, torch.Tensor)) + output.nbytes
            calls.append((module, inputs, weights + moved))

    leaves = [module for module in model.modules() if not list(module.children())]
    hooks = [leaf.register_forward_hook(record) for leaf in leaves]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return calls


def replay(model: torch.nn.Module, x: torch.Tensor, passes: int) -> dict:
    calls = _leaf_calls(model, x)
    first: list[list[float]] = [[] for _ in calls]
    again: list[list[float]] = [[] for _ in calls]
    plain = []
    clock = time.perf_counter
    with torch.no_grad():
        for _ in range(passes):
            begin = clock()
            model(x)
            plain.append(clock() - begin)
            for index, (module, inputs, _) in enumerate(calls):
                begin = clock()
                module(*inputs)
                middle = clock()
                module(*inputs)
                first[index].append(middle - begin)
                again[index].append(clock() - middle)
    return {
        "plain_s": statistics.median(plain),
        "calls": [
            {"bytes": size, "network_s": statistics.median(a), "loop_s": statistics.median(b)}
            for (_, _, size), a, b in zip(calls, first, again)
        ],
    }


def _bin(size: int) -> str:
    for upper in BINS_KIB:
        if size < upper * 1024:
            return f"< {upper} KiB"
    return f">= {BINS_KIB[-1]} KiB"


def markdown(result: dict) -> str:
    lines = [
        f"### A network's ops beyond their one-op loops: batch {result['batch']}, {result['threads']} thread(s)",
        "",
        (
            f"`{result['command']}` (L2 {nbytes(result['l2_bytes'])}; each leaf module called in network "
            "order, then at once again; medians of the passes)."
        ),
        "",
        "| model | plain | in network order | called again | ratio | gap per module |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    bins: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for name, found in result["models"].items():
        network = sum(call["network_s"] for call in found["calls"])
        loop = sum(call["loop_s"] for call in found["calls"])
        gap = (network - loop) / len(found["calls"])
        lines.append(
            f"| {name} | {1e3 * found['plain_s']:.2f} ms | {1e3 * network:.2f} ms | {1e3 * loop:.2f} ms "
            f"| {network / loop:.2f} | {1e6 * gap:.1f} us |"
        )
        for call in found["calls"]:
            entry = bins[_bin(call["bytes"])]
            entry[0] += 1
            entry[1] += call["network_s"]
            entry[2] += call["loop_s"]
    lines += ["", "| working set | modules | in network order | called again | ratio | gap per module |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    order = [f"< {upper} KiB" for upper in BINS_KIB] + [f">= {BINS_KIB[-1]} KiB"]
    for label in (label for label in order if label in bins):
        count, network, loop = bins[label]
        lines.append(
            f"| {label} | {count} | {1e3 * network:.2f} ms | {1e3 * loop:.2f} ms | {network / loop:.2f} "
            f"| {1e6 * (network - loop) / count:.1f} us |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(TORCHVISION))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passes", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {}
    for name in args.models:
        models[name] = replay(build(name).eval(), torch.randn(args.batch, 3, 224, 224), args.passes)
        print(name, file=sys.stderr)
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "batch": args.batch,
        "threads": args.threads,
        "l2_bytes": cache_sizes()[0],
        "models": models,
    }
    stem = RESULTS / f"network_vs_loop_t{args.threads}_b{args.batch}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
