"""Measure the plain-forward latency of every torchvision classifier, for ``benchmarks/predict.py``.

    python benchmarks/predict_measure.py --threads 1 --batch 1 [--rounds 5] [--passes 5]

Each model is built with ``weights=None`` at its own crop size (``weights.transforms().crop_size``;
224 for most), put in eval mode, and run without autograd. The models are timed in interleaved
rounds (``benchmarks/rotation.py``): each round visits every model once, in a shuffled order (a
warm-up pass, then ``--passes`` plain forwards), so a model's rounds are minutes apart and a burst of
load on a shared machine lands on one round of many models, not on every pass of one. A model's
latency is the median of its round medians, with their IQR and min-max (as fractions of it) beside
it; the min-max is the noise floor reported. Results go to
``benchmarks/results/predict_measured_t{threads}_b{batch}.json``, written after every model, so an
interrupted run resumes where it stopped.

Nothing here predicts: the measurements are kept apart from the profile, which never sees them.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
import torchvision
from torchvision.models import get_model, get_model_weights, list_models

sys.path.insert(0, str(Path(__file__).parent))
from rotation import Builder, time_in_rotation

RESULTS = Path(__file__).parent / "results"


def classifiers() -> list[tuple[str, int]]:
    """Every torchvision classification model with its crop size, smallest work first."""
    found = []
    for name in list_models(module=torchvision.models):
        weights = get_model_weights(name).DEFAULT
        found.append((weights.meta["_ops"], name, int(weights.transforms().crop_size[0])))
    return [(name, crop) for _, name, crop in sorted(found)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=5, help="timed passes per model per round")
    parser.add_argument("--only", nargs="*", help="model names (default: all 80)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = RESULTS / f"predict_measured_t{args.threads}_b{args.batch}.json"
    data = json.loads(path.read_text()) if path.exists() else {"threads": args.threads, "batch": args.batch}
    models = data.setdefault("models", {})
    todo = [(n, c) for n, c in classifiers() if not args.only or n in args.only]

    def builder(name: str, crop: int) -> Builder:
        def build() -> tuple[torch.nn.Module, torch.Tensor]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # A ViT's position embedding is sized at build time; its weights' crop sets it.
                size = {"image_size": crop} if name.startswith("vit_") and crop != 224 else {}
                model = get_model(name, weights=None, **size)
            return model, torch.randn(args.batch, 3, crop, crop)

        return build

    def save(name: str, round_: int, times: list[float]) -> None:
        models[name]["rounds"].append(times)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")

    for name, crop in todo:
        models.setdefault(name, {"crop": crop, "rounds": []})
    done = {name: list(models[name]["rounds"]) for name, _ in todo}
    out = time_in_rotation(
        {name: builder(name, crop) for name, crop in todo},
        args.rounds,
        args.passes,
        threads=args.threads,
        done=done,
        on_visit=save,
    )
    for name, entry in out.items():
        models[name].update({k: entry[k] for k in ("rounds", "latency_s", "iqr", "min_max")})
    path.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
