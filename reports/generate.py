"""Regenerate the reports/ gallery: one command, about 5 minutes on 2 CPU cores.

    python reports/generate.py [--repeat 20] [--threads 1]

Runs ``netprof calibrate --threads N`` first (cached) so that rooflines have
their lines, then for each model: ``netprof check SPEC --format markdown``
(report.md) and ``--format json`` (findings.json), and one timed analysis
(``netprof.pipeline.time_specs`` with ``repeat=R, threads=N``) whose charts are layers, roofline
and breakdown (PNG + SVG). The seed networks' timed analyses also give
seed_flops_vs_latency.{png,svg,json} and seed_breakdown.{png,svg}. README.md is
rewritten with the machine, the settings, the rank correlations and the links.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from netprof.charts.common import machine
from netprof.charts.files import breakdown_figure, comparison_figure, save, write_model_charts
from netprof.cli import main as netprof_main
from netprof.pipeline import time_specs
from netprof.timing.ranking import rank_models, rho_text, to_dict
from netprof.timing.run import TimingOptions

# name -> spec; the seed networks are netprof.zoo's, each at its 1x width.
SEED = {
    "shufflenet_v1_g3": "netprof.zoo:shufflenet_v1_g3",
    "shufflenet_v2_x1_0": "netprof.zoo:shufflenet_v2_x1_0",
    "mobilenet_v1_1.0": "netprof.zoo:mobilenet_v1",
    "mobilenet_v2": "netprof.zoo:mobilenet_v2",
    "mobilenet_v3_large": "netprof.zoo:mobilenet_v3_large",
    "squeezenet1_1": "netprof.zoo:squeezenet1_1",
}
TORCHVISION = {
    "resnet18": "torchvision.models:resnet18",
    "googlenet": "reports/models.py:googlenet",
}
# Beyond classification CNNs: a detector timed with its post-processing, and a hybrid (convs and attention).
DETECTOR = "ssdlite320_mobilenet_v3_large"
HYBRID = "mobilevit_s"
BEYOND = {
    DETECTOR: "reports/models.py:ssdlite320_mobilenet_v3_large",
    HYBRID: "reports/models.py:mobilevit_s",
}


def _cli(argv: list[str], output: Path) -> None:
    """Run ``netprof`` in this process, its stdout into ``output`` (exit 1 = findings is fine)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = netprof_main(argv)
    if status not in (0, 1):
        raise SystemExit(f"netprof {' '.join(argv)} exited {status}")
    output.write_text(buffer.getvalue())


LANGUAGE_AND_TRAINING_SECTIONS = """## A language model: prefill and decode

[llama-2-70b-serving/](llama-2-70b-serving/report.md) is Llama-2-70B (its published config, as an `hf:` spec) with a 4096-token prompt and 256 decode steps, counted without weights (fake tensors) and predicted on the roofline of NVIDIA's published H200 SXM figures (989 TFLOP/s, 4.8 TB/s; stated, not measured): [report.md](llama-2-70b-serving/report.md), [report.txt](llama-2-70b-serving/report.txt), [report.json](llama-2-70b-serving/report.json), [report.html](llama-2-70b-serving/report.html) (the phases, verdict and chart above the prompt pass's modules and ops), chart [png](llama-2-70b-serving/generation.png) [svg](llama-2-70b-serving/generation.svg). Regenerate with `python reports/generate_serving.py` (about 30 s; nothing is timed).

![prefill and decode](llama-2-70b-serving/generation.png)

## A training step and its memory

[resnet18-training/](resnet18-training/report.md) is resnet18 at batch 8, one AdamW step: mult_adds by phase (forward, backward, optimizer) and memory at the peak by kind and by module, from a capture without weights: [report.md](resnet18-training/report.md), [report.txt](resnet18-training/report.txt), [report.json](resnet18-training/report.json), timeline [png](resnet18-training/memory.png) [svg](resnet18-training/memory.svg). Regenerate with `python reports/generate_training.py` (a few seconds; nothing is timed).

![resnet18 training memory](resnet18-training/memory.png)

## A detector zoo

[detectors/](detectors/README.md) holds five detectors built without weights and run on one 320 x 320 image: SSDLite320-MobileNetV3, Faster R-CNN MobileNetV3-320-FPN, FCOS and RetinaNet (ResNet-50-FPN) from torchvision, and YOLOv8n from its config with its NMS (`netprof.zoo:yolo(nms=True)`). Each one timed, predicted and checked in one run: its stages (backbone, neck, head, post-processing), its post-processing at 10, 100 and 1,000 candidate boxes into NMS (`--detections`) and the rules' findings (D1, D2 among them), as [Markdown, JSON, HTML and charts](detectors/README.md). Regenerate with `python reports/generate_detectors.py` (a few minutes).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed passes per model (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1: less noise)")
    args = parser.parse_args()
    os.chdir(HERE.parent)
    started = time.perf_counter()
    torch.manual_seed(0)
    netprof_main(["calibrate", "--threads", str(args.threads)])

    models = {**SEED, **TORCHVISION, **BEYOND}
    timed = {}
    for name, spec in models.items():
        print(f"{name}: check, time, charts ...", file=sys.stderr)
        directory = HERE / name
        directory.mkdir(exist_ok=True)
        _cli(["check", spec, "--format", "markdown", "--exit-zero"], directory / "report.md")
        _cli(["check", spec, "--format", "json", "--exit-zero"], directory / "findings.json")
        ((_, result),) = time_specs([spec], TimingOptions(repeat=args.repeat, threads=args.threads))
        write_model_charts(result.timing, directory, name=name)
        timed[name] = result

    comparison = rank_models([(name, timed[name].analysis, timed[name].timing) for name in SEED])
    save(
        comparison_figure(comparison, [(name, timed[name].timing) for name in SEED]),
        HERE / "seed_flops_vs_latency",
    )
    (HERE / "seed_flops_vs_latency.json").write_text(json.dumps(to_dict(comparison), indent=1) + "\n")
    save(breakdown_figure([(name, timed[name].timing) for name in models]), HERE / "seed_breakdown")
    elapsed = time.perf_counter() - started
    (HERE / "README.md").write_text(_readme(models, timed, comparison, args, elapsed))
    print(f"done in {elapsed:.0f} s", file=sys.stderr)
    return 0


def _readme(models, timed, comparison, args, elapsed: float) -> str:
    first = next(iter(timed.values())).timing
    lines = [
        "# netprof report gallery",
        "",
        "Regenerate everything here with one command (from the repository root):",
        "",
        "```",
        f"python reports/generate.py --repeat {args.repeat} --threads {args.threads}",
        "```",
        "",
        (
            f"It ran `netprof calibrate --threads {args.threads}` first (so the rooflines have their roof), then "
            f"for each model `netprof check SPEC --format markdown` and `--format json` (findings) and one timed "
            f"analysis, {args.repeat} timed passes at batch 1 and {args.threads} intra-op thread(s) "
            "(one thread to reduce the noise of a shared machine), charted as below. "
            f"Last run: {elapsed / 60:.1f} minutes."
        ),
        "",
        (
            f"**Machine:** {machine(first.device, first.threads)}; {platform.platform()}; torch {torch.__version__}. "
            "Every time here is of this machine only; counts (mult_adds, MAC, params) are not."
        ),
        "",
        (
            "Charts per model: **layers** (each op's mult_adds against its measured median time, log-log, coloured "
            "by category; ops with 0 mult_adds on a strip at the left; the dotted line is what FLOPs predict at the "
            "median seconds per mult_add; labelled: the ops with the most time in excess of that prediction), "
            "**roofline** (each op's FLOP per byte against its achieved GFLOP/s, under the calibrated peak and "
            "bandwidth; ops with 0 flops are counted in a note), **breakdown** (ShuffleNet V2 Figure-2 classes plus "
            "the overhead between kernels, as % of the instrumented end-to-end median)."
        ),
        "",
        "| model | spec | report | findings | layers | roofline | breakdown | latency ms (plain, median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, spec in models.items():
        plain = timed[name].timing.plain
        lines.append(
            f"| {name} | `{spec}` | [report.md]({name}/report.md) | [findings.json]({name}/findings.json) | "
            f"[png]({name}/layers.png) [svg]({name}/layers.svg) | [png]({name}/roofline.png) "
            f"[svg]({name}/roofline.svg) | [png]({name}/breakdown.png) [svg]({name}/breakdown.svg) | "
            f"{plain.median * 1e3:.2f} (IQR {plain.iqr * 1e3:.2f}) |"
        )
    order_latency = sorted(comparison.points, key=lambda p: p.latency.median)
    order_mult_adds = sorted(comparison.points, key=lambda p: p.mult_adds)
    lines += ["", *_beyond_classification(timed)]
    lines += [
        "",
        *LANGUAGE_AND_TRAINING_SECTIONS.splitlines(),
        "## FLOPs vs latency across the seed networks",
        "",
        "![seed FLOPs vs latency](seed_flops_vs_latency.png)",
        "",
        (
            "[seed_flops_vs_latency.png](seed_flops_vs_latency.png) "
            "([svg](seed_flops_vs_latency.svg), [json](seed_flops_vs_latency.json)); all models' Figure-2 bars: "
            "[seed_breakdown.png](seed_breakdown.png)."
        ),
        "",
        (
            f"Spearman rank correlation over the {len(comparison.points)} seed networks, latency (median of plain "
            f"forward passes) with mult_adds: **{rho_text(comparison.rho_mult_adds)}**; with memory access cost "
            f"(MAC, mem_access_bytes): **{rho_text(comparison.rho_mem_access)}**."
        ),
        "",
        "Fastest to slowest here: " + ", ".join(p.name for p in order_latency) + ".",
        "",
        "Fewest to most mult_adds: " + ", ".join(p.name for p in order_mult_adds) + ".",
        "",
        "| model | mult_adds (M) | MAC (MB) | latency ms | IQR ms | images/s |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {p.name} | {p.mult_adds / 1e6:.1f} | {p.mem_access_bytes / 1e6:.1f} | "
            f"{p.latency.median * 1e3:.2f} | {p.latency.iqr * 1e3:.2f} | {p.images_per_s:.1f} |"
            for p in comparison.points
        ],
        "",
        (
            "Six points make a coarse test: one swapped pair moves rho by about 0.06 to 0.11, and run-to-run noise "
            "on a shared machine can swap networks of similar latency. Read it together with the table."
        ),
        "",
    ]
    return "\n".join(lines)


def _beyond_classification(timed) -> list[str]:
    """The detector's post-processing (zero multiply-adds, a share of the time) and the hybrid's findings."""
    from netprof import rules

    detector = timed[DETECTOR]
    timing, nodes = detector.timing, {op.id: op for op in detector.analysis.ops}
    total_s = timing.attributed_s
    # SSD.forward's own ops, after the head: box decoding, per-class score filtering and top-k, NMS
    # (torchvision's box coder and postprocess_detections are no modules of their own).
    post = [op for op in timing.ops if op.module == ""]
    post_s = sum(op.time.median for op in post)
    nms_s = sum(op.time.median for op in post if "nms" in op.op_type)
    zero_s = sum(op.time.median for op in timing.ops if nodes[op.id].mult_adds == 0)
    post_mult_adds = sum(nodes[op.id].mult_adds for op in post)
    hybrid = timed[HYBRID]
    found = rules.run(hybrid.analysis, op_seconds=hybrid.op_seconds)
    by_rule: dict[str, list] = {}
    for finding in found:
        by_rule.setdefault(finding.rule, []).append(finding)

    def said(rule: str) -> str:
        listed = by_rule.get(rule, [])
        if not listed:
            return f"{rule}: none"
        return f"{rule}: {len(listed)} (worst: `{listed[0].module or '(model)'}`, {listed[0].message})"

    return [
        "## Beyond classification CNNs: a detector and a hybrid",
        "",
        (
            f"[{DETECTOR}/]({DETECTOR}/report.md) is torchvision's SSDLite (MobileNet V3 backbone) on one "
            "320 x 320 image, random weights, timed as deployed: the whole forward, post-processing included. "
            "Its box decoding, score filtering, top-k and NMS cannot run on the meta device (their shapes "
            "depend on the data), so netprof captures it for real. "
            f"Those post-processing ops ({len(post)} of {len(timing.ops)} ops, module `(root)`: SSD.forward's own "
            f"code) have **{post_mult_adds} multiply-adds** and take **{post_s / total_s:.0%} of the op time** "
            f"(NMS alone {nms_s / total_s:.1%}); all ops with zero multiply-adds (these, batch norm, activations, "
            f"copies) take {zero_s / total_s:.0%}. This is the ShuffleNet V2 paper's point, on detection: "
            "FLOPs leave out work that takes a large share of the time."
        ),
        "",
        (
            f"[{HYBRID}/]({HYBRID}/report.md) is MobileViT-S (`netprof.zoo`, from its paper; the same parameter "
            "count and outputs as timm's) at 256 x 256: MobileNet V2 blocks, then blocks of 3x3 and 1x1 convs "
            "around 2-4 transformer layers (LayerNorm, attention, SiLU MLP). The guidelines read it as they read "
            "ShuffleNet: linear layers over tokens are 1x1 convs for G1, attention and its projections are "
            "fragments for G3, LayerNorm and softmax are element-wise for G4. On the timed (real) capture, "
            "where attention runs as one fused kernel:"
        ),
        "",
        *[f"- {said(rule)}" for rule in ("G1", "G2", "G3", "G4")],
    ]


if __name__ == "__main__":
    sys.exit(main())
