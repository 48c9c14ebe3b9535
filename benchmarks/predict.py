"""How well does ``netprof predict`` know a model's latency before running it? Every torchvision classifier.

    python benchmarks/predict_measure.py --threads 1 --batch 1      # measured latency (slow; once)
    netprof calibrate --threads 1 -o benchmarks/results/profile_cpu_t1.json
    python benchmarks/predict.py --threads 1 --batch 1 [--categories]

The profile is fitted on synthetic micro-benchmarks only; the 80 models here are never part of it. Each
model is built on meta (on the CPU where its builder needs data) at its own crop size, captured on meta
and priced with the profile. Against the measured plain-forward latency the prediction is scored by:
mean absolute percentage error (MAPE), the share within +-10% and +-25%, Kendall's tau and Spearman's
rho, and the share of FLOPs-inverted pairs it orders right: pairs of models whose measured latency order
is opposite to their mult_adds order by more than the noise (the two models' round-to-round spreads).
Three baselines stand in the same table, each scaled by the single constant that minimises its own MAPE
on these very models (which favours them): mult_adds, mem_access_bytes, and the plain roofline
``sum max(flops / peak, bytes / bandwidth)`` of ``netprof calibrate``'s roof.

``--categories`` also times mobilenet_v2, shufflenet_v2_x1_0 and resnet50 op by op (``netprof analyze
--time``) and compares the predicted time of each category with the measured one. Results go to
``benchmarks/results/predict_t{threads}_b{batch}.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torchvision.models import get_model

import netprof
from netprof import pipeline
from netprof.prediction import profile as profiles
from netprof.timing import calibrate
from netprof.timing.ranking import spearman

RESULTS = Path(__file__).parent / "results"
CATEGORY_MODELS = ("mobilenet_v2", "shufflenet_v2_x1_0", "resnet50")


def build(name: str, crop: int) -> torch.nn.Module:
    size = {"image_size": crop} if name.startswith("vit_") and crop != 224 else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.device("meta"):
                return get_model(name, weights=None, **size)
        except Exception:  # noqa: BLE001 - a builder that reads data (RegNet's widths) builds on the CPU
            return get_model(name, weights=None, **size)


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b: concordant minus discordant pairs, corrected for ties."""
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    pairs = concordant + discordant
    return (concordant - discordant) / math.sqrt((pairs + ties_x) * (pairs + ties_y))


def best_constant(x: list[float], y: list[float]) -> float:
    """The c minimising the MAPE of ``c * x`` against ``y``: convex and piecewise linear in c, so one of y/x."""
    return min(
        (yi / xi for xi, yi in zip(x, y)), key=lambda c: sum(abs(c * xi / yi - 1) for xi, yi in zip(x, y))
    )


def scores(
    predicted: list[float], measured: list[float], inverted: list[tuple[int, int]]
) -> dict[str, float]:
    errors = [p / m - 1 for p, m in zip(predicted, measured)]
    right = sum((predicted[i] > predicted[j]) == (measured[i] > measured[j]) for i, j in inverted)
    return {
        "mape": statistics.mean(abs(e) for e in errors),
        "within_10": sum(abs(e) <= 0.10 for e in errors) / len(errors),
        "within_25": sum(abs(e) <= 0.25 for e in errors) / len(errors),
        "kendall_tau": kendall_tau(predicted, measured),
        "spearman_rho": spearman(predicted, measured),
        "inverted_pairs_right": right / len(inverted) if inverted else math.nan,
        "median_ratio": statistics.median(p / m for p, m in zip(predicted, measured)),
    }


def flops_inverted(mult_adds: list[int], measured: list[float], noise: list[float]) -> list[tuple[int, int]]:
    """Pairs (i, j), i slower, whose latency order is opposite to their mult_adds order beyond the noise."""
    pairs = []
    for i, j in itertools.permutations(range(len(measured)), 2):
        slower_by = measured[i] / measured[j] - 1
        if mult_adds[i] < mult_adds[j] and slower_by > max(noise[i], noise[j]):
            pairs.append((i, j))
    return pairs


def noise_of(rounds: list[list[float]]) -> float:
    medians = [statistics.median(r) for r in rounds]
    return max(medians) / min(medians) - 1 if len(medians) > 1 else 0.0


def category_check(profile: profiles.DeviceProfile, threads: int, batch: int) -> dict[str, dict]:
    """Predicted against measured time per category, on three models timed op by op."""
    out = {}
    for name in CATEGORY_MODELS:
        model = get_model(name, weights=None).eval()
        x = torch.randn(batch, 3, 224, 224)
        timed = pipeline.run(model, x, timing=netprof.TimingOptions(repeat=15, threads=threads))
        predicted = pipeline.predict(model, x, profile).prediction
        measured = {g.name: g.time_s for g in timed.timing.categories}
        total = sum(measured.values())
        out[name] = {
            category: {
                "measured_s": seconds,
                "predicted_s": predicted.categories.get(category, 0.0),
                "share": seconds / total,
                "error": predicted.categories.get(category, 0.0) / seconds - 1,
            }
            for category, seconds in measured.items()
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--profile", type=Path, help="default: benchmarks/results/profile_cpu_t{threads}.json"
    )
    parser.add_argument("--categories", action="store_true", help="also compare per category on three models")
    args = parser.parse_args()
    profile = profiles.load(args.profile or RESULTS / f"profile_cpu_t{args.threads}.json")
    roof = calibrate.load("cpu", args.threads)
    measured_doc = json.loads((RESULTS / f"predict_measured_t{args.threads}_b{args.batch}.json").read_text())
    names, measured, noise, predicted, counts, roofline = [], [], [], [], [], []
    analysis_s = predict_s = 0.0
    for name, entry in measured_doc["models"].items():
        model = build(name, entry["crop"])
        x = torch.empty(args.batch, 3, entry["crop"], entry["crop"], device="meta")
        started = time.perf_counter()
        analysis = netprof.analyze(model, x, mode="meta")
        analysed = time.perf_counter()
        prediction = netprof.prediction.predict(analysis, profile)
        predict_s += time.perf_counter() - analysed
        analysis_s += analysed - started
        names.append(name)
        measured.append(entry["latency_s"])
        noise.append(noise_of(entry["rounds"]))
        predicted.append(prediction.latency_s)
        counts.append((analysis.totals.mult_adds, analysis.totals.mem_access_bytes))
        if roof is not None:
            roofline.append(
                math.fsum(
                    max(op.flops / roof.peak_flops, op.mem_access_bytes / roof.bandwidth)
                    for op in analysis.ops
                )
            )
        print(
            f"{name}: measured {entry['latency_s'] * 1e3:.2f} ms, predicted {prediction.latency_s * 1e3:.2f} ms",
            file=sys.stderr,
        )
    mult_adds = [m for m, _ in counts]
    inverted = flops_inverted(mult_adds, measured, noise)
    baselines = {"mult_adds": mult_adds, "mem_access_bytes": [b for _, b in counts]}
    if roofline:
        baselines["roofline"] = roofline
    table = {"netprof predict": scores(predicted, measured, inverted)}
    for baseline, values in baselines.items():
        c = best_constant(values, measured)
        table[f"{baseline} x best constant"] = scores([c * v for v in values], measured, inverted)
    result = {
        "threads": args.threads,
        "batch": args.batch,
        "models": len(names),
        "profile": {**profiles.to_dict(profile), "points": len(profile.points)},
        "noise_floor_median": statistics.median(noise),
        "flops_inverted_pairs": len(inverted),
        "scores": table,
        "predict_cost_over_analysis": predict_s / analysis_s,
        "per_model": [
            {"name": n, "measured_s": m, "predicted_s": p, "noise": z, "mult_adds": c[0]}
            for n, m, p, z, c in zip(names, measured, predicted, noise, counts)
        ],
    }
    if args.categories:
        result["categories"] = category_check(profile, args.threads, args.batch)
    stem = RESULTS / f"predict_t{args.threads}_b{args.batch}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    lines = [
        (
            f"### netprof predict: {result['models']} torchvision classifiers, batch {result['batch']}, "
            f"{result['threads']} thread(s)"
        ),
        "",
        (
            f"Profile: {result['profile']['processor']}, fitted on {result['profile']['points']} synthetic "
            f"micro-benchmarks in {result['profile']['calibration_s']:.0f} s (none of these models). Median "
            f"noise floor (spread between measurement rounds): {100 * result['noise_floor_median']:.1f}%; "
            f"{result['flops_inverted_pairs']} FLOPs-inverted pairs; predicting costs "
            f"{100 * result['predict_cost_over_analysis']:.1f}% of the meta analysis."
        ),
        "",
        "| predictor | MAPE | within 10% | within 25% | Kendall tau | Spearman rho | inverted pairs right | median pred/meas |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in result["scores"].items():
        lines.append(
            f"| {name} | {100 * s['mape']:.1f}% | {100 * s['within_10']:.0f}% | {100 * s['within_25']:.0f}% | "
            f"{s['kendall_tau']:.3f} | {s['spearman_rho']:.3f} | {100 * s['inverted_pairs_right']:.0f}% | "
            f"{s['median_ratio']:.2f} |"
        )
    for model, categories in result.get("categories", {}).items():
        lines += [
            "",
            f"{model}: predicted vs measured time per category (categories above 5% of op time)",
            "",
        ]
        lines += ["| category | share | measured | predicted | error |", "|---|---:|---:|---:|---:|"]
        for category, c in sorted(categories.items(), key=lambda item: -item[1]["share"]):
            if c["share"] > 0.05:
                lines.append(
                    f"| {category} | {100 * c['share']:.0f}% | {c['measured_s'] * 1e3:.2f} ms | "
                    f"{c['predicted_s'] * 1e3:.2f} ms | {100 * c['error']:+.0f}% |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
