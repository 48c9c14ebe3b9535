"""A latency prediction as a rich table, Markdown and JSON: renderers of ``netprof.prediction.Prediction``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof.analysis import Analysis
from netprof.prediction import DeviceProfile, Prediction
from netprof.records import pick
from netprof.report.tables import shown_modules
from netprof.runtimes.profile import EAGER, runtime_of
from netprof.timing.attribution import Timing
from netprof.units import nbytes, seconds, share

TOP_OPS = 10


def profile_line(prediction: Prediction) -> str:
    p = prediction.profile
    runtime = runtime_of(p)
    where = p.device if runtime == EAGER else f"{runtime} on {p.device}"
    return f"{where} ({p.processor}), {p.threads} thread(s), {p.dtype}"


def _bounds(prediction: Prediction) -> str:
    counted = Counter(op.bound for op in prediction.ops)
    return ", ".join(f"{count} {bound}" for bound, count in counted.most_common())


def _rows(prediction: Prediction, analysis: Analysis, depth: int) -> list[tuple[str, str, str, str]]:
    total = prediction.latency_s
    return [
        (
            m.path or "(model)",
            m.type,
            seconds(prediction.modules[m.path]),
            share(prediction.modules[m.path], total),
        )
        for m in shown_modules(analysis, depth)
    ]


def render(prediction: Prediction, analysis: Analysis, console: Console, depth: int = 1) -> None:
    total = prediction.latency_s
    console.print(
        f"[bold]{analysis.model}[/bold]  predicted latency [bold]{seconds(total)}[/bold] on {profile_line(prediction)}"
    )
    console.print(
        f"ops {seconds(prediction.ops_s)} + framework between kernels {seconds(prediction.framework_s)} "
        f"({share(prediction.framework_s, total)}); ops by their largest term: {_bounds(prediction)}",
        highlight=False,
    )
    categories = Table(title="By category", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("category", "predicted", "%"):
        categories.add_column(column, justify="left" if column == "category" else "right")
    for name, value in prediction.categories.items():
        categories.add_row(name, seconds(value), share(value, total))
    console.print(categories)
    modules = Table(title=f"By module (depth {depth})", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("module", "type", "predicted", "%"):
        modules.add_column(
            column, justify="left" if column in ("module", "type") else "right", overflow="fold"
        )
    for row in _rows(prediction, analysis, depth):
        modules.add_row(*row)
    console.print(modules)
    ops = Table(title=f"Slowest {TOP_OPS} ops", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("op", "module", "kind", "bound", "predicted", "%"):
        ops.add_column(column, justify="right" if column in ("predicted", "%") else "left", overflow="fold")
    for op in sorted(prediction.ops, key=lambda op: -op.predicted_s)[:TOP_OPS]:
        ops.add_row(
            op.op,
            op.module or "(model)",
            op.kind,
            op.bound,
            seconds(op.predicted_s),
            share(op.predicted_s, total),
        )
    console.print(ops)
    for note in prediction.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)


def markdown(prediction: Prediction, analysis: Analysis, depth: int = 1) -> str:
    total = prediction.latency_s
    lines = [
        f"#### Predicted latency: {seconds(total)} on {profile_line(prediction)}",
        "",
        (
            f"Ops {seconds(prediction.ops_s)} + framework between kernels {seconds(prediction.framework_s)}; "
            f"ops by their largest term: {_bounds(prediction)}. Nothing was run: a prediction from the counts "
            "and the device profile."
        ),
        "",
        "| category | predicted | % |",
        "|---|---:|---:|",
        *(
            f"| {name} | {seconds(value)} | {share(value, total)} |"
            for name, value in prediction.categories.items()
        ),
        "",
        "| module | type | predicted | % |",
        "|---|---|---:|---:|",
        *(
            f"| `{path}` | {kind} | {value} | {pct} |"
            for path, kind, value, pct in _rows(prediction, analysis, depth)
        ),
        "",
        *(f"- note: {note}" for note in prediction.notes),
    ]
    return "\n".join(lines) + "\n"


def to_dict(prediction: Prediction) -> dict[str, Any]:
    """The ``prediction`` object of the JSON report."""
    return {
        **pick(prediction, "latency_s", "ops_s", "framework_s"),
        "profile": {
            **pick(prediction.profile, "device", "processor", "threads", "dtype"),
            "fit_mape": prediction.profile.fit_mape,
        },
        "categories": dict(prediction.categories),
        "kinds": dict(prediction.kinds),
        "modules": dict(prediction.modules),
        "ops": [pick(op, "id", "kind", "predicted_s", "bound") for op in prediction.ops],
        "notes": list(prediction.notes),
    }


def _cache_line(profile: DeviceProfile) -> str:
    """What the profile's cache-aware terms price, and on which cache size."""
    fresh = f"fresh pages of grouped convolutions {seconds(profile.s_per_transient_byte * 1e6)}/MB"
    if profile.page_fault_s_per_byte:
        fresh += f" (at most the {seconds(profile.page_fault_s_per_byte * 1e6)}/MB page faults cost here)"
    kept = profile.pass_cache_bytes
    if not kept:
        return f"last-level cache unknown: bytes past it not priced; {fresh}"
    source = f"measured; {nbytes(profile.llc_bytes)} listed" if profile.cache_holds_bytes else "as listed"
    past = seconds(profile.s_per_byte_past_llc * 1e6)
    return f"an op's bytes past {nbytes(kept)} of cache ({source}) {past}/MB; {fresh}"


def _network_line(profile: DeviceProfile) -> str:
    """What an op costs in a network beyond its one-op loop."""
    within = f"within {nbytes(profile.l2_bytes)} of L2" if profile.l2_bytes else "(L2 unknown: not priced)"
    return (
        f"in a network, beyond its loop: {seconds(profile.network_op_s)} an op, "
        f"{seconds(profile.s_per_loop_cached_byte * 1e6)}/MB of an op's bytes {within}"
    )


def render_profile(profile: DeviceProfile, console: Console) -> None:
    """What a device profile says each kind of op costs here."""
    console.print(f"[bold]Device profile[/bold] {profile.key}", highlight=False)
    fit = "-" if profile.fit_mape is None else f"{100 * profile.fit_mape:.1f}%"
    took = "-" if profile.calibration_s is None else seconds(profile.calibration_s)
    console.print(
        f"  {len(profile.points)} micro-benchmarks in {took}; fit error on them (MAPE) {fit}; framework "
        f"{seconds(profile.per_module_call_s)} per module call, {seconds(profile.per_run_s)} per run",
        highlight=False,
    )
    console.print(f"  {_cache_line(profile)}", highlight=False)
    console.print(f"  {_network_line(profile)}", highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("kind", "benchmarks", "launch", "GFLOP/s", "GB/s", "weight GB/s"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, model in profile.kinds.items():
        table.add_row(
            str(kind),
            str(model.benches),
            seconds(model.overhead_s),
            f"{1e-9 / model.s_per_flop:.3g}" if model.s_per_flop else "-",
            f"{1e-9 / model.s_per_byte:.3g}" if model.s_per_byte else "-",
            f"{1e-9 / model.s_per_weight_byte:.3g}" if model.s_per_weight_byte else "-",
        )
    console.print(table)
    for note in profile.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)


def versus_measured(prediction: Prediction, timing: Timing) -> list[tuple[str, float, float]]:
    """``(what, measured_s, predicted_s)``: end to end (plain passes), then each category's op time."""
    rows = [("end to end", timing.plain.median, prediction.latency_s)]
    rows += [(g.name, g.time_s, prediction.categories.get(g.name, 0.0)) for g in timing.categories]
    return rows


def _error(measured: float, predicted: float) -> str:
    return f"{100 * (predicted / measured - 1):+.0f}%" if measured else "-"


def render_versus(prediction: Prediction, timing: Timing, console: Console) -> None:
    table = Table(
        title=f"Predicted ({profile_line(prediction)}) vs measured",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for column in ("", "measured", "predicted", "error"):
        table.add_column(column, justify="left" if not column else "right")
    for what, measured, predicted in versus_measured(prediction, timing):
        table.add_row(what, seconds(measured), seconds(predicted), _error(measured, predicted))
    console.print(table)


def markdown_versus(prediction: Prediction, timing: Timing) -> str:
    lines = [
        f"#### Predicted ({profile_line(prediction)}) vs measured",
        "",
        "| | measured | predicted | error |",
        "|---|---:|---:|---:|",
        *(
            f"| {what} | {seconds(measured)} | {seconds(predicted)} | {_error(measured, predicted)} |"
            for what, measured, predicted in versus_measured(prediction, timing)
        ),
    ]
    return "\n".join(lines) + "\n"
