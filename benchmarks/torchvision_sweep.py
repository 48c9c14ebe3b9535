"""Analyse every model torchvision lists, and check the classifiers against torchvision's own metadata.

    python benchmarks/torchvision_sweep.py [--only NAME ...] [--task classification ...]

Every model of ``torchvision.models.list_models()`` (classification, detection,
segmentation, video, optical flow, quantized) is built with ``weights=None``
(and ``weights_backbone=None`` where the builder takes it) and analysed once
with ``netprof.analyze`` in ``auto`` mode. Writes one row per model to
``benchmarks/results/torchvision_sweep.csv`` and a summary to
``torchvision_sweep.json`` and ``torchvision_sweep.md`` beside it.

The independent source for the classifiers is torchvision's weight metadata:
``_ops`` (multiply-adds, labelled GFLOPS in its docs) and ``num_params``. Of a
model's weight entries the first (``DEFAULT`` first) whose ``num_params`` equals
the ``weights=None`` model's is used, at its transforms' crop size: the
resolution ``_ops`` was measured at (299 for inception_v3, 384 for
regnet_y_128gf's SWAG_E2E entry). A classifier passes when its mult_adds are
within 0.5% of ``_ops``, its parameter count equals ``num_params`` exactly and no
op is uncounted.

Inputs and construction choices:

* classification: ``[1, 3, crop, crop]``; googlenet with
  ``aux_logits=False``, as their published weights are (the auxiliary heads only
  run in training mode, but their parameters would be counted); inception_v3 keeps its
  auxiliary head, which its published `num_params` includes.
* detection: one ``3 x 320 x 320`` image in a list (the model's transform resizes it).
* segmentation: ``[1, 3, 224, 224]`` (any size is valid; 520 is the training size).
* video: ``[1, 3, 16, 112, 112]``; mvit_v1_b, mvit_v2_s and s3d need 224 x 224 frames
  (mvit's positional embeddings are fixed, s3d's final pooling is 7 x 7).
* optical flow: two ``[1, 3, 128, 128]`` images (raft needs sides divisible by 8, >= 128
  for its four-level correlation pyramid).
* quantized: ``quantize=True``: the model is calibrated on random data and
  converted to int8 (no weights needed), so the sweep sees the real
  ``quantized::`` kernels; these only run on real CPU tensors.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from torchvision import models
from torchvision.models import get_model_weights

import netprof

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOLERANCE = 0.005
ROUNDING = 0.0005e9  # _ops is published in G with 3 decimals

TASKS = {
    "classification": models,
    "detection": models.detection,
    "segmentation": models.segmentation,
    "video": models.video,
    "optical_flow": models.optical_flow,
    "quantized": models.quantization,
}
VIDEO_224 = {"mvit_v1_b", "mvit_v2_s", "s3d"}
NO_AUX = {"googlenet", "quantized_googlenet"}


@dataclass
class Row:
    name: str
    task: str
    status: str = "error"
    mode: str = ""
    input: str = ""
    seconds: float = 0.0
    ops: int = 0
    mult_adds: int = 0
    params: int = 0
    uncounted_ops: int = 0
    uncounted: str = ""
    ref_weights: str = ""
    ref_mult_adds: float | None = None
    ref_params: int | None = None
    mult_adds_rel_err: float | None = None
    check: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)


def _task_of(name: str) -> str:
    for task, module in TASKS.items():
        if task != "classification" and name in models.list_models(module=module):
            return task
    return "classification"


def _reference(name: str, params: int | None) -> tuple[Any, int] | None:
    """The first weight entry (DEFAULT first) with this parameter count, and its crop size.

    ``params=None`` (a converted quantized model, whose weights are packed, not parameters)
    takes the DEFAULT entry.
    """
    try:
        enum = get_model_weights(name)
    except Exception:  # noqa: BLE001 - no weights registered
        return None
    entries = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
    for weights in entries:
        if (params is None or weights.meta.get("num_params") == params) and "_ops" in weights.meta:
            crop = weights.transforms().crop_size
            return weights, int(crop[0])
    return None


def _flop_counter_mult_adds(model: torch.nn.Module, inputs: tuple[Any, ...]) -> float:
    """An independent count for the exceptions: PyTorch's FlopCounterMode (2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(*inputs)
    return counter.get_total_flops() / 2


def _build(name: str, task: str) -> torch.nn.Module:
    kwargs: dict[str, Any] = {"weights": None}
    if task in ("detection", "segmentation"):
        kwargs["weights_backbone"] = None
    if task == "quantized":
        kwargs["quantize"] = True
    if name in NO_AUX:
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    return models.get_model(name, **kwargs)


def _inputs(name: str, task: str, crop: int) -> tuple[Any, ...]:
    if task == "detection":
        return ([torch.rand(3, 320, 320)],)
    if task == "segmentation":
        return (torch.randn(1, 3, 224, 224),)
    if task == "video":
        side = 224 if name in VIDEO_224 else 112
        return (torch.randn(1, 3, 16, side, side),)
    if task == "optical_flow":
        return (torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128))
    # classification and quantized classification
    return (torch.randn(1, 3, crop, crop),)


def _describe(inputs: tuple[Any, ...]) -> str:
    def one(value: Any) -> str:
        if isinstance(value, torch.Tensor):
            return "x".join(map(str, value.shape))
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(one(v) for v in value) + "]"
        return type(value).__name__

    return ", ".join(one(v) for v in inputs)


def sweep_one(name: str) -> Row:
    task = _task_of(name)
    row = Row(name, task)
    try:
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _build(name, task)
        params = sum(p.numel() for p in model.parameters())
        reference = None
        if task == "classification":
            reference = _reference(name, params)
        elif task == "quantized":
            reference = _reference(name, None)
        crop = reference[1] if reference else 224
        inputs = _inputs(name, task, crop)
        row.input = _describe(inputs)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = netprof.analyze(model, inputs, name=name)
        row.seconds = time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 - a failure is a result of the sweep
        row.error = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        return row
    row.status = "ok"
    row.mode = analysis.mode
    row.ops = analysis.totals.ops
    row.mult_adds = analysis.totals.mult_adds
    row.params = analysis.params
    row.uncounted_ops = analysis.totals.uncounted_ops
    row.uncounted = ";".join(f"{op}:{count}" for op, count in analysis.uncounted.items())
    row.notes = [note.split(" raised ")[0][:160] for note in analysis.notes]
    if reference is not None:
        weights, _ = reference
        row.ref_weights = f"{type(weights).__name__}.{weights.name}"
        row.ref_mult_adds = weights.meta["_ops"] * 1e9
        row.ref_params = weights.meta["num_params"]
        row.mult_adds_rel_err = row.mult_adds / row.ref_mult_adds - 1
        problems = []
        if abs(row.mult_adds_rel_err) > TOLERANCE:
            problem = f"mult_adds {row.mult_adds_rel_err:+.2%} from _ops"
            if abs(row.mult_adds - row.ref_mult_adds) <= ROUNDING:
                problem += (
                    f" = {row.mult_adds / 1e9:.4f} G against {row.ref_mult_adds / 1e9:.3f} G: within _ops's "
                    "rounding to 3 decimals"
                )
                if task == "classification":  # FlopCounterMode has no formula for the int8 kernels
                    problem += f"; FlopCounterMode / 2 = {_flop_counter_mult_adds(model, inputs) / 1e9:.4f} G"
            problems.append(problem)
        if task == "quantized":
            row.notes.append(
                "params not compared: a converted model keeps its weights packed, not as parameters"
            )
        elif row.params != row.ref_params:
            problems.append(f"params {row.params} != {row.ref_params}")
        if row.uncounted_ops:
            problems.append(f"{row.uncounted_ops} uncounted ops")
        row.check = "pass" if not problems else "; ".join(problems)
    elif task == "classification":
        row.check = "no _ops metadata for this parameter count"
    return row


def _write(rows: list[Row], elapsed: float) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    columns = [f for f in Row.__dataclass_fields__ if f != "notes"] + ["notes"]
    with (RESULTS / "torchvision_sweep.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            record = asdict(row)
            record["notes"] = " | ".join(row.notes)
            record["seconds"] = f"{row.seconds:.3f}"
            if row.mult_adds_rel_err is not None:
                record["mult_adds_rel_err"] = f"{row.mult_adds_rel_err:.6f}"
            writer.writerow(record)

    ok = [r for r in rows if r.status == "ok"]
    checked = [r for r in rows if r.ref_mult_adds is not None and r.task == "classification"]
    quantized = [r for r in rows if r.ref_mult_adds is not None and r.task == "quantized"]
    passed = [r for r in checked if r.check == "pass"]
    by_task: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = by_task.setdefault(row.task, {"models": 0, "ok": 0})
        entry["models"] += 1
        entry["ok"] += row.status == "ok"
    uncounted: dict[str, int] = {}
    for row in rows:
        for item in filter(None, row.uncounted.split(";")):
            op, count = item.rsplit(":", 1)
            uncounted[op] = uncounted.get(op, 0) + int(count)
    summary = {
        "benchmark": "torchvision_sweep",
        "command": "python benchmarks/torchvision_sweep.py",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
        },
        "models": len(rows),
        "ok": len(ok),
        "by_task": by_task,
        "modes": {mode: sum(r.mode == mode for r in ok) for mode in sorted({r.mode for r in ok})},
        "classification_checked": len(checked),
        "classification_passed": len(passed),
        "classification_exceptions": {r.name: r.check for r in checked if r.check != "pass"},
        "quantized_checked_mult_adds_and_uncounted": len(quantized),
        "quantized_passed": sum(r.check == "pass" for r in quantized),
        "quantized_exceptions": {r.name: r.check for r in quantized if r.check != "pass"},
        "classification_without_reference": [
            r.name
            for r in rows
            if r.task == "classification" and r.status == "ok" and r.ref_mult_adds is None
        ],
        "max_abs_mult_adds_rel_err": max((abs(r.mult_adds_rel_err) for r in checked), default=None),
        "errors": {r.name: r.error for r in rows if r.status != "ok"},
        "uncounted_ops_all_models": dict(sorted(uncounted.items(), key=lambda kv: -kv[1])),
        "analysis_seconds": {
            "median": statistics.median(r.seconds for r in ok) if ok else None,
            "max": max((r.seconds for r in ok), default=None),
            "total": sum(r.seconds for r in ok),
        },
        "sweep_wall_s": elapsed,
    }
    summary["line"] = (
        f"{len(ok)}/{len(rows)} models analysed without error; "
        f"{len(passed)}/{len(checked)} classifiers within {TOLERANCE:.1%} of _ops with exact params "
        "and zero uncounted ops"
    )
    (RESULTS / "torchvision_sweep.json").write_text(json.dumps(summary, indent=2) + "\n")

    lines = [
        "# torchvision sweep",
        "",
        (
            f"`{summary['command']}` on {platform.platform()}, torch {torch.__version__}, "
            f"torchvision {torchvision.__version__}, {os.cpu_count()} CPUs."
        ),
        "",
        f"**{summary['line']}.**",
        "",
        "| model | task | status | mode | input | s | mult_adds (G) | _ops (G) | err | params | check / error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = f"{r.ref_mult_adds / 1e9:.3f}" if r.ref_mult_adds else ""
        err = f"{r.mult_adds_rel_err:+.3%}" if r.mult_adds_rel_err is not None else ""
        detail = r.error or r.check or (f"uncounted: {r.uncounted}" if r.uncounted else "")
        lines.append(
            f"| {r.name} | {r.task} | {r.status} | {r.mode} | {r.input} | {r.seconds:.2f} | "
            f"{r.mult_adds / 1e9:.3f} | {ref} | {err} | {r.params:,} | {detail.replace('|', '/')} |"
        )
    if uncounted:
        lines += [
            "",
            "Uncounted ops over all models: " + ", ".join(f"`{k}` x{v}" for k, v in uncounted.items()),
        ]
    (RESULTS / "torchvision_sweep.md").write_text("\n".join(lines) + "\n")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names (default: every listed model)")
    parser.add_argument("--task", nargs="*", choices=list(TASKS), help="restrict to these tasks")
    parser.add_argument("--no-write", action="store_true", help="print only; keep the stored results")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    names = args.only or sorted(models.list_models())
    if args.task:
        names = [n for n in names if _task_of(n) in args.task]
    rows = []
    start = time.perf_counter()
    for name in names:
        row = sweep_one(name)
        rows.append(row)
        detail = row.error or row.check or row.uncounted
        print(
            f"{row.name:<40} {row.task:<14} {row.status:<5} {row.mode:<5} {row.seconds:7.2f}s "
            f"{row.mult_adds / 1e9:10.3f}G {detail}",
            flush=True,
        )
        gc.collect()
    elapsed = time.perf_counter() - start
    if args.no_write:
        return 0
    summary = _write(rows, elapsed)
    print(summary["line"])
    return 0 if summary["ok"] == summary["models"] else 1


if __name__ == "__main__":
    sys.exit(main())
