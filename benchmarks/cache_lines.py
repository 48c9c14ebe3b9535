"""Where an eager profile's two cache lines should fall: refit a profile's timed points with them moved.

    python benchmarks/cache_lines.py --profile FILE --batch 8 --machine xeon_w1 [--machine ...]
        [--cache-mib 16 32 84 480] [--fresh-mib 4 8 16 32] [--tag NAME]

An eager device profile prices two things no one-op loop shows: the bytes an op moves past what the
last-level cache keeps (``past_cache_bytes``, the line ``pass_cache_bytes``) and a grouped convolution's
buffers that a network meets as fresh pages (``transient_bytes``, the line ``fresh_pages_bytes``). The
calibration's synthetic networks fit either price about as well wherever the line falls, so the lines are
chosen on models. This refits the profile's own timed points (nothing is timed again) for every pair of
lines, predicts the mobile families of ``predict_families.py`` with each refit, and scores it against
that benchmark's measurements (``families_measured_t{T}_b{B}_{machine}.json``, one or more machines or
time windows). Output: ``benchmarks/results/cache_lines_t{T}_b{B}[_{tag}].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from predict_families import RESULTS, TIMM, TORCHVISION, build, measured_path, scores

import netprof
from netprof.analysis import OpNode
from netprof.calibration.microbench import MicroBench, micro_benchmarks
from netprof.calibration.profile import cache_features, captured, fit
from netprof.prediction import profile as profiles
from netprof.prediction.profile import BenchPoint, DeviceProfile

MIB = 2**20
SUBSETS = {"all": (*TORCHVISION, *TIMM), "torchvision": TORCHVISION, "timm hold-out": TIMM}


@dataclass(frozen=True)
class Captured:
    """One micro-benchmark as the calibration counted it: what the two lines are drawn through."""

    bench: MicroBench
    ops: tuple[OpNode, ...]


def captures(profile: DeviceProfile) -> dict[str, Captured]:
    by_name = {bench.name: bench for bench in micro_benchmarks()}
    found = {}
    for point in profile.points:
        bench = by_name[point.name]
        ops = captured(bench, bench.build().eval(), getattr(torch, profile.dtype)).ops
        found[point.name] = Captured(bench, tuple(ops))
    return found


def refit(profile: DeviceProfile, seen: dict[str, Captured], cache: int, fresh: int) -> DeviceProfile:
    """``profile`` fitted again on its own points with the lines at ``cache`` and ``fresh`` bytes."""
    device = torch.device(profile.device)

    def moved(point: BenchPoint) -> BenchPoint:
        bench = seen[point.name]
        return replace(
            point, **cache_features(bench.ops, bench.bench, device, cache, profile.l2_bytes, fresh)
        )

    points = tuple(moved(point) for point in profile.points)
    kinds, shared, per_call, per_run, mape = fit(points, profile.page_fault_s_per_byte)
    return replace(
        profile,
        kinds=kinds,
        per_module_call_s=per_call,
        per_run_s=per_run,
        points=points,
        cache_holds_bytes=cache,
        **shared,
        fresh_pages_bytes=fresh,
        fit_mape=mape,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--machine", action="append", required=True, help="measurements to score on")
    parser.add_argument("--cache-mib", type=float, nargs="+", default=[16, 32, 84, 480])
    parser.add_argument("--fresh-mib", type=float, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--tag")
    args = parser.parse_args()
    base = profiles.load(args.profile)
    seen = captures(base)
    measured = {
        machine: json.loads(
            measured_path(argparse.Namespace(**{**vars(args), "machine": machine})).read_text()
        )["models"]
        for machine in args.machine
    }
    analyses = {
        name: netprof.analyze(build(name), torch.empty(args.batch, 3, 224, 224, device="meta"), mode="meta")
        for name in SUBSETS["all"]
    }
    rows = []
    for cache_mib in args.cache_mib:
        for fresh_mib in args.fresh_mib:
            profile = refit(base, seen, int(cache_mib * MIB), int(fresh_mib * MIB))
            predicted = {
                name: netprof.prediction.predict(a, profile).latency_s for name, a in analyses.items()
            }
            row = {"cache_mib": cache_mib, "fresh_mib": fresh_mib, "fit_mape": profile.fit_mape, "scores": {}}
            for machine, models in measured.items():
                row["scores"][machine] = {
                    subset: scores([predicted[n] for n in names], [models[n]["latency_s"] for n in names])
                    for subset, names in SUBSETS.items()
                }
            rows.append(row)
            print(f"cache {cache_mib:g} MiB, fresh pages {fresh_mib:g} MiB", file=sys.stderr)
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "profile": str(args.profile),
        "rows": rows,
    }
    stem = RESULTS / (f"cache_lines_t{args.threads}_b{args.batch}" + (f"_{args.tag}" if args.tag else ""))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result, args.machine))
    print(markdown(result, args.machine))
    return 0


def markdown(result: dict, machines: list[str]) -> str:
    head = "| cache line | fresh-pages line | fit MAPE |" + "".join(
        f" {m}: within 10% (all / torchvision / timm) | {m}: MAPE all |" for m in machines
    )
    lines = [
        "### Where the eager profile's cache lines fall",
        "",
        f"`{result['command']}` (profile {result['profile']}, refitted on its own points for each pair).",
        "",
        head,
        "|" + "---:|" * (3 + 2 * len(machines)),
    ]
    for row in result["rows"]:
        cells = [f"{row['cache_mib']:g} MiB", f"{row['fresh_mib']:g} MiB", f"{100 * row['fit_mape']:.1f}%"]
        for machine in machines:
            s = row["scores"][machine]
            cells.append(" / ".join(f"{100 * s[subset]['within_10']:.0f}%" for subset in SUBSETS))
            cells.append(f"{100 * s['all']['mape']:.1f}%")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
