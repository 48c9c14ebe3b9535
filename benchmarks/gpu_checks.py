"""What only a GPU can show, in one run of a few minutes on a lent CUDA machine.

    python benchmarks/gpu_checks.py -o DIR [--models resnet18 mobilenet_v2 ...]

1. ``memory``: the peak of a steady-state AdamW training step (``foreach=False``, lr 1e-3, loss =
   ``output.sum()``, batch 8) and of one inference pass (``eval``, ``no_grad``, batch 8) of each
   torchvision model (``weights=None``, seed 0, ``randn(8, 3, 224, 224)``): netprof's
   ``analysis.memory.peak_bytes`` captured on real CUDA tensors, and captured on fake CPU tensors (what a
   user without a GPU gets), against ``torch.cuda.max_memory_allocated()`` of the same step run plainly
   (a first step creates the optimizer state, ``zero_grad(set_to_none=True)``, the peak statistics are
   reset, then the measured step). The caching allocator also counts what no ATen op returns (cuBLAS and
   cuDNN workspaces): the difference is reported, not hidden.
2. ``timing``: ``netprof analyze torchvision.models:NAME --time --device cuda --format json`` (batch 1):
   the per-op CUDA-event times summed against the plain forward's latency, and that latency against an
   independent loop of CUDA events (median of 50 after 10 warm-ups).
3. ``prediction``: ``netprof calibrate --device cuda`` (a CUDA device profile), then ``netprof predict
   --device cuda`` of each model against the independent latency.
4. ``tests``: ``pytest -m gpu tests/test_cuda_timing.py``.

Each part writes ``DIR/<part>.json`` as soon as it ends, so a run cut short keeps what it finished.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netprof import pipeline
from netprof.capture.workload import Forward, TrainStep

MODELS = [
    "shufflenet_v2_x1_0",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "squeezenet1_1",
    "resnet18",
    "efficientnet_b0",
    "regnet_x_400mf",
    "googlenet",
]
MEMORY_MODELS = ["resnet18", "mobilenet_v2", "shufflenet_v2_x1_0", "vit_b_16"]
BATCH = 8


def _build(name: str, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return torchvision.models.get_model(name, weights=None, **kwargs).to(device)


def _plain_training_peak(name: str) -> dict[str, int]:
    model = _build(name, "cuda")
    x = torch.randn(BATCH, 3, 224, 224, device="cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=False)

    def step() -> None:
        model(x).sum().backward()
        optimizer.step()

    step()
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    return {"live_before_step": before, "peak": peak}


def _plain_inference_peak(name: str) -> dict[str, int]:
    model = _build(name, "cuda").eval()
    x = torch.randn(BATCH, 3, 224, 224, device="cuda")
    with torch.no_grad():
        model(x)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        model(x)
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    return {"live_before_step": before, "peak": peak}


def _netprof_peak(name: str, kind: str, mode: str) -> int:
    device = "cuda" if mode == "real" else "cpu"
    model = _build(name, device)
    x = torch.randn(BATCH, 3, 224, 224, device=device)
    if kind == "training":
        workload: Any = TrainStep((x,), optimizer="adamw")
    else:
        model.eval()
        workload = Forward((x,))
    analysis = pipeline.analyze(model, workload, mode=mode, memory=True)
    assert analysis.memory is not None
    return analysis.memory.peak_bytes


def memory(models: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name in models:
        for kind, plain in (("training", _plain_training_peak), ("inference", _plain_inference_peak)):
            gc.collect()
            torch.cuda.empty_cache()
            measured = plain(name)
            gc.collect()
            torch.cuda.empty_cache()
            on_cuda = _netprof_peak(name, kind, "real")
            on_fake = _netprof_peak(name, kind, "fake")
            rows.append(
                {
                    "model": name,
                    "kind": kind,
                    "batch": BATCH,
                    "cuda_max_memory_allocated": measured["peak"],
                    "cuda_live_before_step": measured["live_before_step"],
                    "netprof_peak_real_cuda": on_cuda,
                    "netprof_peak_fake_cpu": on_fake,
                    "real_vs_allocator": on_cuda / measured["peak"] - 1,
                    "fake_vs_allocator": on_fake / measured["peak"] - 1,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _independent_latency(name: str, runs: int = 50) -> dict[str, float]:
    model = _build(name, "cuda").eval()
    x = torch.randn(1, 3, 224, 224, device="cuda")
    times = []
    with torch.no_grad():
        for _ in range(10):
            model(x)
        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    quartiles = statistics.quantiles(times, n=4)
    return {"median_s": statistics.median(times), "iqr_s": quartiles[2] - quartiles[0], "runs": runs}


def _netprof(*argv: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "netprof", *argv]
    return subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def timing(models: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name in models:
        done = _netprof(
            "analyze", f"torchvision.models:{name}", "--time", "--device", "cuda", "--format", "json"
        )
        row: dict[str, Any] = {"model": name, "independent": _independent_latency(name)}
        if done.returncode != 0:
            row["error"] = done.stderr.strip().splitlines()[-1:]
        else:
            timed = json.loads(done.stdout)["timing"]
            op_sum = sum(op["time"]["median_s"] for op in timed["ops"])
            plain = timed["plain"]["median_s"]
            row.update(
                netprof_plain_median_s=plain,
                netprof_op_sum_s=op_sum,
                op_sum_over_plain=op_sum / plain,
                plain_over_independent=plain / row["independent"]["median_s"],
                ops=len(timed["ops"]),
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def prediction(models: list[str], out: Path, independent: dict[str, float]) -> dict[str, Any]:
    profile = out / "profile_cuda.json"
    started = time.perf_counter()
    calibrated = _netprof(
        "calibrate", "--device", "cuda", "--budget", "60", "--force", "-o", str(profile), timeout=400
    )
    document: dict[str, Any] = {
        "calibrate_s": time.perf_counter() - started,
        "calibrate_rc": calibrated.returncode,
    }
    if calibrated.returncode != 0:
        document["error"] = calibrated.stderr.strip().splitlines()[-3:]
        return document
    rows = []
    for name in models:
        done = _netprof("predict", f"torchvision.models:{name}", "--device", "cuda", "--profile", str(profile),
                        "--format", "json")  # fmt: skip
        row: dict[str, Any] = {"model": name, "measured_s": independent.get(name)}
        if done.returncode != 0:
            row["error"] = done.stderr.strip().splitlines()[-1:]
        else:
            row["predicted_s"] = json.loads(done.stdout)["prediction"]["latency_s"]
            if row["measured_s"]:
                row["error_ratio"] = row["predicted_s"] / row["measured_s"] - 1
        rows.append(row)
        print(json.dumps(row), flush=True)
    document["models"] = rows
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--parts", nargs="+", default=["tests", "memory", "timing", "prediction"])
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    environment = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": sys.version.split()[0],
    }
    (args.output / "environment.json").write_text(json.dumps(environment, indent=1) + "\n")
    print(environment, flush=True)
    independent: dict[str, float] = {}
    for part in args.parts:
        started = time.perf_counter()
        try:
            if part == "tests":
                done = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu",
                     "tests/test_cuda_timing.py"],
                    check=False, capture_output=True, text=True, cwd=ROOT, timeout=300,
                )  # fmt: skip
                result: Any = {"rc": done.returncode, "tail": done.stdout.strip().splitlines()[-15:]}
            elif part == "memory":
                result = memory(MEMORY_MODELS)
            elif part == "timing":
                result = timing(args.models)
                independent = {row["model"]: row["independent"]["median_s"] for row in result}
            else:
                result = prediction(args.models, args.output, independent)
        except Exception:  # noqa: BLE001 - one part failing must not lose the others' results
            result = {"error": traceback.format_exc().splitlines()[-6:]}
        payload = {"part": part, "seconds": time.perf_counter() - started, "environment": environment,
                   "result": result}  # fmt: skip
        (args.output / f"{part}.json").write_text(json.dumps(payload, indent=1) + "\n")
        print(f"== {part} done in {payload['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
