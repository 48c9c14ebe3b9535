"""Prefill and decode, counted: per phase totals, and per decode step as the context grows.

A decode step at context ``c`` runs the same ops as any other step, with the
attention over ``c`` cached tokens: every count is affine in ``c``. So D steps
cost three captures, not D: the first step, the last and one in the middle. The
first and last fix the line and the middle one checks it, exactly, in integers;
a model whose step is not affine (a sliding window reached mid-way) is captured
step by step, and the notes say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from netprof.analysis import Analysis, analyze
from netprof.serving.cache import DecodeError, cache_argument, takes_use_cache
from netprof.serving.workloads import Generation

PREFILL, DECODE = "prefill", "decode"


@dataclass(frozen=True)
class StepCost:
    """One forward pass: its counts, the weights and KV cache it reads and writes."""

    context: int  # tokens in the cache after the pass
    mult_adds: int
    flops: int
    mem_access_bytes: int
    weight_bytes: int  # parameters read (each once per pass; embedding rows as gathered)
    kv_read_bytes: int  # the cache after the pass: attention reads every cached key and value
    kv_write_bytes: int  # what the pass added to the cache

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, flops per byte of memory access."""
        return self.flops / self.mem_access_bytes if self.mem_access_bytes else 0.0

    def _values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    def __add__(self, other: StepCost) -> StepCost:
        summed = [a + b for a, b in zip(self._values(), other._values())]
        return StepCost(max(self.context, other.context), *summed[1:])


@dataclass(frozen=True)
class Phase:
    """Prefill (one pass) or decode (one pass per new token)."""

    name: str
    batch: int
    tokens: int  # new tokens per sequence
    steps: tuple[StepCost, ...]  # one per pass
    kv_cache_bytes: int  # the cache's size at the end of the phase

    @property
    def total(self) -> StepCost:
        total = self.steps[0]
        for step in self.steps[1:]:
            total = total + step
        return total

    def per_token(self, step: StepCost) -> dict[str, float]:
        """A pass's counts per generated token (a decode pass makes one token per sequence)."""
        count = self.batch * (self.tokens if self.name == PREFILL else 1)
        return {name: getattr(step, name) / count for name in _COUNTS}


_COUNTS = ("mult_adds", "flops", "mem_access_bytes", "weight_bytes", "kv_read_bytes", "kv_write_bytes")


@dataclass(frozen=True)
class GenerationAnalysis:
    """What ``analyze_generation`` found: the prefill's full analysis, both phases, and the decode
    steps that were captured (with their analyses, for predictions per step)."""

    model: str
    prefill_analysis: Analysis
    prefill: Phase
    decode: Phase | None
    captured_steps: tuple[tuple[int, Analysis], ...]  # (context, analysis) of each captured decode step
    notes: tuple[str, ...]

    @property
    def phases(self) -> tuple[Phase, ...]:
        return (self.prefill,) if self.decode is None else (self.prefill, self.decode)


def weight_bytes(model: nn.Module, analysis: Analysis) -> int:
    """Bytes of parameters one pass reads: each called module's own parameters, once per call.

    An embedding reads only the rows it gathers (its output); a mixture-of-experts
    block only the experts its tokens were routed to (``capture.huggingface``'s even
    routing: ``min(experts, routed rows)`` of them). A weight tied to two modules
    (GPT-2's embedding and LM head) is read by each.
    """
    calls = {summary.path: summary.calls for summary in analysis.modules}
    gathered = _embedding_rows(analysis)
    total = 0
    for path, module in model.named_modules():
        if not calls.get(path):
            continue
        if isinstance(module, nn.Embedding):
            total += gathered.get(path, 0)
            continue
        own = sum(p.numel() * p.element_size() for p in module.parameters(recurse=False))
        experts = getattr(module, "num_experts", None)
        if (
            experts
            and own
            and all(p.dim() == 3 and p.shape[0] == experts for p in module.parameters(recurse=False))
        ):
            own = own * _routed_experts(analysis, path, experts) // experts
        total += own * calls[path]
    return total


def _embedding_rows(analysis: Analysis) -> dict[str, int]:
    rows: dict[str, int] = {}
    for op in analysis.ops:
        if op.op.startswith("aten.embedding"):
            rows[op.module] = rows.get(op.module, 0) + sum(m.nbytes for m in op.output_metas)
    return rows


def _routed_experts(analysis: Analysis, path: str, experts: int) -> int:
    """How many experts the module's batched matmuls touched (even routing: leading dims of its bmms)."""
    touched = sum(
        op.input_metas[1].shape[0]
        for op in analysis.ops
        if op.module == path and op.op.startswith("aten.bmm")
    )
    # Two projections (up, down) per expert group.
    return min(experts, touched // 2) if touched else experts


def _step_cost(model: nn.Module, analysis: Analysis, context: int, sizes: tuple[int, int]) -> StepCost:
    before, after = sizes
    return StepCost(
        context=context,
        mult_adds=analysis.totals.mult_adds,
        flops=analysis.totals.flops,
        mem_access_bytes=analysis.totals.mem_access_bytes,
        weight_bytes=weight_bytes(model, analysis),
        kv_read_bytes=after,
        kv_write_bytes=after - before,
    )


Capturer = Callable[[Generation, str], Analysis]


def _capture_pass(
    model: nn.Module, batch: int, past: int, tokens: int, mode: str, name: str
) -> tuple[Analysis, StepCost]:
    workload = Generation(batch, past, tokens)
    analysis = analyze(model, workload, mode=mode, name=name)
    return analysis, _step_cost(model, analysis, past + tokens, workload.cache_sizes[-1])


def _affine(first: StepCost, last: StepCost, context: int) -> StepCost | None:
    """The step at ``context`` on the line through ``first`` and ``last``; None where it is not integral."""
    span = last.context - first.context
    values = []
    for a, b in zip(first._values()[1:], last._values()[1:]):
        slope, remainder = divmod(b - a, span)
        if remainder:
            return None
        values.append(a + slope * (context - first.context))
    return StepCost(context, *values)


def decode_steps(
    model: nn.Module,
    batch: int,
    prompt: int,
    steps: int,
    *,
    mode: str = "fake",
    name: str = "model",
    exhaustive: bool = False,
    progress: Callable[[Iterable[int]], Iterable[int]] = iter,
) -> tuple[list[StepCost], list[tuple[int, Analysis]], tuple[str, ...]]:
    """The cost of each of ``steps`` decode steps after a ``prompt``-token prefill.

    Captures the first, middle and last steps and fills the others in on the line
    they make; ``exhaustive`` (or a middle step off the line) captures every step.
    """
    contexts = [prompt + k for k in range(1, steps + 1)]
    captured: dict[int, tuple[Analysis, StepCost]] = {}

    def at(context: int) -> StepCost:
        if context not in captured:
            captured[context] = _capture_pass(model, batch, context - 1, 1, mode, name)
        return captured[context][1]

    notes: tuple[str, ...] = ()
    if not exhaustive and steps >= 3:
        first, last = at(contexts[0]), at(contexts[-1])
        middle = contexts[len(contexts) // 2]
        if _affine(first, last, middle) == at(middle):
            costs = [_affine(first, last, c) or at(c) for c in contexts]
            line = f"decode: steps at context {contexts[0]}, {middle} and {contexts[-1]} captured; "
            line += "every other step is on the line they make (each count is affine in the context; checked)"
            notes = (line,)
            return costs, _analyses(captured), notes
        notes = (
            f"decode: a step's cost is not affine in the context (the middle step is off the line): all {steps} steps captured",
        )
    costs = [at(c) for c in progress(contexts)]
    return costs, _analyses(captured), notes


def _analyses(captured: dict[int, tuple[Analysis, StepCost]]) -> list[tuple[int, Analysis]]:
    return [(context, analysis) for context, (analysis, _) in sorted(captured.items())]


def analyze_generation(
    model: nn.Module,
    *,
    batch: int = 1,
    prefill: int = 512,
    decode: int = 0,
    mode: str = "fake",
    name: str | None = None,
    notes: tuple[str, ...] = (),
    exhaustive: bool = False,
    progress: Callable[[Iterable[int]], Iterable[int]] = iter,
) -> GenerationAnalysis:
    """The prompt pass of ``prefill`` tokens and ``decode`` steps that reuse the model's own KV cache.

    ``mode`` is the capture mode; the default, fake tensors on the CPU, runs no weight and
    dispatches attention to the fused kernel a real run uses (meta takes the unfused math path).
    """
    if batch < 1 or prefill < 1 or decode < 0:
        raise DecodeError(
            f"--batch and --prefill must be at least 1 and --decode at least 0 (got {batch}, {prefill}, {decode})"
        )
    name = name or type(model).__name__
    decodes = cache_argument(model) is not None and takes_use_cache(model)
    if decode and not decodes:
        raise DecodeError(
            f"--decode needs a KV cache: {type(model).__name__}.forward takes no cache= or past_key_values= "
            "and use_cache= argument"
        )
    workload = Generation(batch, 0, prefill)
    prefill_analysis = analyze(model, workload, mode=mode, name=name, notes=notes)
    prefill_step = _step_cost(model, prefill_analysis, prefill, workload.cache_sizes[-1])
    prefill_phase = Phase(PREFILL, batch, prefill, (prefill_step,), prefill_step.kv_read_bytes)
    if decode and not prefill_step.kv_read_bytes:
        raise DecodeError(
            f"--decode needs a KV cache: {type(model).__name__} returned none from a forward with use_cache=True "
            "(an encoder?)"
        )
    capture_notes = (
        (
            "captured on fake CPU tensors: no weight ran, and attention dispatched to its fused kernel as a real run's",
        )
        if prefill_analysis.mode == "fake"
        else ()
    )
    if not decode:
        return GenerationAnalysis(name, prefill_analysis, prefill_phase, None, (), capture_notes)
    costs, captured, decode_notes = decode_steps(
        model, batch, prefill, decode, mode=mode, name=name, exhaustive=exhaustive, progress=progress
    )
    decode_phase = Phase(DECODE, batch, decode, tuple(costs), costs[-1].kv_read_bytes)
    return GenerationAnalysis(
        name, prefill_analysis, prefill_phase, decode_phase, tuple(captured), capture_notes + decode_notes
    )


def phase_to_dict(phase: Phase) -> dict[str, Any]:
    """The JSON form of a phase (``phases`` in the report)."""
    total = phase.total
    entry: dict[str, Any] = {
        "name": phase.name,
        "batch": phase.batch,
        "tokens": phase.tokens,
        **{count: getattr(total, count) for count in _COUNTS},
        "kv_cache_bytes": phase.kv_cache_bytes,
        "intensity_flops_per_byte": total.intensity,
    }
    if phase.name == DECODE:
        entry["per_token"] = {
            "first": phase.per_token(phase.steps[0]),
            "last": phase.per_token(phase.steps[-1]),
            "mean": {k: v / len(phase.steps) for k, v in phase.per_token(total).items()},
        }
    return entry
