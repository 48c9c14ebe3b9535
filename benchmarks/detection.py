"""Detectors end to end: each one's stages counted, measured and predicted, the NMS curve, FLOPs against latency.

    python benchmarks/detection.py [--repeat 5] [--threads 1] [--profile FILE]

Each of torchvision's lightweight and FPN detectors is built without any weights (SPEC builder arguments:
``weights_backbone=None``; the FPN detectors with ``min_size=max_size=320``, so that every detector sees the
same 320x320 image instead of resizing it to 800) and run through ``netprof analyze --time`` on one 3x320x320
image at 1 thread, with the prediction on the cached (or given) eager device profile; netprof's own YOLOv8n
(``netprof.zoo:yolo(nms=True)``, built from its config, with its NMS) beside them. Per detector and stage: mult_adds, memory access,
the measured sum of the stage's op times and the predicted one; the stages' sum against the end-to-end
latency. Each detector's post-processing again at 10 to 10,000 candidate boxes into NMS
(``--detections``), measured and predicted. The NMS curve times ``torchvision.ops.batched_nms`` (IoU 0.5, 91
classes) at 10 to 10,000 candidate boxes, and predicts it on the profile: its cost is in the candidates, not
the multiply-adds. Writes ``benchmarks/results/detection.json``, ``.md`` and ``detection.png``/``.svg``.
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

import netprof
from netprof import pipeline
from netprof.charts.files import save
from netprof.prediction import profile as profiles
from netprof.timing.run import TimingOptions

RESULTS = ROOT / "benchmarks" / "results"
_SMALL = "min_size=320, max_size=320, "
_TORCHVISION = "torchvision.models.detection:"
DETECTORS = {
    "ssdlite320_mobilenet_v3_large": f"{_TORCHVISION}ssdlite320_mobilenet_v3_large(weights_backbone=None)",
    "fasterrcnn_mobilenet_v3_large_320_fpn": f"{_TORCHVISION}fasterrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None)",
    "fcos_resnet50_fpn": f"{_TORCHVISION}fcos_resnet50_fpn({_SMALL}weights_backbone=None)",
    "retinanet_resnet50_fpn": f"{_TORCHVISION}retinanet_resnet50_fpn({_SMALL}weights_backbone=None)",
    "yolov8n (netprof.zoo)": "netprof.zoo:yolo(scale='n', nms=True)",
}
BOXES = (10, 100, 1000, 10_000)


def measure_detector(name: str, args: argparse.Namespace, profile) -> dict:
    spec = DETECTORS[name]
    request = pipeline.RunRequest(
        spec,
        input_shapes=[(1, 3, 320, 320)],
        timing=TimingOptions(repeat=args.repeat, threads=args.threads),
        profile=profile,
        detections=BOXES,
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
        "loads": [
            {
                "candidates": load.candidates,
                "nms_boxes": load.nms_boxes,
                "time_s": load.postprocess.time_s,
                "predicted_s": load.postprocess.predicted_s,
                "ops_s": load.ops_s,
            }
            for load in result.loads or ()
        ],
    }


class BatchedNMS(torch.nn.Module):
    def forward(self, boxes, scores, labels):
        return batched_nms(boxes, scores, labels, 0.5)


def nms_curve(threads: int, profile, runs: int = 20) -> list[dict]:
    """Median seconds of one ``batched_nms`` over ``n`` random boxes in 91 classes, for each ``n``, and
    its prediction on ``profile`` (up to 1,000 boxes one NMS, offset by class; above, one per class)."""
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
        predicted = pipeline.add_prediction(
            pipeline.Result(netprof.analyze(BatchedNMS(), (boxes, scores, labels))), profile
        ).prediction
        curve.append(
            {
                "boxes": n,
                "kept": int(kept.numel()),
                "median_s": statistics.median(times[2:]),
                "predicted_s": predicted.ops_s,
            }
        )
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
        "## Post-processing as a function of its load",
        "",
        (
            "Each detector again with about N candidate boxes into NMS (`--detections`: score threshold "
            "off, top-k caps sized for N; `into NMS` is what its NMS calls received, the R-CNN's RPN included). "
            "Time: the post-processing stage's ops, measured and predicted."
        ),
        "",
        "| detector | candidates | into NMS | measured | % of ops | predicted | error |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in document["detectors"].items():
        for load in row["loads"]:
            error = (
                load["predicted_s"] / load["time_s"] - 1 if load["time_s"] and load["predicted_s"] else None
            )
            lines.append(
                f"| {name} | {load['candidates']:,} | {load['nms_boxes']:,} | {_ms(load['time_s'])} | "
                f"{load['time_s'] / load['ops_s']:.1%} | {_ms(load['predicted_s'])} | "
                f"{'-' if error is None else f'{error:+.0%}'} |"
            )
    lines += [
        "",
        "## NMS as a function of its load",
        "",
        (
            "`torchvision.ops.batched_nms` (IoU 0.5, 91 classes, random boxes), median of 20 runs, and its "
            "prediction (the ops it runs, captured, on the profile):"
        ),
        "",
        "| candidate boxes | kept | time | predicted |",
        "|---:|---:|---:|---:|",
        *(
            f"| {p['boxes']:,} | {p['kept']:,} | {_ms(p['median_s'])} | {_ms(p['predicted_s'])} |"
            for p in document["nms"]
        ),
        "",
        "![detectors](detection.png)",
        "",
    ]
    (RESULTS / "detection.md").write_text("\n".join(lines))
    chart(document)


def chart(document: dict) -> list[Path]:
    figure = Figure(figsize=(16, 5))
    left, middle, right = figure.subplots(1, 3)
    for name, row in document["detectors"].items():
        left.scatter(row["mult_adds"] / 1e9, row["latency_s"] * 1e3, label=name)
        left.annotate(name, (row["mult_adds"] / 1e9, row["latency_s"] * 1e3), fontsize=7)
    left.set_xlabel("mult_adds (G)")
    left.set_ylabel("measured latency (ms)")
    left.set_title("Detectors: multiply-adds against latency", fontsize=9)
    for name, row in document["detectors"].items():
        if row["loads"]:
            boxes = [load["candidates"] for load in row["loads"]]
            (line,) = middle.loglog(boxes, [load["time_s"] * 1e3 for load in row["loads"]], "o-", label=name)
            middle.loglog(
                boxes, [load["predicted_s"] * 1e3 for load in row["loads"]], "x--", color=line.get_color()
            )
    middle.set_xlabel("candidate boxes into NMS (--detections)")
    middle.set_ylabel("post-processing time (ms)")
    middle.set_title("Post-processing per load: measured (o) and predicted (x)", fontsize=9)
    middle.legend(fontsize=6)
    curve = document["nms"]
    right.loglog([p["boxes"] for p in curve], [p["median_s"] * 1e3 for p in curve], "o-", label="measured")
    right.loglog(
        [p["boxes"] for p in curve], [p["predicted_s"] * 1e3 for p in curve], "x--", label="predicted"
    )
    right.legend(fontsize=7)
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
        "nms": nms_curve(args.threads, profile),
    }
    (RESULTS / "detection.json").write_text(json.dumps(document, indent=1) + "\n")
    report(document)
    print((RESULTS / "detection.md").read_text())


if __name__ == "__main__":
    main()
