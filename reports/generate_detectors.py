"""The detector zoo of the gallery: five detectors, each split into stages, timed, predicted and checked.

    python reports/generate_detectors.py [--repeat 10] [--threads 1] [--profile FILE]

SSDLite320-MobileNetV3, Faster R-CNN MobileNetV3-320-FPN, FCOS and RetinaNet (ResNet-50-FPN, at 320x320)
from torchvision, and YOLOv8n from its config with its NMS (``netprof.zoo:yolo(nms=True)``), all without weights, on one 3x320x320
image: one run each of ``analyze --time --detections 10,100,1000`` with the rules (``check``) and the
prediction on the cached (or given) eager profile, written as ``report.md``, ``report.json`` and
``report.html`` (one self-contained page) with the layers, roofline, breakdown and stages charts, to
``reports/detectors/NAME/``, and an index, ``reports/detectors/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "benchmarks")]

from detection import DETECTORS  # benchmarks/detection.py: the same five detectors, as SPECs

from netprof import pipeline
from netprof.charts.common import machine
from netprof.charts.files import write_model_charts, write_stages_chart
from netprof.config import Config
from netprof.prediction import profile as profiles
from netprof.report.model import ModelReport, to_html, to_json, to_markdown
from netprof.timing.run import TimingOptions

OUT = HERE / "detectors"
LOADS = (10, 100, 1000)


def _run(spec: str, args: argparse.Namespace, profile: profiles.DeviceProfile) -> pipeline.Result:
    request = pipeline.RunRequest(
        spec,
        input_shapes=[(1, 3, 320, 320)],
        timing=TimingOptions(repeat=args.repeat, threads=args.threads),
        profile=profile,
        rules=Config(),
        detections=LOADS,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.execute(request)


def _write(name: str, spec: str, result: pipeline.Result) -> dict:
    directory = OUT / name
    directory.mkdir(parents=True, exist_ok=True)
    report = ModelReport(result, spec)
    (directory / "report.md").write_text(to_markdown(report))
    (directory / "report.json").write_text(to_json(report))
    (directory / "report.html").write_text(to_html(report))
    write_model_charts(result.timing, directory, name=name, prediction=result.prediction)
    stages = {stage.name: stage for stage in result.stages or ()}
    write_stages_chart(tuple(stages.values()), directory, name)
    ops_s = sum(stage.time_s or 0.0 for stage in stages.values())
    post = stages.get("postprocess")
    return {
        "name": name,
        "spec": spec,
        "mult_adds": result.analysis.totals.mult_adds,
        "latency_s": result.timing.plain.median,
        "predicted_s": result.prediction.latency_s,
        "postprocess_share": (post.time_s or 0.0) / ops_s if post and ops_s else 0.0,
        "findings": sorted({finding.rule for finding in result.findings or ()}),
    }


def _index(
    rows: list[dict], args: argparse.Namespace, profile: profiles.DeviceProfile, minutes: float
) -> str:
    lines = [
        "# Detector zoo",
        "",
        (
            "Regenerate with `python reports/generate_detectors.py` (from the repository root; last run "
            f"{minutes:.1f} minutes). Each detector, built without weights, on one 3x320x320 image: "
            f"`analyze --time --threads {args.threads} --repeat {args.repeat} --detections "
            f"{','.join(map(str, LOADS))}` with the rules and the prediction on `{profile.key}`, in one run."
        ),
        "",
        f"**Machine:** {machine('cpu', args.threads)}. Times are of this machine only; counts are not.",
        "",
        "| detector | mult_adds | latency (plain) | predicted | post-processing (% of op time) | findings | report |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        name = row["name"]
        lines.append(
            f"| {name} | {row['mult_adds'] / 1e9:.2f} G | {row['latency_s'] * 1e3:.1f} ms | "
            f"{row['predicted_s'] * 1e3:.1f} ms | {row['postprocess_share']:.1%} | {', '.join(row['findings']) or '-'} | "
            f"[md]({name}/report.md) [html]({name}/report.html) [json]({name}/report.json) "
            f"[stages]({name}/stages.png) [layers]({name}/layers.png) |"
        )
    lines += [
        "",
        (
            "Each report has the detector's stages (backbone, neck, head, post-processing: their counts and their "
            "measured and predicted time) and its post-processing at 10, 100 and 1,000 candidate boxes into "
            "NMS (YOLOv8n with the NMS an end-to-end export adds, `yolo(nms=True)`)."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    profile = profiles.load(args.profile) if args.profile else profiles.cached("cpu", args.threads)
    started = time.perf_counter()
    rows = []
    for label, spec in DETECTORS.items():
        name = label.split()[0]  # "yolov8n (netprof.zoo)" -> "yolov8n"
        print(f"{name} ...", file=sys.stderr, flush=True)
        rows.append(_write(name, spec, _run(spec, args, profile)))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "README.md").write_text(_index(rows, args, profile, (time.perf_counter() - started) / 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
