"""Deployment runtimes, measured as a user measures them, against what netprof says of them.

    python benchmarks/runtimes.py measure [--models all|named] [--runtimes onnxruntime openvino]
                                          [--threads 1 2] [--batch 1 8] [--rounds 5] [--tag T]
    python benchmarks/runtimes.py agreement          # netprof --runtime vs an independent export + run
    python benchmarks/runtimes.py agreement --runtimes executorch --models mobilenet_v2 resnet18
    python benchmarks/runtimes.py agreement --runtimes compile --models mobilenet_v2 resnet18 --rounds 2
    python benchmarks/runtimes.py fusion             # which guideline findings survive fusion
    python benchmarks/runtimes.py report [--tag T]   # predicted vs measured, with the baselines
    python benchmarks/runtimes.py windows [--windows 3] [--threads 1]   # calibrate, measure, predict
    python benchmarks/runtimes.py windows --models resnet50 vgg11 --tag _big   # the named and these

``measure``: each torchvision classifier (``weights=None``, its own crop size, batch B) is exported once
with ``torch.onnx.export(dynamo=True)`` and run as a user runs it: an ONNX Runtime ``InferenceSession``
with ``intra_op_num_threads=N`` and default optimizations, or OpenVINO's ``compile_model(..., "CPU",
{"INFERENCE_NUM_THREADS": N, "PERFORMANCE_HINT": "LATENCY"})``. Models are timed in interleaved rounds
(every model of a group once per round, a round's figure the median of its runs after two warm-ups), so a
burst of other work on this shared machine lands on one round of many models, not on all rounds of one;
a model's latency is the median of its round medians and its spread the range of those medians.

``agreement``: ``netprof analyze --runtime R --threads 1`` of the named models against the same model
exported and run independently (above; for ExecuTorch, ``torch.export``, ``to_edge_transform_and_lower``
with the XNNPACK partitioner, the ``.pte`` loaded with ``_load_for_executorch`` on a threadpool of N and
run with ``forward``; for ``compile``, ``torch.compile(model)`` with its defaults, compiled on a first
call that is not timed, then called in a plain loop under ``torch.no_grad``), interleaved: the plain
latency, the kernels' sum, the share of ops with mult_adds joined to a kernel, and the kernels fusing a
convolution with other ops.

``windows``: calibration, measurement and prediction of the named models in one window, again and
again (``windows``' docstring): the scores a user sees, and how much they move with the machine.

``fusion``: ``netprof check --runtime R`` of the named models: per rule, how many findings' ops all vanish
into fused kernels, how many in part, how many still run as kernels of their own.

Results go to ``benchmarks/results/runtimes_*.json`` and ``runtimes.md``, written as they come.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torchvision.models import get_model, get_model_weights

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from predict_measure import classifiers

from netprof import pipeline
from netprof.capture.workload import Forward
from netprof.runtimes.export import export
from netprof.timing.run import TimingOptions

RESULTS = ROOT / "benchmarks" / "results"
NAMED = [
    "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1",
    "resnet18", "efficientnet_b0", "regnet_x_400mf", "googlenet",
]  # fmt: skip
RUNTIMES = ["onnxruntime", "openvino"]
# ExecuTorch runs a .pte program and torch.compile the model itself, not the ONNX file ``measure``
# exports: agreement and fusion only.
ALL_RUNTIMES = [*RUNTIMES, "executorch", "compile"]
# A round warms up for WARMUP_S seconds and at least WARMUP runs. After another model ran, OpenVINO (bf16 on
# this Xeon) takes 10-15 runs of a small network to reach its steady speed: regnet_x_400mf ran 2.0x, 1.5x,
# 1.35x, 1.16x of it in its first runs, and a round of 2 warm-up runs measured it 1.2-1.3x slow; resnet50
# and vgg11 were steady from the second run, as every model was in ONNX Runtime.
WARMUP, WARMUP_S, RUNS = 2, 0.2, 7


def _save(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n")


def _input(name: str, crop: int, batch: int) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(batch, 3, crop, crop)


def _model(name: str, crop: int) -> torch.nn.Module:
    size = {"image_size": crop} if name.startswith("vit_") and crop != 224 else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_model(name, weights=None, **size).eval()


class Session:
    """One exported model loaded in one runtime, run as a user runs it."""

    def __init__(self, runtime: str, path: Path, x: np.ndarray, threads: int) -> None:
        if runtime == "onnxruntime":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feeds = {session.get_inputs()[0].name: x}
            self.run = lambda: session.run(None, feeds)
        elif runtime == "executorch":
            from executorch.extension.pybindings import portable_lib

            portable_lib._unsafe_reset_threadpool(threads)
            program = portable_lib._load_for_executorch(str(path))
            inputs = (torch.from_numpy(x),)
            self.run = lambda: program.forward(inputs)
        else:
            import openvino as ov

            config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
            request = ov.Core().compile_model(str(path), "CPU", config).create_infer_request()
            self.run = lambda: request.infer([x])

    def round(self) -> float:
        """One round's figure: the median of ``RUNS`` runs after the warm-up."""
        begin, warm = time.perf_counter(), 0
        while warm < WARMUP or time.perf_counter() - begin < WARMUP_S:
            self.run()
            warm += 1
        times = []
        for _ in range(RUNS):
            begin = time.perf_counter()
            self.run()
            times.append(time.perf_counter() - begin)
        return statistics.median(times)


class Compiled(Session):
    """``torch.compile(model)`` as a user runs it: default settings, compiled by a first call (not timed),
    inference under ``torch.no_grad``. Inductor's C++ kernels take the thread count in force when they are
    compiled, so it is set first (and left so: the benchmark runs on one thread)."""

    def __init__(self, model: torch.nn.Module, x: np.ndarray, threads: int) -> None:  # no exported file
        torch.set_num_threads(threads)
        program = torch.compile(copy.deepcopy(model).eval())
        inputs = torch.from_numpy(x)

        def run() -> None:
            with torch.no_grad():
                program(inputs)

        run()
        self.run = run


def _exported(name: str, crop: int, batch: int, cache: Path) -> tuple[Path, np.ndarray, dict]:
    """The model's ONNX file (exported once), its input, and its counts."""
    path = cache / f"{name}_b{batch}.onnx"
    model, x = _model(name, crop), _input(name, crop, batch)
    counts_path = path.with_suffix(".json")
    if not path.exists():
        export(model, Forward((x,)), path)
        analysis = pipeline.run(model, x, mode="meta").analysis
        ops = [(op.flops, op.mem_access_bytes) for op in analysis.ops]
        counts = {"mult_adds": analysis.totals.mult_adds, "ops": ops}
        _save(counts_path, counts)
    return path, x.numpy(), json.loads(counts_path.read_text())


def _interleaved(sessions: dict[str, Session], rounds: int) -> dict[str, list[float]]:
    """Each session's round figures, every session once per round."""
    figures: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            figures[name].append(session.round())
    return figures


def measure(args: argparse.Namespace) -> None:
    out = RESULTS / f"runtimes_measured{args.tag}.json"
    rows = json.loads(out.read_text()) if out.exists() else {}
    crops = dict(classifiers())
    names = (
        NAMED if args.models == "named" else [n for n in crops if n in args.models or args.models == ["all"]]
    )
    names = [n for n in names if get_model_weights(n).DEFAULT.meta["_ops"] <= args.max_gmacs]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for batch in args.batch:
        for start in range(0, len(names), args.group):
            group = names[start : start + args.group]
            files = {}
            for name in group:
                try:
                    files[name] = _exported(name, crops[name], batch, cache)
                except Exception as error:  # noqa: BLE001 - a model that will not export is reported
                    rows[f"{name}|export|b{batch}"] = {"error": f"{type(error).__name__}: {error}"[:300]}
                    print(f"{name}: export failed: {error}"[:200], flush=True)
            for runtime in args.runtimes:
                for threads in args.threads:
                    keys = {n: f"{n}|{runtime}|t{threads}|b{batch}" for n in files}
                    todo = [n for n in files if keys[n] not in rows]
                    sessions = {n: Session(runtime, files[n][0], files[n][1], threads) for n in todo}
                    rounds = _interleaved(sessions, args.rounds)
                    for name in todo:
                        medians = rounds[name]
                        latency = statistics.median(medians)
                        rows[keys[name]] = {
                            "model": name, "runtime": runtime, "threads": threads, "batch": batch,
                            "latency_s": latency, "spread": (max(medians) - min(medians)) / latency,
                            "rounds_s": medians, "mult_adds": files[name][2]["mult_adds"],
                        }  # fmt: skip
                        print(
                            f"{keys[name]}: {latency * 1e3:.2f} ms (spread {rows[keys[name]]['spread']:.0%})"
                        )
                    _save(out, rows)


def agreement(args: argparse.Namespace) -> None:
    """netprof --runtime against an independent export and run, on the named models."""
    crops = dict(classifiers())
    out = RESULTS / "runtimes_agreement.json"
    report = json.loads(out.read_text()) if out.exists() else {}  # rows of other runtimes are kept
    with tempfile.TemporaryDirectory() as scratch:
        for name in NAMED if args.models == "named" else args.models:
            model, x = _model(name, crops[name]), _input(name, crops[name], 1)
            for runtime in args.runtimes:
                if runtime == "compile":
                    independent: Session = Compiled(model, x.numpy(), 1)
                else:
                    path = _independent_export(runtime, model.eval(), x, Path(scratch) / name)
                    independent = Session(runtime, path, x.numpy(), 1)
                ours, theirs = [], []
                for _ in range(args.rounds):  # interleaved: netprof's run, then the independent one
                    options = TimingOptions(repeat=RUNS, threads=1, runtime=runtime)
                    result = pipeline.run(model, x, timing=options)
                    ours.append(result.timing.plain.median)
                    theirs.append(independent.round())
                timing, analysis = result.timing, result.analysis
                ops = {op.id: op for op in analysis.ops}
                working = {op.id for op in analysis.ops if op.mult_adds > 0}
                joined = working & {i for k in timing.kernels for i in k.op_ids}
                conv_fused = [
                    k for k in timing.kernels if k.fused and any("conv" in ops[i].category for i in k.op_ids)
                ]
                kernel_sum = sum(k.time.median for k in timing.kernels)
                row = {
                    "netprof_latency_s": statistics.median(ours),
                    "independent_latency_s": statistics.median(theirs),
                    "kernel_sum_s": kernel_sum,
                    "kernel_sum_vs_latency": kernel_sum / timing.plain.median - 1,
                    "kernels": len(timing.kernels),
                    "conv_fused_kernels": len(conv_fused),
                    "joined": len(joined),
                    "ops_with_mult_adds": len(working),
                    "warnings": list(timing.warnings),
                }
                row["latency_vs_independent"] = row["netprof_latency_s"] / row["independent_latency_s"] - 1
                # TORCHINDUCTOR_FREEZING=1 (read by both runs) makes another compile: a row of its own
                frozen = runtime == "compile" and _freezing()
                key = f"{name}|{runtime}{'+freezing' if frozen else ''}"
                report[key] = row
                print(f"{key}: {json.dumps(row)}", flush=True)
                _save(out, report)


def _freezing() -> bool:
    from torch._inductor import config

    return bool(config.freezing)


def _independent_export(runtime: str, model: torch.nn.Module, x: torch.Tensor, stem: Path) -> Path:
    """The user's own export: ONNX (dynamo), or for ExecuTorch a .pte lowered to XNNPACK."""
    if runtime != "executorch":
        path = stem.with_suffix(".onnx")
        if not path.exists():
            torch.onnx.export(model, (x,), dynamo=True).save(str(path))
        return path
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    path = stem.with_suffix(".pte")
    program = torch.export.export(model, (x,))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    path.write_bytes(lowered.buffer)
    return path


def fusion(args: argparse.Namespace) -> None:
    """Per runtime and rule: findings whose ops all vanish into fused kernels, some do, none do."""
    from netprof.config import Config

    crops = dict(classifiers())
    table: dict[str, dict[str, dict[str, int]]] = {}
    for runtime in args.runtimes:
        for name in NAMED:
            model, x = _model(name, crops[name]), _input(name, crops[name], 1)
            options = TimingOptions(repeat=3, threads=1, runtime=runtime)
            result = pipeline.run(model, x, timing=options)
            for finding in pipeline.check(result, model, Config()):
                said = finding.evidence.get("fusion")
                if said is None:
                    continue
                kind = "all" if said["fused_ops"] == said["ops"] else "some" if said["fused_ops"] else "none"
                per_rule = table.setdefault(runtime, {}).setdefault(
                    finding.rule, {"all": 0, "some": 0, "none": 0}
                )
                per_rule[kind] += 1
            print(runtime, name, table.get(runtime), flush=True)
            _save(RESULTS / "runtimes_fusion.json", table)


def _predictions(rows: list[dict], crops: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per row key: netprof's runtime prediction and the two baselines' raw figures (before scaling)."""
    from netprof.runtimes import predict as runtime_predict
    from netprof.runtimes import profile as runtime_profiles
    from netprof.timing import calibrate

    found, captured, analysis = {}, None, None
    for row in sorted(rows, key=lambda r: (r["model"], r["batch"])):  # each model and batch captured once
        name, batch = row["model"], row["batch"]
        if captured != (name, batch):
            model, x = _model(name, crops[name]), _input(name, crops[name], batch)
            captured, analysis = (name, batch), pipeline.run(model, x, mode="meta").analysis
        profile = runtime_profiles.cached(row["runtime"], row["threads"])
        roof = calibrate.load("cpu", row["threads"])
        roofline = sum(
            max(op.flops / roof.peak_flops, op.mem_access_bytes / roof.bandwidth) for op in analysis.ops
        )
        found[_key(row)] = {
            "predicted_s": runtime_predict.predict(analysis, profile).latency_s,
            "mult_adds": analysis.totals.mult_adds,
            "roofline_s": roofline,
        }
    return found


def windows(args: argparse.Namespace) -> None:
    """Calibrate, then measure and predict the named models at once, as a user would, in several windows.

    This machine's speed drifts by 10-20% over minutes (resnet18 in OpenVINO, one thread: 8.05 ms, then
    7.54 ms ten minutes later); a prediction can only be as close as the calibration's window is to the
    measurement's. Each window is what one user sees: ``netprof calibrate --runtime R --threads N --force``
    (the command line, in a process of its own), then the models (the eight named, and any others
    ``--models`` adds) timed in interleaved rounds, then predicted on the profile just written, and again
    on it with the last-level cache Linux lists in place of the one the calibration measured. A run
    replaces its own runtimes' windows in the results file and keeps the others'."""
    import dataclasses

    from predict import scores

    from netprof.runtimes import predict as runtime_predict
    from netprof.runtimes import profile as runtime_profiles

    crops = dict(classifiers())
    names = NAMED + ([] if args.models == "named" else [name for name in args.models if name not in NAMED])
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    files = {name: _exported(name, crops[name], 1, cache) for name in names}
    analyses = {
        name: pipeline.run(_model(name, crops[name]), _input(name, crops[name], 1), mode="meta").analysis
        for name in names
    }
    netprof_cli = Path(sys.executable).with_name("netprof")
    out = RESULTS / f"runtimes_windows{args.tag}.json"
    results: dict[str, dict] = json.loads(out.read_text()) if out.exists() else {}  # others' rows stay
    for window in range(1, args.windows + 1):
        for runtime in args.runtimes:
            for threads in args.threads:
                started = time.perf_counter()
                subprocess.run(
                    [
                        str(netprof_cli),
                        "calibrate",
                        "--runtime",
                        runtime,
                        "--threads",
                        str(threads),
                        "--force",
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                calibration_s = time.perf_counter() - started
                sessions = {n: Session(runtime, path, x, threads) for n, (path, x, _) in files.items()}
                figures = _interleaved(sessions, args.rounds)
                profile = runtime_profiles.cached(runtime, threads)
                listed = dataclasses.replace(profile, cache_holds_bytes=0, cache_loses_bytes=0)  # Linux's
                models = {}
                for name in names:
                    latency = statistics.median(figures[name])
                    predicted = runtime_predict.predict(analyses[name], profile).latency_s
                    on_listed = runtime_predict.predict(analyses[name], listed).latency_s
                    models[name] = {
                        "latency_s": latency,
                        "spread": (max(figures[name]) - min(figures[name])) / latency,
                        "predicted_s": predicted,
                        "error": predicted / latency - 1,
                        "error_listed_llc": on_listed / latency - 1,
                    }
                key = f"{runtime}|t{threads}|window{window}"
                results[key] = {
                    "runtime": runtime, "threads": threads, "window": window, "calibration_s": calibration_s,
                    "llc_bytes": profile.llc_bytes, "cache_holds_bytes": profile.cache_holds_bytes,
                    "cache_loses_bytes": profile.cache_loses_bytes,
                    "models": models, **_window_scores(models, scores),
                }  # fmt: skip
                print(
                    f"{key}: calibrated in {calibration_s:.0f} s; named {results[key]['scores']['within_10']:.0%} "
                    f"within 10%, MAPE {results[key]['scores']['mape']:.1%}",
                    flush=True,
                )
                _save(out, results)
    _windows_markdown(results, args)


def _window_scores(models: dict[str, dict], scores) -> dict[str, dict]:
    """The named models' scores, and every model's, on the measured and on Linux's last-level cache."""
    found = {}
    for label, names in (("scores", NAMED), ("scores_all", list(models))):
        measured = [models[n]["latency_s"] for n in names]
        for suffix, field in (("", "error"), ("_listed_llc", "error_listed_llc")):
            predicted = [(1 + models[n][field]) * models[n]["latency_s"] for n in names]
            found[label + suffix] = scores(predicted, measured, [])
    return found


def _windows_markdown(results: dict[str, dict], args: argparse.Namespace) -> None:
    rows = sorted(results.values(), key=lambda row: (row["runtime"], row["threads"], row["window"]))
    extra = [name for name in rows[0]["models"] if name not in NAMED]
    command = f"python benchmarks/runtimes.py windows --windows {args.windows} --rounds {args.rounds}"
    if extra:
        command += f" --models {' '.join(extra)} --tag {args.tag}"
    lines = [
        "# Runtime prediction, calibrated and measured in the same window\n",
        (
            f"`{command}` (batch 1; each window: `netprof calibrate --runtime R --threads N --force`, then "
            "the models timed in interleaved rounds, then predicted on the profile just written; *Linux's "
            "LLC* predicts again on that profile with the last-level cache Linux lists in place "
            "of the one the calibration measured)\n"
        ),
        (
            "| runtime | threads | window | calibration | cache holds / loses a pass | within 10% | MAPE | Kendall tau | "
            "all: within 10% | all: MAPE | all, Linux's LLC: within 10% | all, Linux's LLC: MAPE |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        named, every, listed = (
            row["scores"],
            row.get("scores_all", row["scores"]),
            row.get("scores_all_listed_llc"),
        )
        cells = [
            row["runtime"], row["threads"], row["window"], f"{row['calibration_s']:.0f} s",
            f"{row['cache_holds_bytes'] / 2**20:.0f} / {row['cache_loses_bytes'] / 2**20:.0f} MiB"
            if "cache_loses_bytes" in row
            else "-",
            f"{named['within_10']:.0%}", f"{named['mape']:.1%}", f"{named['kendall_tau']:.3f}",
            f"{every['within_10']:.0%}", f"{every['mape']:.1%}",
            f"{listed['within_10']:.0%}" if listed else "-", f"{listed['mape']:.1%}" if listed else "-",
        ]  # fmt: skip
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines += [
        "",
        "| model | " + " | ".join(f"{r['runtime']} t{r['threads']} w{r['window']}" for r in rows) + " |",
    ]
    lines.append("|---|" + "---:|" * len(rows))
    for name in rows[0]["models"]:
        errors = []
        for r in rows:
            model = r["models"][name]
            listed = f" ({model['error_listed_llc']:+.0%})" if "error_listed_llc" in model else ""
            errors.append(f"{model['latency_s'] * 1e3:.2f} ms {model['error']:+.0%}{listed}")
        lines.append(f"| {name} | " + " | ".join(errors) + " |")
    lines.append("\nEach cell: measured latency, the prediction's error (on Linux's last-level cache).")
    (RESULTS / f"runtimes_windows{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _key(row: dict) -> str:
    return f"{row['model']}|{row['runtime']}|t{row['threads']}|b{row['batch']}"


def report(args: argparse.Namespace) -> None:
    """Predicted against measured per runtime, threads and batch; the named models and all measured."""
    from predict import best_constant, scores

    measured_file = RESULTS / f"runtimes_measured{args.tag}.json"
    measured = [r for r in json.loads(measured_file.read_text()).values() if "latency_s" in r]
    crops = dict(classifiers())
    cached = RESULTS / f"runtimes_predicted{args.tag}.json"
    predicted = json.loads(cached.read_text()) if cached.exists() else {}
    missing = [r for r in measured if _key(r) not in predicted]
    predicted |= _predictions(missing, crops)
    _save(cached, predicted)
    lines = ["| models | runtime | threads | batch | predictor | n | MAPE | within 10% | within 25% | Kendall tau |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    summary = {}
    settings = sorted({(r["runtime"], r["threads"], r["batch"]) for r in measured})
    for subset, label in ((NAMED, "the 8 named"), (None, "all measured")):
        for runtime, threads, batch in settings:
            rows = [
                r for r in measured if (r["runtime"], r["threads"], r["batch"]) == (runtime, threads, batch)
            ]
            rows = [r for r in rows if subset is None or r["model"] in subset]
            if len(rows) < 2:
                continue
            truth = [r["latency_s"] for r in rows]
            ours = [predicted[_key(r)]["predicted_s"] for r in rows]
            macs = [predicted[_key(r)]["mult_adds"] for r in rows]
            roof = [predicted[_key(r)]["roofline_s"] for r in rows]
            for name, values in (
                ("**netprof predict --runtime**", ours),
                (
                    "netprof x c",
                    [best_constant(ours, truth) * m for m in ours],
                ),  # right up to the host's speed
                ("mult_adds x c", [best_constant(macs, truth) * m for m in macs]),
                ("roofline x c", [best_constant(roof, truth) * m for m in roof]),
            ):
                score = scores(values, truth, [])
                summary[f"{label}|{runtime}|t{threads}|b{batch}|{name}"] = score
                lines.append(
                    f"| {label} | {runtime} | {threads} | {batch} | {name} | {len(rows)} | {score['mape']:.1%} | "
                    f"{score['within_10']:.0%} | {score['within_25']:.0%} | {score['kendall_tau']:.3f} |"
                )
    per_model = ["| model | runtime | threads | batch | measured | spread | predicted | error |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in sorted(
        measured, key=lambda r: (r["model"] not in NAMED, r["model"], r["runtime"], r["threads"], r["batch"])
    ):
        p = predicted[_key(r)]["predicted_s"]
        per_model.append(
            f"| {r['model']} | {r['runtime']} | {r['threads']} | {r['batch']} | {r['latency_s'] * 1e3:.2f} ms | "
            f"{r['spread']:.0%} | {p * 1e3:.2f} ms | {p / r['latency_s'] - 1:+.0%} |"
        )
    _save(RESULTS / f"runtimes_scores{args.tag}.json", summary)
    command = "python benchmarks/runtimes.py report" + (f" --tag {args.tag}" if args.tag else "")
    (RESULTS / f"runtimes_predicted{args.tag}.md").write_text(
        f"# Runtime prediction: predicted vs measured\n\n`{command}` (profiles: "
        "`netprof calibrate --runtime R --threads N`, cached)\n\n"
        + "\n".join(lines)
        + "\n\n## Per model\n\n"
        + "\n".join(per_model)
        + "\n"
    )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    report_parser = sub.add_parser("report")
    for name in ("measure", "agreement", "fusion", "windows"):
        command = sub.add_parser(name)
        command.add_argument("--models", nargs="+", default="named")
        choices = RUNTIMES if name in ("measure", "windows") else ALL_RUNTIMES
        command.add_argument("--runtimes", nargs="+", default=RUNTIMES, choices=choices)
        command.add_argument("--rounds", type=int, default=5)
    measure_parser = sub.choices["measure"]
    measure_parser.add_argument("--threads", nargs="+", type=int, default=[1])
    measure_parser.add_argument("--batch", nargs="+", type=int, default=[1])
    measure_parser.add_argument(
        "--max-gmacs",
        type=float,
        default=9.0,
        help="leave out models above this many G mult_adds (torchvision's)",
    )
    measure_parser.add_argument("--group", type=int, default=8, help="models timed in one interleaved group")
    windows_parser = sub.choices["windows"]
    windows_parser.add_argument("--windows", type=int, default=3, help="calibrate-measure-predict cycles")
    windows_parser.add_argument("--threads", nargs="+", type=int, default=[1])
    windows_parser.add_argument("--tag", default="", help="results go to runtimes_windows{TAG}.json and .md")
    for command in (measure_parser, report_parser):
        command.add_argument(
            "--tag", default="", help="results go to runtimes_measured{TAG}.json and the like"
        )
    for command in (measure_parser, windows_parser):
        command.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "netprof-onnx"))
    args = parser.parse_args()
    if args.command == "report":
        return report(args)
    if getattr(args, "models", None) == ["named"]:
        args.models = "named"
    {"measure": measure, "agreement": agreement, "fusion": fusion, "windows": windows}[args.command](args)
    return None


if __name__ == "__main__":
    main()
