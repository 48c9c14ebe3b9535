"""Does one process analyzing many models keep its memory flat? 500 analyses of mixed torchvision models.

    python benchmarks/memory_loop.py [--analyses 500]

A sweep or a notebook calls ``netprof.analyze`` in a loop; every cache netprof keeps must be bounded.
The models (built once, on the CPU, cycled) are analyzed on meta; the resident set size (RSS, from
``/proc/self/statm``) is read after every analysis. Reported: RSS after the first pass over the models
(when every cache is warm), at the end, the growth between the two, and the growth per analysis fitted
over the second half. Results go to ``benchmarks/results/memory_loop.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torchvision.models import get_model

import netprof

MODELS = ("resnet18", "mobilenet_v3_large", "shufflenet_v2_x1_0", "efficientnet_b0", "vit_b_16", "convnext_tiny",
          "regnet_y_400mf", "squeezenet1_1", "densenet121", "swin_t")  # fmt: skip
RESULTS = Path(__file__).parent / "results"


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=500)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = [(name, get_model(name, weights=None).eval()) for name in MODELS]
    x = torch.randn(1, 3, 224, 224)
    samples = []
    for index in range(args.analyses):
        name, model = models[index % len(models)]
        netprof.analyze(model, x, mode="meta", name=name)
        gc.collect()
        samples.append(rss_bytes())
        if index % 50 == 0:
            print(f"{index}: {samples[-1] / 1e6:.1f} MB", file=sys.stderr)
    warm = samples[len(models) - 1]
    half = np.arange(args.analyses // 2, args.analyses)
    slope = float(np.polyfit(half, np.array(samples)[half], 1)[0])
    result = {
        "analyses": args.analyses,
        "models": list(MODELS),
        "rss_after_first_pass_mb": warm / 1e6,
        "rss_at_end_mb": samples[-1] / 1e6,
        "growth_after_first_pass_mb": (samples[-1] - warm) / 1e6,
        "growth_per_analysis_kb_second_half": slope / 1e3,
        "rss_mb_every_50": [s / 1e6 for s in samples[::50]],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory_loop.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
