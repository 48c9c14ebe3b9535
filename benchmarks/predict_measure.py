"""Measure the plain-forward latency of every torchvision classifier, for ``benchmarks/predict.py``.

    python benchmarks/predict_measure.py --threads 1 --batch 1 [--rounds 2] [--budget 3]

Each model is built with ``weights=None`` at its own crop size (``weights.transforms().crop_size``;
224 for most), put in eval mode, and run without autograd: after one warm-up pass, plain forward
passes are repeated until ``--budget`` seconds have gone by (at least 3, at most 15 passes). The
whole list is measured ``--rounds`` times, round after round, so a model's rounds are minutes apart;
its latency is the lowest of its rounds' medians (a round disturbed by other work on a shared
machine only ever runs slower), and the spread between its rounds is the noise floor reported. Results go to
``benchmarks/results/predict_measured_t{threads}_b{batch}.json``, written after every model, so an
interrupted run resumes where it stopped.

Nothing here predicts: the measurements are kept apart from the profile, which never sees them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torchvision
from torchvision.models import get_model, get_model_weights, list_models

RESULTS = Path(__file__).parent / "results"
MIN_PASSES, MAX_PASSES = 3, 15


def classifiers() -> list[tuple[str, int]]:
    """Every torchvision classification model with its crop size, smallest work first."""
    found = []
    for name in list_models(module=torchvision.models):
        weights = get_model_weights(name).DEFAULT
        found.append((weights.meta["_ops"], name, int(weights.transforms().crop_size[0])))
    return [(name, crop) for _, name, crop in sorted(found)]


def passes(model: torch.nn.Module, x: torch.Tensor, budget_s: float) -> list[float]:
    model(x)  # warm-up: allocator, thread pool, oneDNN primitives
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < MAX_PASSES and (len(times) < MIN_PASSES or time.perf_counter() - started < budget_s):
        begin = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - begin)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--budget", type=float, default=3.0, help="seconds of timed passes per model per round"
    )
    parser.add_argument("--only", nargs="*", help="model names (default: all 80)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = RESULTS / f"predict_measured_t{args.threads}_b{args.batch}.json"
    data = json.loads(path.read_text()) if path.exists() else {"threads": args.threads, "batch": args.batch}
    models = data.setdefault("models", {})
    todo = [(n, c) for n, c in classifiers() if not args.only or n in args.only]
    for round_ in range(args.rounds):
        for index, (name, crop) in enumerate(todo):
            entry = models.setdefault(name, {"crop": crop, "rounds": []})
            if len(entry["rounds"]) > round_:
                continue
            torch.manual_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # A ViT's position embedding is sized at build time; its weights' crop sets it.
                size = {"image_size": crop} if name.startswith("vit_") and crop != 224 else {}
                model = get_model(name, weights=None, **size).eval()
            x = torch.randn(args.batch, 3, crop, crop)
            with torch.no_grad():
                times = passes(model, x, args.budget)
            entry["rounds"].append(times)
            entry["latency_s"] = min(statistics.median(r) for r in entry["rounds"])
            del model
            print(
                f"round {round_ + 1}/{args.rounds} {index + 1}/{len(todo)} {name} {crop}px: "
                f"{statistics.median(times) * 1e3:.2f} ms ({len(times)} passes)",
                file=sys.stderr,
                flush=True,
            )
            RESULTS.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
