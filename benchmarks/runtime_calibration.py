"""Predicted vs measured latency of torchvision CNNs in a deployment runtime, from a runtime profile.

    python benchmarks/runtime_calibration.py --runtime onnxruntime --profile P.json [--rounds 3] [--budget 1]
        [--compare OTHER.json] [-o benchmarks/results/runtime_calibration_onnxruntime.json]

Each model is built with ``weights=None``, batch 1 at 224x224, one thread. Predicted: a meta capture
priced by the profile (``netprof.runtimes.predict``); nothing is run. Measured: the model exported
with the dynamo exporter (``netprof.runtimes.export``) and run in a plain session of the runtime
(the settings ``netprof calibrate --runtime`` times its micro-benchmarks with); two warm-up runs,
then runs until ``--budget`` seconds (at least 5). The models are measured round after round,
interleaved, ``--rounds`` times; a model's latency is the lowest of its rounds' medians (a round
disturbed by other work on a shared machine only runs slower). ``--compare`` predicts with a second
profile (e.g. one imported from a pack) beside the first. The profile never sees these models.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.models import get_model

from netprof import pipeline
from netprof.calibration.runtime import _session
from netprof.capture.workload import as_workload
from netprof.runtimes import profile as runtime_profiles
from netprof.runtimes.export import export
from netprof.runtimes.predict import predict

MODELS = (
    "resnet18", "mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0",
    "mobilenet_v3_large", "regnet_x_400mf", "googlenet",
)  # fmt: skip
SHAPE = (1, 3, 224, 224)
MIN_RUNS = 5


def build(name: str) -> torch.nn.Module:
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return get_model(name, weights=None, **kwargs).eval()


def predicted(name: str, profile) -> float:
    analysis = pipeline.analyze(build(name), torch.empty(SHAPE, device="meta"), mode="meta")
    return predict(analysis, profile).latency_s


def median_of_round(run, x: np.ndarray, budget_s: float) -> float:
    run(x)
    run(x)
    times: list[float] = []
    started = time.perf_counter()
    cpu: list[float] = []
    while len(times) < MIN_RUNS or time.perf_counter() - started < budget_s:
        begin, begin_cpu = time.perf_counter(), time.process_time()
        run(x)
        times.append(time.perf_counter() - begin)
        cpu.append(time.process_time() - begin_cpu)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "openvino"))
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--exports", type=Path, help="keep (and reuse) the models' ONNX files here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = runtime_profiles.for_runtime(
        runtime_profiles.load(args.profile), args.runtime, str(args.profile)
    )
    other = None
    if args.compare:
        other = runtime_profiles.for_runtime(
            runtime_profiles.load(args.compare), args.runtime, str(args.compare)
        )
    rows = {name: {"predicted_s": predicted(name, profile)} for name in args.models}
    if other is not None:
        for name in args.models:
            rows[name]["compare_predicted_s"] = predicted(name, other)
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    with tempfile.TemporaryDirectory() as scratch:
        sessions = {}
        folder = args.exports or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.models:
            path = folder / f"{name}.onnx"
            if not path.is_file():
                export(build(name), as_workload(torch.randn(SHAPE)), path)
            sessions[name] = _session(args.runtime, path, 1)
        rounds: dict[str, list[float]] = {name: [] for name in args.models}
        cpu: dict[str, list[float]] = {name: [] for name in args.models}
        for _ in range(args.rounds):
            for name in args.models:
                wall, process = median_of_round(sessions[name], x, args.budget)
                rounds[name].append(wall)
                cpu[name].append(process)
    errors = []
    print(f"{'model':22} {'measured':>10} {'predicted':>10} {'error':>8}" + ("  compare" if other else ""))
    for name in args.models:
        row = rows[name]
        row["rounds_s"] = rounds[name]
        row["cpu_rounds_s"] = cpu[name]  # process CPU time: with one thread, the latency less preemption
        row["measured_s"] = min(rounds[name])
        row["error"] = row["predicted_s"] / row["measured_s"] - 1
        errors.append(row["error"])
        extra = f"  {row['compare_predicted_s'] * 1e3:8.2f} ms" if other else ""
        print(
            f"{name:22} {row['measured_s'] * 1e3:8.2f}ms {row['predicted_s'] * 1e3:8.2f}ms {row['error']:+8.1%}{extra}"
        )
    within = sum(abs(e) <= 0.10 for e in errors) / len(errors)
    mape = sum(abs(e) for e in errors) / len(errors)
    print(
        f"within +-10%: {within:.0%}  MAPE: {mape:.1%}  ({len(errors)} models, {args.runtime}, 1 thread, batch 1)"
    )
    if args.output:
        summary = {"runtime": args.runtime, "profile": str(args.profile), "within_10": within, "mape": mape}
        args.output.write_text(json.dumps({"summary": summary, "models": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
