"""netprof against the other PyTorch counters: wall time and multiply-adds, side by side.

    python benchmarks/peers.py [--models NAME ...] [--batches 1 32] [--repeats 7]

Each tool runs in its own fresh interpreter (one process per tool, one run),
which imports only that tool, builds each torchvision model with
``weights=None`` in eval mode, calls the tool once to warm up (its time is kept
as ``first_s``) and then ``--repeats`` more times; the median is reported with
its min and max. The tools are called as their documentation shows, on real
CPU tensors; netprof through its Python API ``netprof.analyze`` (default
``auto`` mode, which runs on the meta device here: its time does not depend on
the batch).

Every tool's count is converted to multiply-adds and compared with
torchvision's ``_ops`` metadata times the batch:

* netprof ``Analysis.totals.mult_adds``: multiply-adds.
* ``torch.utils.flop_counter.FlopCounterMode``: 2 FLOPs per multiply-add, so / 2.
* fvcore ``FlopCountAnalysis.total()``: 1 "flop" per multiply-add, as is.
* ptflops ``get_model_complexity_info``: "MACs" = multiply-adds (its default ``pytorch``
  backend, module hooks plus patched functionals).
* thop ``profile``: "MACs" = multiply-adds.
* torchinfo ``summary(...).total_mult_adds``: multiply-adds.
* calflops ``calculate_flops``: its second result, "MACs" = multiply-adds. calflops
  imports ``transformers`` at package import only for its Hugging Face entry point;
  rather than install transformers, the child registers an empty stand-in module.
* torchprofile ``profile_macs``: MACs = multiply-adds (jit trace).

Writes ``benchmarks/results/peers.{json,csv,md}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODELS = ["shufflenet_v2_x1_0", "mobilenet_v2", "squeezenet1_0", "resnet50", "vit_b_16", "convnext_tiny"]
TOOLS = ["netprof", "flop_counter", "fvcore", "ptflops", "thop", "torchinfo", "calflops", "torchprofile"]
UNITS = {
    "netprof": "mult_adds",
    "flop_counter": "FLOPs (2 per multiply-add) / 2",
    "fvcore": "flops (1 per multiply-add)",
    "ptflops": "MACs (= multiply-adds)",
    "thop": "MACs (= multiply-adds)",
    "torchinfo": "total_mult_adds",
    "calflops": "MACs (= multiply-adds)",
    "torchprofile": "MACs (= multiply-adds)",
}
RIGHT = 0.005  # within 0.5% of _ops counts as right


def _counter(tool: str):
    """A function (model, x) -> multiply-adds for ``tool``; imports only that tool."""
    if tool == "netprof":
        import netprof

        return lambda model, x: netprof.analyze(model, x).totals.mult_adds
    if tool == "flop_counter":
        from torch.utils.flop_counter import FlopCounterMode

        def count(model, x):
            with FlopCounterMode(display=False) as counter:
                model(x)
            return counter.get_total_flops() / 2  # 2 FLOPs per multiply-add

        return count
    if tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis

        def count(model, x):
            analysis = FlopCountAnalysis(model, x)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return analysis.total()

        return count
    if tool == "ptflops":
        from ptflops import get_model_complexity_info

        def count(model, x):
            macs, _ = get_model_complexity_info(
                model,
                tuple(x.shape[1:]),
                input_constructor=lambda _: {"x": x},
                as_strings=False,
                print_per_layer_stat=False,
                verbose=False,
            )
            return macs

        return count
    if tool == "thop":
        from thop import profile

        return lambda model, x: profile(model, inputs=(x,), verbose=False)[0]
    if tool == "torchinfo":
        from torchinfo import summary

        return lambda model, x: summary(model, input_data=x, verbose=0).total_mult_adds
    if tool == "calflops":
        # calflops' package __init__ imports transformers for its Hugging Face helpers only.
        import importlib.machinery

        stand_in = types.ModuleType("transformers")
        stand_in.__spec__ = importlib.machinery.ModuleSpec("transformers", None)
        stand_in.AutoTokenizer = None
        sys.modules.setdefault("transformers", stand_in)
        from calflops import calculate_flops

        def count(model, x):
            _, macs, _ = calculate_flops(
                model=model,
                input_shape=tuple(x.shape),
                print_results=False,
                print_detailed=False,
                output_as_string=False,
            )
            return macs

        return count
    if tool == "torchprofile":
        from torchprofile import profile_macs

        return lambda model, x: profile_macs(model, x)
    raise ValueError(tool)


def child(tool: str, models: list[str], batches: list[int], repeats: int) -> None:
    """Measure one tool on every model and batch; one JSON line per measurement on stdout."""
    import torch
    import torchvision
    from torchvision.models import get_model_weights

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    warnings.simplefilter("ignore")
    try:
        count = _counter(tool)
    except Exception as error:  # noqa: BLE001 - a tool that does not import is a result
        for name in models:
            for batch in batches:
                print(json.dumps({"tool": tool, "model": name, "batch": batch, "error": f"import: {error}"}))
        return
    for name in models:
        torch.manual_seed(0)
        model = torchvision.models.get_model(name, weights=None).eval()
        ops = get_model_weights(name).DEFAULT.meta["_ops"] * 1e9
        for batch in batches:
            x = torch.randn(batch, 3, 224, 224)
            record: dict[str, Any] = {"tool": tool, "model": name, "batch": batch, "ops_ref": ops * batch}
            try:
                with torch.no_grad():
                    start = time.perf_counter()
                    value = count(model, x)
                    record["first_s"] = time.perf_counter() - start
                    times = []
                    for _ in range(repeats):
                        start = time.perf_counter()
                        value = count(model, x)
                        times.append(time.perf_counter() - start)
            except Exception as error:  # noqa: BLE001
                record["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            else:
                record.update(
                    times=times,
                    median_s=statistics.median(times),
                    min_s=min(times),
                    max_s=max(times),
                    mult_adds=float(value),
                    rel_err=float(value) / (ops * batch) - 1,
                )
            print(json.dumps(record), flush=True)


def _fmt_err(rec: dict[str, Any]) -> str:
    return f"{rec['rel_err']:+.1%}" if "rel_err" in rec else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 32])
    parser.add_argument("--tools", nargs="*", default=TOOLS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.models, args.batches, args.repeats)
        return 0

    records: list[dict[str, Any]] = []
    for tool in args.tools:
        command = [
            sys.executable,
            __file__,
            "--child",
            tool,
            "--repeats",
            str(args.repeats),
            "--models",
            *args.models,
            "--batches",
            *map(str, args.batches),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 and not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            lines = [
                json.dumps({"tool": tool, "model": m, "batch": b, "error": f"exit {proc.returncode}: {tail}"})
                for m in args.models
                for b in args.batches
            ]
        for line in lines:
            records.append(json.loads(line))
        print(
            f"{tool}: {sum('median_s' in json.loads(l) for l in lines)} measurements",
            file=sys.stderr,
            flush=True,
        )

    by_key = {(r["tool"], r["model"], r["batch"]): r for r in records}
    rows = []
    lines = [
        "| model | batch | tool | median s | x netprof | mult_adds (G) | vs _ops | first call s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name in args.models:
        for batch in args.batches:
            ours = by_key.get(("netprof", name, batch), {})
            print(f"\n{name}, batch {batch}: _ops x batch = {ours.get('ops_ref', 0) / 1e9:.3f} G")
            print(f"  {'tool':<14}{'median s':>10}{'x netprof':>11}{'mult_adds G':>13}{'vs _ops':>9}  unit")
            peer_times = []
            for tool in args.tools:
                rec = by_key.get((tool, name, batch), {"error": "missing"})
                ratio = (
                    rec["median_s"] / ours["median_s"] if "median_s" in rec and "median_s" in ours else None
                )
                if "median_s" in rec:
                    print(
                        f"  {tool:<14}{rec['median_s']:>10.4f}{ratio:>10.2f}x{rec['mult_adds'] / 1e9:>13.3f}"
                        f"{_fmt_err(rec):>9}  {UNITS[tool]}"
                    )
                else:
                    print(f"  {tool:<14}  error: {rec.get('error')}")
                if tool != "netprof" and "median_s" in rec:
                    peer_times.append((rec["median_s"], tool, abs(rec["rel_err"]) <= RIGHT))
                rows.append(
                    {
                        "model": name,
                        "batch": batch,
                        "tool": tool,
                        "median_s": rec.get("median_s"),
                        "min_s": rec.get("min_s"),
                        "max_s": rec.get("max_s"),
                        "first_s": rec.get("first_s"),
                        "ratio_to_netprof": ratio,
                        "mult_adds": rec.get("mult_adds"),
                        "ops_ref": rec.get("ops_ref"),
                        "rel_err": rec.get("rel_err"),
                        "unit": UNITS[tool],
                        "error": rec.get("error", ""),
                    }
                )
                lines.append(
                    f"| {name} | {batch} | {tool} | "
                    + (
                        f"{rec['median_s']:.4f} | {ratio:.2f} | {rec['mult_adds'] / 1e9:.3f} | {_fmt_err(rec)} | "
                        f"{rec['first_s']:.4f} |"
                        if "median_s" in rec
                        else f"error | | | | {rec.get('error', '')[:80]} |"
                    )
                )
            if "median_s" in ours and peer_times:
                fastest = min(peer_times)
                right_peers = [t for t in peer_times if t[2]]
                verdicts.append(
                    {
                        "model": name,
                        "batch": batch,
                        "netprof_s": ours["median_s"],
                        "fastest_peer": fastest[1],
                        "fastest_peer_s": fastest[0],
                        "netprof_over_fastest": ours["median_s"] / fastest[0],
                        "netprof_right": abs(ours["rel_err"]) <= RIGHT,
                        "peers_right": [t[1] for t in right_peers],
                    }
                )

    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "peers.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import torch

    (RESULTS / "peers.json").write_text(
        json.dumps(
            {
                "benchmark": "peers",
                "command": "python benchmarks/peers.py",
                "machine": {
                    "platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                },
                "repeats": args.repeats,
                "units": UNITS,
                "verdicts": verdicts,
                "records": records,
            },
            indent=2,
        )
        + "\n"
    )
    summary = [
        "",
        "| model | batch | netprof s | fastest peer | its s | netprof / fastest | peers within 0.5% of _ops |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        summary.append(
            f"| {v['model']} | {v['batch']} | {v['netprof_s']:.4f} | {v['fastest_peer']} | "
            f"{v['fastest_peer_s']:.4f} | {v['netprof_over_fastest']:.2f} | {', '.join(v['peers_right'])} |"
        )
    (RESULTS / "peers.md").write_text(
        "# netprof and its peers\n\n`python benchmarks/peers.py`: median of "
        f"{args.repeats} calls after one warm-up, one fresh process per tool, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}. Units converted to multiply-adds as the script's docstring says.\n"
        + "\n".join(summary)
        + "\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print("\n" + "\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
