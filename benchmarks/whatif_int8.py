"""Int8 what-ifs priced on the device profile's int8 kinds, against interleaved measurements.

    python benchmarks/whatif_int8.py [--profile FILE] [--rounds 7] [--passes 10] [--threads 1]

For mobilenet_v2 and resnet18 (the issue's check) and mobilenet_v3_large and shufflenet_v2_x1_0 (``weights=None``
at 224x224, batch 1), ``netprof whatif --quantize int8`` builds the int8 variant (PyTorch FX, x86 kernels).
The base and the variant are each captured (the int8 one for real: quantized kernels have no meta
implementation) and predicted on the profile (``--profile``, else the cached ``netprof calibrate --threads
N``), then timed together in interleaved rounds (``benchmarks/rotation.py``: median of round medians), so
that the measured int8/base ratio does not depend on when each was timed. None of these networks is among
the calibration's micro-benchmarks. Writes ``benchmarks/results/whatif_int8.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torchvision import models as tv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rotation import time_in_rotation

from netprof import pipeline
from netprof.compression.quantize import quantize
from netprof.prediction import profile as profiles

RESULTS = ROOT / "benchmarks" / "results"
NETWORKS = {
    "mobilenet_v2": tv.mobilenet_v2,
    "resnet18": tv.resnet18,
    "mobilenet_v3_large": tv.mobilenet_v3_large,
    "shufflenet_v2_x1_0": tv.shufflenet_v2_x1_0,
}


def models_of(network: str) -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    base = NETWORKS[network]().eval()
    x = torch.randn(1, 3, 224, 224)
    return {"base": (base, x), "int8": (quantize(base, (x,), "int8"), x)}


def measure(args: argparse.Namespace) -> dict:
    profile = profiles.load(args.profile) if args.profile else profiles.cached("cpu", args.threads)
    rows = {}
    for network in NETWORKS:
        built = models_of(network)
        predicted = {
            name: pipeline.add_prediction(pipeline.run(model, (x,)), profile).prediction.latency_s
            for name, (model, x) in built.items()
        }
        timed = time_in_rotation(
            {name: (lambda pair=pair: pair) for name, pair in built.items()},
            args.rounds,
            args.passes,
            threads=args.threads,
        )
        rows[network] = {
            "predicted_s": predicted,
            "measured_s": {name: timed[name]["latency_s"] for name in built},
            "iqr": {name: timed[name]["iqr"] for name in built},
            "predicted_ratio": predicted["int8"] / predicted["base"],
            "measured_ratio": timed["int8"]["latency_s"] / timed["base"]["latency_s"],
        }
    return {"profile": profile.key, "rounds": args.rounds, "passes": args.passes, "rows": rows}


def report(document: dict) -> None:
    lines = [
        "# Int8 what-ifs: predicted on the profile's int8 kinds, measured in rotation",
        "",
        (
            f"`python benchmarks/whatif_int8.py --profile benchmarks/results/profile_cpu_t1_avx512.json`: "
            f"torchvision networks at 224x224, batch 1, 1 thread, untrained; int8 as `netprof whatif "
            f"--quantize int8` builds it; predicted on `{document['profile']}`; measured in "
            f"{document['rounds']} interleaved rounds of {document['passes']} forwards."
        ),
        "",
        (
            "| network | base predicted | base measured | int8 predicted | int8 measured (IQR) | int8 predicted "
            "/ measured | ratio predicted | ratio measured |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for network, row in document["rows"].items():
        p, m = row["predicted_s"], row["measured_s"]
        lines.append(
            f"| {network} | {p['base'] * 1e3:.2f} ms | {m['base'] * 1e3:.2f} ms | {p['int8'] * 1e3:.2f} ms | "
            f"{m['int8'] * 1e3:.2f} ms ({row['iqr']['int8']:.0%}) | {p['int8'] / m['int8']:.2f} | "
            f"x{row['predicted_ratio']:.3f} | x{row['measured_ratio']:.3f} |"
        )
    (RESULTS / "whatif_int8.md").write_text("\n".join([*lines, ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = measure(args)
    (RESULTS / "whatif_int8.json").write_text(json.dumps(document, indent=1) + "\n")
    report(document)


if __name__ == "__main__":
    main()
