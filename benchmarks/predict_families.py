"""Eager-CPU prediction on mobile families: 8 torchvision models and timm families no feature was designed on.

    python benchmarks/predict_families.py measure --threads 1 --batch 1 [--rounds 7] [--passes 5] [--machine M]
    netprof calibrate --threads 1 -o benchmarks/results/profile_cpu_t1.json
    python benchmarks/predict_families.py score --threads 1 --batch 1 [--profile FILE] [--tag NAME] [--machine M]

``measure`` times every model in interleaved rounds (``benchmarks/rotation.py``: the models in rotation,
``--rounds`` rounds, the median of each model's round medians, with its IQR and min-max beside it) and
writes ``benchmarks/results/families_measured_t{T}_b{B}[_{machine}].json`` after every visit (an
interrupted run resumes; ``--machine`` keeps one machine's ground truth apart from another's). ``score``
prices each model with a device profile (captured on meta, nothing runs) and scores the prediction
against those measurements: the share within +-10% and +-25%, MAPE, Kendall's tau, beside ``mult_adds x c`` and the plain roofline ``sum max(flops / peak, bytes / bandwidth)`` x c, each ``c`` the
constant minimising that baseline's own MAPE on these very models (which favours them). Scores are given
for all models, for the torchvision 8 and for the timm hold-out (families the per-kind features were
never looked at on). Output: ``benchmarks/results/predict_families_t{T}_b{B}[_{tag}].json`` and ``.md``.
Models are built with ``weights=None`` / ``pretrained=False`` at 224x224.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from predict import best_constant, kendall_tau
from rotation import time_in_rotation

import netprof
from netprof.prediction import profile as profiles
from netprof.timing import calibrate

RESULTS = Path(__file__).parent / "results"
TORCHVISION = (
    "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1", "resnet18",
    "efficientnet_b0", "regnet_x_400mf", "googlenet",
)  # fmt: skip
# The hold-out: timm mobile families, none of which was looked at while choosing the features.
TIMM = (
    "mobilenetv3_small_100", "mobilenetv3_large_100", "tf_mobilenetv3_large_minimal_100",
    "efficientnet_lite0", "mnasnet_100", "semnasnet_100", "fbnetc_100", "ghostnet_100", "lcnet_100",
    "tinynet_a", "tinynet_d", "mixnet_s", "spnasnet_100", "hardcorenas_a", "mobilevit_xxs",
)  # fmt: skip


def build(name: str, device: str = "cpu") -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in TORCHVISION:
            from torchvision.models import get_model

            kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
            return get_model(name, weights=None, **kwargs).eval()
        import timm

        return timm.create_model(name, pretrained=False).eval()


def measured_path(args: argparse.Namespace) -> Path:
    suffix = f"_{args.machine}" if args.machine else ""
    return RESULTS / f"families_measured_t{args.threads}_b{args.batch}{suffix}.json"


def measure(args: argparse.Namespace) -> None:
    path = measured_path(args)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(threads=args.threads, batch=args.batch, rounds=args.rounds, passes=args.passes)
    data["command"] = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    models = data.setdefault("models", {})
    names = [n for n in (*TORCHVISION, *TIMM) if not args.only or n in args.only]
    builders = {n: (lambda n=n: (build(n), torch.randn(args.batch, 3, 224, 224))) for n in names}

    def save(name: str, round_: int, times: list[float]) -> None:
        models.setdefault(name, {"rounds": []})["rounds"].append(times)
        path.write_text(json.dumps(data, indent=1) + "\n")

    done = {n: models[n]["rounds"] for n in names if n in models}
    out = time_in_rotation(builders, args.rounds, args.passes, threads=args.threads, done=done, on_visit=save)
    for name, entry in out.items():
        models[name] = entry
    path.write_text(json.dumps(data, indent=1) + "\n")


def scores(predicted: list[float], measured: list[float]) -> dict[str, float]:
    errors = [p / m - 1 for p, m in zip(predicted, measured)]
    return {
        "within_10": sum(abs(e) <= 0.10 for e in errors) / len(errors),
        "within_25": sum(abs(e) <= 0.25 for e in errors) / len(errors),
        "mape": statistics.mean(abs(e) for e in errors),
        "kendall_tau": kendall_tau(predicted, measured),
        "median_ratio": statistics.median(p / m for p, m in zip(predicted, measured)),
    }


def score(args: argparse.Namespace) -> None:
    profile_path = args.profile or RESULTS / f"profile_cpu_t{args.threads}.json"
    profile = profiles.load(profile_path)
    roof = calibrate.load("cpu", args.threads)
    doc = json.loads(measured_path(args).read_text())
    rows = []
    for name, entry in doc["models"].items():
        model = build(name)
        analysis = netprof.analyze(model, torch.empty(args.batch, 3, 224, 224, device="meta"), mode="meta")
        prediction = netprof.prediction.predict(analysis, profile)
        rows.append(
            {
                "name": name,
                "source": "torchvision" if name in TORCHVISION else "timm",
                **{k: entry[k] for k in ("latency_s", "iqr", "min_max")},
                "predicted_s": prediction.latency_s,
                "mult_adds": analysis.totals.mult_adds,
                "roofline_s": math.fsum(
                    max(op.flops / roof.peak_flops, op.mem_access_bytes / roof.bandwidth)
                    for op in analysis.ops
                ),
                "kinds_s": prediction.kinds,
            }
        )
        print(f"{name}: {rows[-1]['predicted_s'] / entry['latency_s'] - 1:+.1%}", file=sys.stderr)
    table = {}
    for subset, keep in (("all", lambda r: True), ("torchvision", lambda r: r["source"] == "torchvision"),
                         ("timm hold-out", lambda r: r["source"] == "timm")):  # fmt: skip
        chosen = [r for r in rows if keep(r)]
        measured = [r["latency_s"] for r in chosen]
        table[subset] = {"netprof predict": scores([r["predicted_s"] for r in chosen], measured)}
        for baseline in ("mult_adds", "roofline_s"):
            values = [r[baseline] for r in chosen]
            c = best_constant(values, measured)
            table[subset][f"{baseline.removesuffix('_s')} x best constant"] = scores(
                [c * v for v in values], measured
            )
    result = {
        "threads": args.threads,
        "batch": args.batch,
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "measured_with": doc.get("command"),
        "rounds": doc.get("rounds"),
        "profile": {**profiles.to_dict(profile), "points": len(profile.points), "file": str(profile_path)},
        "roof": {"peak_flops": roof.peak_flops, "bandwidth": roof.bandwidth},
        "scores": table,
        "per_model": rows,
    }
    stem = RESULTS / (
        f"predict_families_t{args.threads}_b{args.batch}" + (f"_{args.tag}" if args.tag else "")
    )
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = [
        f"### netprof predict on mobile families: batch {result['batch']}, {result['threads']} thread(s)",
        "",
        (
            f"Scored by `{result['command']}`; measured by `{result['measured_with']}` ({result['rounds']} "
            f"interleaved rounds, latency = median of round medians). Profile: {result['profile']['file']} "
            f"({result['profile']['schema']}, {result['profile']['points']} micro-benchmarks, fitted in "
            f"{result['profile']['calibration_s']:.0f} s)."
        ),
        "",
        "| models | predictor | within 10% | within 25% | MAPE | Kendall tau | median pred/meas |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for subset, predictors in result["scores"].items():
        for name, s in predictors.items():
            lines.append(
                f"| {subset} | {name} | {100 * s['within_10']:.0f}% | {100 * s['within_25']:.0f}% | "
                f"{100 * s['mape']:.1f}% | {s['kendall_tau']:.3f} | {s['median_ratio']:.2f} |"
            )
    lines += [
        "",
        "| model | source | measured | IQR | min-max | predicted | error |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["per_model"]:
        lines.append(
            f"| {r['name']} | {r['source']} | {r['latency_s'] * 1e3:.2f} ms | {100 * r['iqr']:.1f}% | "
            f"{100 * r['min_max']:.1f}% | {r['predicted_s'] * 1e3:.2f} ms | "
            f"{100 * (r['predicted_s'] / r['latency_s'] - 1):+.1f}% |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("measure", "score"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--passes", type=int, default=5, help="timed passes per visit")
    parser.add_argument("--only", nargs="*", help="model names (default: all)")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--tag", help="suffix of the score files (e.g. 'before')")
    parser.add_argument("--machine", help="suffix of the measurements file, naming the machine (e.g. 'xeon')")
    args = parser.parse_args()
    measure(args) if args.action == "measure" else score(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
