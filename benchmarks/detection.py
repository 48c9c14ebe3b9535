"""Detectors end to end: each one's stages counted, measured and predicted, the NMS curve, FLOPs against latency.

    python benchmarks/detection.py [--repeat 5] [--threads 1] [--profile FILE]

Each of torchvision's lightweight and FPN detectors is built without any weights (SPEC builder arguments:
``weights_backbone=None``; the FPN detectors with ``min_size=max_size=320``, so that every detector sees the
same 320x320 image instead of resizing it to 800) and run through ``netprof analyze --time`` on one 3x320x320
image at 1 thread, with the prediction on the cached (or given) eager device profile. Per detector and stage:
mult_adds, memory access, the measured sum of the stage's op times and the predicted one; the stages' sum
against the end-to-end latency. The NMS curve times ``torchvision.ops.batched_nms`` (IoU 0.5, 91 classes) at
10 to 10,000 candidate boxes, as post-processing sees them: its cost is in the candidates, not the
multiply-adds. Writes ``benchmarks/results/detection.json``, ``.md`` and ``detection.png``/``.svg``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torchvision.ops import batched_nms

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netprof import pipeline
from netprof.charts.files import save
from netprof.prediction import profile as profiles
from netprof.timing.run import TimingOptions

RESULTS = ROOT / "benchmarks" / "results"
_SMALL = "min_size=320, max_size=320, "
DETECTORS = {
    "ssdlite320_mobilenet_v3_large": "ssdlite320_mobilenet_v3_large(weights_backbone=None)",
    "fasterrcnn_mobilenet_v3_large_320_fpn": "fasterrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None)",
    "fcos_resnet50_fpn": f"fcos_resnet50_fpn({_SMALL}weights_backbone=None)",
    "retinanet_resnet50_fpn": f"retinanet_resnet50_fpn({_SMALL}weights_backbone=None)",
}
BOXES = (10, 100, 1000, 10_000)


def measure_detector(name: str, args: argparse.Namespace, profile) -> dict:
    spec = f"torchvision.models.detection:{DETECTORS[name]}"
    request = pipeline.RunRequest(
        spec,
        input_shapes=[(1, 3, 320, 320)],
        timing=TimingOptions(repeat=args.repeat, threads=args.threads),
        profile=profile,
    )
    result = pipeline.execute(request)
    stages = result.stages or ()
    return {
        "spec": spec,
        "mult_adds": result.analysis.totals.mult_adds,
        "mem_access_bytes": result.analysis.totals.mem_access_bytes,
        "latency_s": result.timing.plain.median,
        "predicted_s": result.prediction.latency_s,
        "notes": list(result.analysis.notes),
        "stages": [
            {
                "name": stage.name,
                "mult_adds": stage.totals.mult_adds,
                "mem_access_bytes": stage.totals.mem_access_bytes,
                "time_s": stage.time_s,
                "predicted_s": stage.predicted_s,
            }
            for stage in stages
        ],
    }


def nms_curve(threads: int, runs: int = 20) -> list[dict]:
    """Median seconds of one ``batched_nms`` over ``n`` random boxes in 91 classes, for each ``n``."""
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    curve = []
    for n in BOXES:
        corner = torch.rand(n, 2, generator=generator) * 300
        boxes = torch.cat([corner, corner + 5 + torch.rand(n, 2, generator=generator) * 60], dim=1)
        scores, labels = torch.rand(n, generator=generator), torch.randint(91, (n,), generator=generator)
        times = []
        for _ in range(runs + 2):
            begin = time.perf_counter()
            kept = batched_nms(boxes, scores, labels, 0.5)
            times.append(time.perf_counter() - begin)
        curve.append({"boxes": n, "kept": int(kept.numel()), "median_s": statistics.median(times[2:])})
    return curve


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def report(document: dict) -> None:
    lines = [
        "# Detectors end to end: stages, NMS, FLOPs against latency",
        "",
        (
            f"`python benchmarks/detection.py` (1 image 3x320x320, batch 1, {document['threads']} thread, "
            f"`--repeat {document['repeat']}`; predicted on `{document['profile']}`; no weights: random init). "
            "A stage's time is the sum of its ops' measured medians; `between ops` is the end-to-end latency "
            "less the ops' sum (Python and framework time outside the ops; negative where timing each op "
            "costs more than that)."
        ),
        "",
        "| detector | stage | mult_adds | % | memory access | measured | % of ops | predicted |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in document["detectors"].items():
        macs = row["mult_adds"] or 1
        ops_s = sum(stage["time_s"] or 0.0 for stage in row["stages"])
        for stage in row["stages"]:
            share = (stage["time_s"] or 0.0) / ops_s if ops_s else 0.0
            lines.append(
                f"| {name} | {stage['name']} | {stage['mult_adds'] / 1e6:.1f} M | {stage['mult_adds'] / macs:.1%} "
                f"| {stage['mem_access_bytes'] / 1e6:.1f} MB | {_ms(stage['time_s'])} | {share:.1%} | "
                f"{_ms(stage['predicted_s'])} |"
            )
        lines.append(
            f"| {name} | **end to end** | {row['mult_adds'] / 1e6:.1f} M | | {row['mem_access_bytes'] / 1e6:.1f} MB "
            f"| {_ms(row['latency_s'])} (ops {_ms(ops_s)}, between ops {_ms(row['latency_s'] - ops_s)}) | | "
            f"{_ms(row['predicted_s'])} |"
        )
    lines += [
        "",
        "## NMS as a function of its load",
        "",
        "`torchvision.ops.batched_nms` (IoU 0.5, 91 classes, random boxes), median of 20 runs:",
        "",
        "| candidate boxes | kept | time |",
        "|---:|---:|---:|",
        *(f"| {p['boxes']:,} | {p['kept']:,} | {_ms(p['median_s'])} |" for p in document["nms"]),
        "",
        "![detectors](detection.png)",
        "",
    ]
    (RESULTS / "detection.md").write_text("\n".join(lines))
    chart(document)


def chart(document: dict) -> list[Path]:
    figure = Figure(figsize=(12, 5))
    left, right = figure.subplots(1, 2)
    for name, row in document["detectors"].items():
        left.scatter(row["mult_adds"] / 1e9, row["latency_s"] * 1e3, label=name)
        left.annotate(name, (row["mult_adds"] / 1e9, row["latency_s"] * 1e3), fontsize=7)
    left.set_xlabel("mult_adds (G)")
    left.set_ylabel("measured latency (ms)")
    left.set_title("Detectors: multiply-adds against latency", fontsize=9)
    curve = document["nms"]
    right.loglog([p["boxes"] for p in curve], [p["median_s"] * 1e3 for p in curve], "o-")
    right.set_xlabel("candidate boxes into batched_nms")
    right.set_ylabel("time (ms)")
    right.set_title("NMS: its cost is in the boxes, at 0 multiply-adds", fontsize=9)
    figure.set_layout_engine("constrained")
    return save(figure, RESULTS / "detection")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    profile = profiles.load(args.profile) if args.profile else profiles.cached("cpu", args.threads)
    detectors = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in DETECTORS:
            print(f"{name} ...", file=sys.stderr, flush=True)
            detectors[name] = measure_detector(name, args, profile)
    document = {
        "threads": args.threads,
        "repeat": args.repeat,
        "profile": profile.key,
        "detectors": detectors,
        "nms": nms_curve(args.threads),
    }
    (RESULTS / "detection.json").write_text(json.dumps(document, indent=1) + "\n")
    report(document)
    print((RESULTS / "detection.md").read_text())


if __name__ == "__main__":
    main()
