"""The seed's compression claim tested here: do width, resolution and pruning save the time their FLOPs promise?

    python benchmarks/whatif.py [--profile FILE] [--rounds 5] [--passes 10] [--threads 1]

For each of the seed's networks (MobileNet V1/V2/V3, ShuffleNet V1/V2, SqueezeNet, ResNet-18; ``weights=None``
at 224x224, batch 1), ``netprof whatif``'s moves build variants without training: width multiplier
alpha 0.25/0.5/0.75 (``width``: every layer keeps ``round(alpha c)`` channels through Torch-Pruning), input
resolution 128/160/192 (``resolution``), and global magnitude pruning of 10/30/50/70% of the channels
(``prune``). Each model, the base included, is counted and predicted on the device profile (``--profile``,
else the cached ``netprof calibrate --threads N``), then all of one network's models are timed in
interleaved rounds (``benchmarks/rotation.py``: median of round medians). What is compared, per variant, as
ratios to its base: the mult_adds (what the FLOPs promise: about alpha^2 for width, rho^2 for resolution),
netprof's predicted latency, and the measured latency. Writes ``benchmarks/results/whatif.json``, ``.md`` and
``whatif.png``/``.svg`` (measured latency ratio against mult_adds ratio, per move; the diagonal is the promise).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torchvision import models as tv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rotation import time_in_rotation

from netprof import pipeline, zoo
from netprof.capture.workload import Forward
from netprof.charts.files import save
from netprof.compression.whatif import build, parse
from netprof.errors import NetprofError
from netprof.prediction import profile as profiles

RESULTS = ROOT / "benchmarks" / "results"
NETWORKS = {
    "mobilenet_v1": lambda: zoo.mobilenet_v1(),
    "mobilenet_v2": lambda: tv.mobilenet_v2(),
    "mobilenet_v3_large": lambda: tv.mobilenet_v3_large(),
    "shufflenet_v1_g3": lambda: zoo.shufflenet_v1_g3(),
    "shufflenet_v2_x1_0": lambda: tv.shufflenet_v2_x1_0(),
    "squeezenet1_1": lambda: tv.squeezenet1_1(),
    "resnet18": lambda: tv.resnet18(),
}
VARIANTS = (
    *(f"width={alpha}" for alpha in (0.25, 0.5, 0.75)),
    *(f"resolution={side / 224:.4g}" for side in (128, 160, 192)),
    *(f"prune={fraction}" for fraction in (0.1, 0.3, 0.5, 0.7)),
)
MOVES = {"width": ("tab:blue", "o"), "resolution": ("tab:green", "s"), "prune": ("tab:red", "^")}


def promise(name: str) -> float | None:
    """What the FLOPs promise a width or resolution multiplier: alpha^2 or rho^2 (pruning promises its cut)."""
    move, _, value = name.partition("=")
    return float(value) ** 2 if move in ("width", "resolution") else None


def variants_of(network: str) -> tuple[dict[str, tuple[torch.nn.Module, torch.Tensor]], dict[str, str]]:
    """The base and every variant of ``network``, built once, and the variants netprof refused to build."""
    torch.manual_seed(0)
    base = NETWORKS[network]().eval()
    x = torch.randn(1, 3, 224, 224)
    built, refused = {"base": (base, x)}, {}
    for name in VARIANTS:
        try:
            model, inputs, _, _ = build(parse(name), base, (x,))
        except NetprofError as error:  # said in the report, as netprof whatif says it in one line
            refused[name] = str(error)
            continue
        built[name] = (model.eval(), inputs[0])
    return built, refused


def measure(args: argparse.Namespace) -> dict:
    profile = profiles.load(args.profile) if args.profile else profiles.cached("cpu", args.threads)
    rows: dict[str, dict] = {}
    refusals: dict[str, str] = {}
    for network in NETWORKS:
        print(f"{network}: building {len(VARIANTS)} variants", file=sys.stderr, flush=True)
        built, refused = variants_of(network)
        refusals |= {f"{network}|{name}": reason for name, reason in refused.items()}
        counted = {}
        for name, (model, x) in built.items():
            result = pipeline.predict(model, Forward((x,)), profile)
            counted[name] = (result.analysis.totals.mult_adds, result.prediction.latency_s)
        timed = time_in_rotation(
            {name: (lambda pair=pair: pair) for name, pair in built.items()},
            args.rounds,
            args.passes,
            threads=args.threads,
        )
        base_macs, base_pred = counted["base"]
        base_s = timed["base"]["latency_s"]
        for name in built:
            macs, predicted = counted[name]
            rows[f"{network}|{name}"] = {
                "network": network,
                "variant": name,
                "mult_adds": macs,
                "predicted_s": predicted,
                "measured_s": timed[name]["latency_s"],
                "iqr": timed[name]["iqr"],
                "mult_adds_ratio": macs / base_macs,
                "promised_ratio": promise(name),
                "predicted_ratio": predicted / base_pred,
                "measured_ratio": timed[name]["latency_s"] / base_s,
            }
    return {
        "profile": profile.key,
        "rounds": args.rounds,
        "passes": args.passes,
        "rows": rows,
        "refused": refusals,
    }


def _table(rows: list[dict]) -> list[str]:
    lines = [
        "| network | variant | mult_adds | promised | predicted | measured | measured IQR |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        promised = "-" if row["promised_ratio"] is None else f"x{row['promised_ratio']:.3f}"
        lines.append(
            f"| {row['network']} | {row['variant']} | x{row['mult_adds_ratio']:.3f} | {promised} | "
            f"x{row['predicted_ratio']:.3f} | x{row['measured_ratio']:.3f} | {row['iqr']:.0%} |"
        )
    return lines


def _changed(rows: list[dict], move: str) -> list[dict]:
    """The variants of ``move`` that changed the model (ShuffleNet V1's width and pruning change nothing)."""
    return [r for r in rows if r["variant"].startswith(move) and r["mult_adds_ratio"] < 0.999]


def _summary(rows: list[dict]) -> list[str]:
    """Per move: how much of the promised saving the measurement shows, and how close the prediction is."""
    lines = [
        "| move | variants | median measured / mult_adds ratio | median \\|predicted - measured\\| |",
        "|---|---:|---:|---:|",
    ]
    for move in MOVES:
        mine = _changed(rows, move)
        gap = statistics.median(r["measured_ratio"] / r["mult_adds_ratio"] for r in mine)
        error = statistics.median(abs(r["predicted_ratio"] - r["measured_ratio"]) for r in mine)
        lines.append(f"| {move} | {len(mine)} | {gap:.2f} | {error:.3f} |")
    return lines


def chart(rows: list[dict], where: str) -> list[Path]:
    figure = Figure(figsize=(7.5, 6.5))
    ax = figure.add_subplot()
    for move, (color, marker) in MOVES.items():
        mine = _changed(rows, move)
        ax.scatter(
            [r["mult_adds_ratio"] for r in mine], [r["measured_ratio"] for r in mine], c=color, marker=marker,
            label=f"{move}: measured",
        )  # fmt: skip
        ax.scatter(
            [r["mult_adds_ratio"] for r in mine], [r["predicted_ratio"] for r in mine], facecolors="none",
            edgecolors=color, marker=marker, label=f"{move}: predicted",
        )  # fmt: skip
    ax.plot([0, 1], [0, 1], "--", color="gray", label="latency = mult_adds (the FLOPs' promise)")
    ax.set_xlabel("mult_adds / base")
    ax.set_ylabel("latency / base")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.2)
    ax.legend(fontsize=8)
    ax.set_title(f"Compression: latency saved against multiply-adds saved\n{where}", fontsize=9)
    figure.set_layout_engine("constrained")
    return save(figure, RESULTS / "whatif")


def report(document: dict) -> None:
    rows = [r for r in document["rows"].values() if r["variant"] != "base"]
    command = "python benchmarks/whatif.py" + (
        f" --rounds {document['rounds']}" if document["rounds"] != 5 else ""
    )
    text = [
        "# Compression what-ifs: the time the FLOPs promise, measured",
        "",
        (
            f"`{command}`: the seed's networks at 224x224, batch 1, 1 thread; variants built by `netprof "
            f"whatif`'s moves without training; predicted on `{document['profile']}`; measured in "
            f"{document['rounds']} interleaved rounds of {document['passes']} forwards. Ratios to each "
            "network's base. ShuffleNet V1's width and pruning variants change nothing: every layer of it is "
            "a grouped convolution or coupled to one, which netprof does not prune."
        ),
        "",
        *_summary(rows),
        "",
        (
            "A median measured/mult_adds ratio above 1 means the variant saves less time than multiply-adds "
            "(variants that changed nothing are left out of this summary and of the chart)."
        ),
        "",
        *_table(rows),
        "",
        "![latency vs mult_adds](whatif.png)",
        "",
        "Variants netprof could not build (its one-line reason):",
        "",
        *(f"- {key.replace('|', ' ')}: {reason}" for key, reason in document["refused"].items()),
        "",
    ]
    (RESULTS / "whatif.md").write_text("\n".join(text))
    chart(rows, document["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = measure(args)
    (RESULTS / "whatif.json").write_text(json.dumps(document, indent=1) + "\n")
    report(document)
    print((RESULTS / "whatif.md").read_text())


if __name__ == "__main__":
    main()
