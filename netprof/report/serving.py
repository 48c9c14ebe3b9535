"""The generation report: phases side by side, decode per token, and where FLOPs and bytes disagree.

The same rows feed the terminal table, the markdown table and the JSON ``phases``
list, so the three never say different things.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof import units
from netprof.costs import Category
from netprof.report.tables import markdown_table
from netprof.serving.phases import DECODE, ENCODE, PREFILL, GenerationAnalysis, Phase, StepCost, phase_to_dict
from netprof.serving.predict import ServingPrediction, describe

_ROWS: tuple[tuple[str, Callable[[StepCost], str]], ...] = (
    ("mult_adds", lambda step: units.count(step.mult_adds)),
    ("flops", lambda step: units.count(step.flops)),
    ("memory access", lambda step: units.nbytes(step.mem_access_bytes)),
    ("weights read", lambda step: units.nbytes(step.weight_bytes)),
    ("KV cache read", lambda step: units.nbytes(step.kv_read_bytes)),
    ("KV cache written", lambda step: units.nbytes(step.kv_write_bytes)),
    ("flop/byte", lambda step: f"{step.intensity:.2f}"),
)


@dataclass(frozen=True)
class _Column:
    header: str
    tokens: int
    step: StepCost
    kv_cache_bytes: int
    seconds: float | None = None
    bound: str = ""
    cross_kv_cache_bytes: int = 0


def _columns(generation: GenerationAnalysis, prediction: ServingPrediction | None) -> list[_Column]:
    """The prefill, the whole decode, and its first and last steps."""
    timed = {} if prediction is None else {phase.name: phase for phase in prediction.phases}
    columns = []
    for phase in generation.phases:
        predicted = timed.get(phase.name)
        header = phase.name if phase.name != DECODE else f"decode, {len(phase.steps):,} steps"
        columns.append(
            _Column(
                header,
                phase.batch * phase.tokens,
                phase.total,
                phase.kv_cache_bytes,
                None if predicted is None else predicted.seconds,
                "" if predicted is None else predicted.bound,
                phase.cross_kv_cache_bytes or 0,
            )
        )
    decode = generation.decode
    if decode is not None:
        predicted = timed.get(DECODE)
        for label, index in (("first", 0), ("last", -1)):
            step = decode.steps[index]
            seconds = None if predicted is None else predicted.per_step_s[index]
            header = f"{label} step (context {step.context:,})"
            columns.append(
                _Column(header, decode.batch, step, step.kv_read_bytes, seconds, "", step.cross_kv_read_bytes)
            )
    return columns


def rows(
    generation: GenerationAnalysis, prediction: ServingPrediction | None
) -> tuple[list[str], list[list[str]]]:
    """The header and one row per count, a column per pass; with predicted time and bound."""
    columns = _columns(generation, prediction)
    table = [["tokens", *(f"{column.tokens:,}" for column in columns)]]
    table += [[name, *(show(column.step) for column in columns)] for name, show in _ROWS]
    table.append(["KV cache after", *(units.nbytes(column.kv_cache_bytes) for column in columns)])
    if generation.encode is not None:  # an encoder-decoder: the cross-attention part of the three KV rows
        table.append(["cross KV read", *(units.nbytes(c.step.cross_kv_read_bytes) for c in columns)])
        table.append(["cross KV written", *(units.nbytes(c.step.cross_kv_write_bytes) for c in columns)])
        table.append(["cross KV after", *(units.nbytes(c.cross_kv_cache_bytes) for c in columns)])
    if prediction is not None:
        table.append(["predicted time", *(units.seconds(column.seconds) for column in columns)])
        table.append(["bound", *(column.bound for column in columns)])
    return ["", *(column.header for column in columns)], table


def _per_token(phase: Phase, name: str) -> float:
    return getattr(phase.total, name) / (phase.batch * phase.tokens)


def verdict(generation: GenerationAnalysis, prediction: ServingPrediction | None) -> list[str]:
    """Where FLOPs and memory access give opposite answers: prefill against decode, per token."""
    # An encoder-decoder's prompt is its source, read by the encoder (its decoder's prefill may be one token).
    prefill = generation.encode if generation.encode is not None else generation.prefill
    decode = generation.decode
    lines = []
    if decode is not None:
        flops_p, flops_d = _per_token(prefill, "flops"), _per_token(decode, "flops")
        bytes_p, bytes_d = _per_token(prefill, "mem_access_bytes"), _per_token(decode, "mem_access_bytes")
        if (
            prefill.name == ENCODE
        ):  # a decoder layer has cross-attention too, and the head: no "about the same"
            lines.append(
                f"Per token, encode does {units.count(flops_p)} flops per source position and decode "
                f"{units.count(flops_d)} per generated token ({flops_d / flops_p:.2f}x)."
            )
        else:
            lines.append(
                f"Per generated token, prefill does {units.count(flops_p)} flops and decode "
                f"{units.count(flops_d)} ({flops_d / flops_p:.2f}x): FLOPs say a decoded token costs about what "
                "a prompt token does."
            )
        lines.append(
            f"Decode moves {units.nbytes(bytes_d)} per token against {prefill.name}'s {units.nbytes(bytes_p)} "
            f"({bytes_d / bytes_p:,.0f}x): arithmetic intensity {decode.total.intensity:.1f} flop/byte against "
            f"{prefill.total.intensity:.1f}. Memory access says decode is the slow phase; at small batch it is."
        )
    lines += _unfused_attention(generation)
    roofline = None if prediction is None else prediction.roofline
    if roofline is not None:
        lines.append(f"The device's ridge point is {roofline.ridge:.0f} flop/byte ({roofline.describe()}).")
    if prediction is not None:
        bounds = ", ".join(f"{phase.name} {phase.bound}-bound" for phase in prediction.phases)
        lines.append(f"Predicted: {describe(prediction)}; {bounds}.")
    return lines


def _unfused_attention(generation: GenerationAnalysis) -> list[str]:
    """A warning when unfused attention (the math path) dominates the prefill's memory access."""
    analysis = generation.prefill_analysis
    attention = analysis.categories.get(str(Category.ATTENTION))
    total = analysis.totals.mem_access_bytes
    if attention is None or not total or attention.mem_access_bytes < total / 4:
        return []
    line = (
        f"Attention is {units.share(attention.mem_access_bytes, total)} of the prefill's memory access "
        f"({units.nbytes(attention.mem_access_bytes)}): it ran unfused (the math path, as on meta), writing and "
        "reading its score matrices. A fused (flash) kernel moves only Q, K, V and the output; every number here "
        "counts the unfused path."
    )
    return [line]


def render(
    generation: GenerationAnalysis,
    console: Console,
    prediction: ServingPrediction | None = None,
) -> None:
    header, body = rows(generation, prediction)
    table = Table(title=f"{generation.model}: prefill and decode", title_justify="left")
    for index, column in enumerate(header):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)
    for line in (*verdict(generation, prediction), *generation.notes):
        console.print(line)


def markdown(
    generation: GenerationAnalysis,
    prediction: ServingPrediction | None = None,
) -> str:
    header, body = rows(generation, prediction)
    lines = [
        "## Prefill and decode",
        "",
        *markdown_table(header, body),
    ]
    lines += ["", *verdict(generation, prediction), ""]
    lines += [f"- {note}" for note in generation.notes]
    return "\n".join(lines) + "\n"


def to_dict(generation: GenerationAnalysis, prediction: ServingPrediction | None = None) -> dict[str, Any]:
    """The keys the analysis JSON of the prefill pass gains: ``phases`` (and the prediction)."""
    predicted = {} if prediction is None else {phase.name: phase for phase in prediction.phases}
    phases = []
    passes = {
        ENCODE: (generation.encode_analysis,),
        PREFILL: (generation.prefill_analysis,),
        DECODE: tuple(analysis for _, analysis in generation.captured_steps),
    }
    for phase in generation.phases:
        entry = phase_to_dict(phase)
        # The top-level "uncounted" is the prefill's only: each phase says what its captured passes left.
        entry["uncounted_ops"] = sum(analysis.totals.uncounted_ops for analysis in passes[phase.name])
        if phase.name in predicted:
            entry["prediction"] = {
                "seconds": predicted[phase.name].seconds,
                "bound": predicted[phase.name].bound,
            }
        phases.append(entry)
    document: dict[str, Any] = {"phases": phases, "generation_notes": list(generation.notes)}
    if prediction is not None:
        document["serving"] = prediction.to_dict()
    return document
