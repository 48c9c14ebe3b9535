"""ONNX Runtime's CUDA (and TensorRT) execution providers on a lent GPU, on the issue's 8 models.

    python benchmarks/gpu_runtimes.py -o DIR

First records which execution providers the machine's onnxruntime offers. With CUDA's, each model
(torchvision, ``weights=None``, batch 1) is exported once with netprof's exporter and run in a CUDA
session: the plain latency (median of 50 after 10 warm-ups, ``run`` returning host arrays, as a user
times it) and one profiled session's kernels, joined to the exported nodes as ``--runtime onnxruntime``
joins them on the CPU. Writes ``DIR/gpu_runtimes.json``; without a CUDA provider it says so there and
stops.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netprof.capture.workload import Forward
from netprof.runtimes.export import export

MODELS = [
    "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1",
    "resnet18", "efficientnet_b0", "regnet_x_400mf", "googlenet",
]  # fmt: skip


def _latency(session, feeds, runs=50, warmup=10) -> float:
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def _profiled_kernels(ort, path: Path, feeds, providers, scratch: Path) -> dict[str, float]:
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(scratch / "profile")
    session = ort.InferenceSession(str(path), options, providers=providers)
    for _ in range(10):
        session.run(None, feeds)
    events = json.loads(Path(session.end_profiling()).read_text())
    kernels: dict[str, list[float]] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            kernels.setdefault(event["name"], []).append(event["dur"] * 1e-6)
    return {name: statistics.median(times) for name, times in kernels.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    import onnxruntime as ort

    report = {
        "onnxruntime": ort.__version__,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "providers": ort.get_available_providers(),
        "models": {},
    }
    out = args.output / "gpu_runtimes.json"
    out.write_text(json.dumps(report, indent=1))
    if "CUDAExecutionProvider" not in report["providers"]:
        print(f"no CUDAExecutionProvider in this onnxruntime: {report['providers']}")
        return
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with tempfile.TemporaryDirectory() as scratch:
        for name in MODELS:
            model = getattr(torchvision.models, name)(weights=None).eval()
            x = torch.randn(1, 3, 224, 224)
            exported = export(model, Forward((x,)), Path(scratch) / f"{name}.onnx")
            feeds = {exported.input_names[0]: x.numpy()}
            session = ort.InferenceSession(str(exported.path), providers=providers)
            latency = _latency(session, feeds)
            kernels = _profiled_kernels(ort, exported.path, feeds, providers, Path(scratch))
            report["models"][name] = {
                "latency_s": latency,
                "kernels": len(kernels),
                "kernel_sum_s": sum(kernels.values()),
            }
            out.write_text(json.dumps(report, indent=1))
            print(name, report["models"][name], flush=True)


if __name__ == "__main__":
    main()
