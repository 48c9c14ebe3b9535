"""The timing report: rich tables for the terminal and ``timing_to_dict`` for JSON.

Renderers only format: every figure comes from ``Timing`` (see
``netprof.timing.attribution`` for the definitions).
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof import units
from netprof.records import pick
from netprof.timing.attribution import Disagreement, GroupTiming, KernelTiming, OpTiming, Timing
from netprof.timing.calibrate import Calibration
from netprof.timing.figure2 import FIGURE2
from netprof.timing.measurement import Measurement
from netprof.units import seconds

DEFINITIONS = (
    "op time = median over timed passes; group time = sum of its ops' medians; "
    "overhead = end-to-end median - sum of op medians (time between kernels: Python, framework, instrumentation); "
    "time shares are of the summed op time; time/mult_adds = time share / mult_adds share"
)
TOP_DISAGREEMENTS = 10


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


_WIDE = 120  # columns from which the op counts, spreads and rates fit beside the shares


def _group_table(
    title: str, first: str, groups: tuple[GroupTiming, ...], with_roofline: bool, wide: bool = True
) -> Table:
    """Shares and the time/mult_adds ratio always; counts, IQR, rates and roofline on a wide terminal."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column(first, overflow="fold", min_width=12)
    columns = {
        "ops": lambda g: str(g.ops),
        "time": lambda g: seconds(g.time_s),
        "IQR": lambda g: seconds(g.spread.iqr),
        "time %": lambda g: _pct(g.time_share),
        "mult_adds %": lambda g: _pct(g.mult_adds_share),
        "MAC %": lambda g: _pct(g.mem_access_share),
        "GFLOP/s": lambda g: _rate(g.gflop_per_s),
        "GB/s": lambda g: _rate(g.gb_per_s),
        "time/mult_adds": lambda g: _ratio(g.time_over_mult_adds),
        "roofline": lambda g: seconds(g.roofline_s),
    }
    if not with_roofline:
        del columns["roofline"]
    if not wide:
        for name in ("ops", "IQR", "GFLOP/s", "GB/s", "roofline"):
            columns.pop(name, None)
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for g in groups:
        table.add_row(g.name or "(root)", *(cell(g) for cell in columns.values()))
    return table


def _depth(path: str) -> int:
    return 0 if not path else path.count(".") + 1


def _figure2_table(timing: Timing) -> Table:
    """The paper's Figure 2: shares of the end-to-end time, overhead as its own column."""
    table = Table(
        title="Run-time breakdown (ShuffleNet V2 Figure 2 categories; share of end-to-end)",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    present = {g.name: g for g in timing.figure2}
    whole = timing.end_to_end.median
    for name in (*FIGURE2, "overhead"):
        table.add_column(name, justify="right", no_wrap=True)
    cells = [units.share(present[n].time_s, whole) if n in present else "-" for n in FIGURE2]
    table.add_row(*cells, units.share(timing.overhead_s, whole))
    return table


def _disagreements(console: Console, title: str, ranked: tuple[Disagreement, ...], top: int) -> None:
    console.print(f"[bold]{title}[/bold]")
    if not ranked:
        console.print("  none: every place takes no more time than its mult_adds predict")
    for rank, place in enumerate(ranked[:top], 1):
        console.print(f"  {rank:>2}. {place.describe()}", markup=False, highlight=False)


def _measurement_line(label: str, m: Measurement) -> str:
    return f"{label} {seconds(m.median)} (IQR {seconds(m.iqr)}, {m.runs} runs)"


TOP_KERNELS = 15


def kernel_label(kernel: KernelTiming, ops: dict[int, OpTiming]) -> str:
    """``conv+batch_norm+hardtanh`` for a fused kernel: the op types it computes that do work."""
    names = [
        ops[i].op_type.rstrip("_")
        for i in kernel.op_ids
        if i in ops and ops[i].category not in ("view", "other")
    ]
    return "+".join(dict.fromkeys(names)) or "-"


def kernel_module(kernel: KernelTiming, ops: dict[int, OpTiming]) -> str:
    """The module path all of a kernel's ops share (their longest common prefix of names)."""
    paths = [ops[i].module.split(".") for i in kernel.op_ids if i in ops]
    if not paths:
        return "-"
    common = []
    for parts in zip(*paths):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    return ".".join(common) or "(root)"


KERNEL_HEADER = ("kernel", "type", "time", "share", "computes", "module")


def kernel_title(timing: Timing) -> str:
    """``onnxruntime kernels: 56 executed, 52 fused (95.1% of kernel time)``."""
    total = math.fsum(k.time.median for k in timing.kernels)
    fused = [k for k in timing.kernels if k.fused]
    return (
        f"{timing.runtime} kernels: {len(timing.kernels)} executed, {len(fused)} fused "
        f"({units.share(math.fsum(k.time.median for k in fused), total)} of kernel time)"
    )


def kernel_rows(timing: Timing, top: int | None = None) -> list[list[str]]:
    """The runtime's kernels, slowest first (``top`` of them), a fused one marked ``fused``, with the
    ops it computes and the module they share: the rows every format shows under ``KERNEL_HEADER``."""
    ops = {op.id: op for op in timing.ops}
    total = math.fsum(k.time.median for k in timing.kernels)
    ranked = sorted(timing.kernels, key=lambda k: -k.time.median)
    return [
        [
            kernel.name,
            kernel.op_type,
            seconds(kernel.time.median),
            units.share(kernel.time.median, total),
            ("fused " if kernel.fused else "") + kernel_label(kernel, ops),
            kernel_module(kernel, ops),
        ]
        for kernel in ranked[:top]
    ]


def _kernel_table(timing: Timing, top: int) -> Table:
    table = Table(
        title=f"{kernel_title(timing)}; slowest {top}", title_justify="left", show_edge=False, pad_edge=False
    )
    for name in KERNEL_HEADER:
        table.add_column(name, justify="right" if name in ("time", "share") else "left", overflow="fold")
    for row in kernel_rows(timing, top):
        table.add_row(*row[:4], row[4].replace("fused ", "[bold]fused[/bold] ", 1), row[5])
    return table


def _header(timing: Timing, console: Console) -> None:
    """Where and how it ran; for a runtime, its latency and what its kernels add up to."""
    runs = f"{timing.runs} timed passes after {timing.warmup} warm-up"
    threads = f"{timing.threads} thread{'s' if timing.threads != 1 else ''}"
    if timing.runtime != "eager":
        console.print(
            f"[bold]Timing[/bold] in {timing.runtime} on {timing.device}, {threads}, {runs} of each kind"
        )
        console.print(
            f"  latency (plain session) {seconds(timing.plain.median)} (IQR {seconds(timing.plain.iqr)}); "
            f"profiled {seconds(timing.end_to_end.median)}; kernels sum to "
            f"{seconds(math.fsum(k.time.median for k in timing.kernels))}, of which "
            f"{seconds(timing.attributed_s)} computes captured ops",
            highlight=False,
        )
        return
    console.print(
        f"[bold]Timing[/bold] on {timing.device}, {threads}, {runs}"
        + (f", {timing.diverged_runs} dropped (ops diverged)" if timing.diverged_runs else "")
    )
    console.print(
        _measurement_line("  end-to-end, instrumented", timing.end_to_end)
        + f"; plain forward {seconds(timing.plain.median)} (IQR {seconds(timing.plain.iqr)}): "
        f"instrumentation adds {seconds(timing.instrumentation_s)}",
        highlight=False,
    )
    console.print(
        f"  = ops {seconds(timing.attributed_s)} + overhead {seconds(timing.overhead_s)} "
        f"({units.share(timing.overhead_s, timing.end_to_end.median)} of end-to-end; "
        f"per pass IQR {seconds(timing.overhead.iqr)}): time between kernels, the G3 cost; "
        f"instrumentation {seconds(timing.instrumentation_s)} + framework {seconds(timing.framework_overhead_s)} "
        "(plain end-to-end - ops)",
        highlight=False,
    )


def render(timing: Timing, console: Console, depth: int = 2, top: int = TOP_DISAGREEMENTS) -> None:
    """Print the timing report: passes, per-category and per-module time, breakdown, disagreements, roofline."""
    _header(timing, console)
    for warning in timing.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    roof = timing.calibration is not None
    console.print()
    if timing.kernels:
        console.print(_kernel_table(timing, TOP_KERNELS))
        console.print()
    wide = console.width >= _WIDE
    console.print(_group_table("Time by category", "category", timing.categories, roof, wide))
    console.print()
    modules = tuple(g for g in timing.modules if _depth(g.name) <= depth)
    console.print(_group_table(f"Time by module (depth {depth})", "module", modules, roof, wide))
    console.print()
    console.print(_figure2_table(timing))
    console.print()
    _disagreements(console, "Where time departs most from mult_adds (op types)", timing.disagreements, top)
    _disagreements(console, "... and by module", timing.module_disagreements, top)
    console.print()
    if timing.calibration is not None:
        cal = timing.calibration
        bound = [op.bound for op in timing.ops]
        console.print(
            f"[bold]Roofline[/bold] peak {cal.peak_flops / 1e9:.3g} GFLOP/s, bandwidth {cal.bandwidth / 1e9:.3g} GB/s "
            f"(ridge {cal.ridge:.3g} FLOP/B): {bound.count('compute')} ops compute-bound, "
            f"{bound.count('memory')} memory-bound; roofline estimate {seconds(timing.roofline_s)} vs measured "
            f"ops {seconds(timing.attributed_s)}, end-to-end {seconds(timing.end_to_end.median)}",
            highlight=False,
        )
    else:
        console.print(
            "[dim]Roofline: no calibration for this device and thread count (run `netprof calibrate`).[/dim]"
        )
    console.print(f"[dim]{DEFINITIONS}[/dim]")


def render_calibration(calibration: Calibration, console: Console, cached_at: str | None = None) -> None:
    g, c = calibration.gemm, calibration.copy
    console.print(f"[bold]Calibration[/bold] {calibration.key}", highlight=False)
    console.print(
        f"  peak {calibration.peak_flops / 1e9:.3g} GFLOP/s (fp32 GEMM, median {seconds(g.median)}, "
        f"IQR {seconds(g.iqr)}, {g.runs} runs)",
        highlight=False,
    )
    console.print(
        f"  bandwidth {calibration.bandwidth / 1e9:.3g} GB/s (copy, median {seconds(c.median)}, "
        f"IQR {seconds(c.iqr)}, {c.runs} runs)",
        highlight=False,
    )
    console.print(f"  ridge {calibration.ridge:.3g} FLOP/B", highlight=False)
    for m, what in ((g, "GEMM"), (c, "copy")):
        if m.warning:
            console.print(f"[yellow]warning:[/yellow] {what}: {m.warning}", highlight=False)
    if cached_at:
        console.print(f"  cached in {cached_at}", highlight=False)


# JSON: ints stay ints, times are float seconds.


def _group(g: GroupTiming) -> dict[str, Any]:
    return {
        **pick(g, "name", "ops", "mult_adds", "flops", "mem_access_bytes", "time_s"),
        "iqr_s": g.spread.iqr,
        **pick(
            g,
            "time_share",
            "mult_adds_share",
            "mem_access_share",
            "gflop_per_s",
            "gb_per_s",
            "time_over_mult_adds",
            "roofline_s",
        ),
    }


def _op(op: OpTiming) -> dict[str, Any]:
    return {
        **pick(op, "id", "op", "module", "category", "figure2"),
        "time": op.time.to_dict(raw=False),
        **pick(op, "bound", "roofline_s"),
    }


def _disagreement(d: Disagreement) -> dict[str, Any]:
    return pick(d, "kind", "name", "mult_adds_share", "time_share", "excess", "time_over_mult_adds")


def _kernel(kernel: KernelTiming) -> dict[str, Any]:
    return {
        **pick(kernel, "name", "op_type", "provider"),
        "median_s": kernel.time.median,
        "iqr_s": kernel.time.iqr,
        "op_ids": list(kernel.op_ids),
        "fused": kernel.fused,
    }


def timing_to_dict(timing: Timing) -> dict[str, Any]:
    """The ``timing`` key of the JSON report. Per-op entries carry quartiles, not every raw time."""
    cal = timing.calibration
    return {
        "definitions": DEFINITIONS,
        "runtime": timing.runtime,
        "device": timing.device,
        "threads": timing.threads,
        "runs": timing.runs,
        "warmup": timing.warmup,
        "diverged_runs": timing.diverged_runs,
        "end_to_end": timing.end_to_end.to_dict(),
        "plain": timing.plain.to_dict(),
        "instrumentation_s": timing.instrumentation_s,
        "framework_overhead_s": timing.framework_overhead_s,
        "attributed_s": timing.attributed_s,
        "overhead_s": timing.overhead_s,
        "overhead": timing.overhead.to_dict(),
        "roofline": None
        if cal is None
        else {
            "key": cal.key,
            "peak_flops": cal.peak_flops,
            "bandwidth": cal.bandwidth,
            "ridge": cal.ridge,
            "estimate_s": timing.roofline_s,
        },
        "figure2": [_group(g) for g in timing.figure2],
        "categories": [_group(g) for g in timing.categories],
        "op_types": [_group(g) for g in timing.op_types],
        "modules": [_group(g) for g in timing.modules],
        "disagreements": [_disagreement(d) for d in timing.disagreements],
        "module_disagreements": [_disagreement(d) for d in timing.module_disagreements],
        "ops": [_op(op) for op in timing.ops],
        "kernels": [_kernel(kernel) for kernel in timing.kernels],
        "warnings": list(timing.warnings),
    }
