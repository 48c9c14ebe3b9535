"""Prefill and decode, counted: per phase totals, and per decode step as the context grows.

A decode step at context ``c`` runs the same ops as any other step, with the
attention over ``c`` cached tokens: every count is affine in ``c``. So D steps
cost three captures, not D: the first step, the last and one in the middle. The
first and last fix the line and the middle one checks it, exactly, in integers;
a model whose step is not affine (a sliding window reached mid-way) is captured
step by step, and the notes say so.

An encoder-decoder (T5, BART, Whisper) adds a third phase before the two:
``encode``, its encoder's one pass over the source. The decoder's prefill and
decode steps then read two caches: their own self-attention cache, and the
cross-attention cache (the encoder output's keys and values, one per decoder
layer) that the prefill computes and every decode step reads whole. Both are in
the KV-cache counts; the cross-attention part is also given on its own.

Which input is which: a text encoder (T5, BART) reads ``prefill`` source tokens
and the decoder's prefill is its one start token (``decoder_start_token_id``, as
``generate`` begins); Whisper's encoder always reads 30 s of audio (``num_mel_bins``
x 3000 frames, whatever the speech's length), so ``prefill`` is the length of the
decoder's prompt (the start of transcript, language, task and no-timestamps
tokens make 4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from netprof.analysis import Analysis, analyze
from netprof.capture.workload import Workload
from netprof.serving.cache import DecodeError, cache_argument, is_encoder_decoder, takes_use_cache
from netprof.serving.workloads import DecoderPass, Encode, Generation, Source, source_of

ENCODE, PREFILL, DECODE = "encode", "prefill", "decode"
# The decoder prompt of a Whisper-like model (audio in) given no --prefill: start of transcript, language,
# task, no timestamps.
AUDIO_PROMPT = 4


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
    # The cross-attention part of the two above (an encoder-decoder's; 0 for a decoder-only model).
    cross_kv_read_bytes: int = 0
    cross_kv_write_bytes: int = 0

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
    """Encode and prefill (one pass each) or decode (one pass per new token)."""

    name: str
    batch: int
    tokens: int  # new tokens per sequence (encode: the positions of the encoder's output)
    steps: tuple[StepCost, ...]  # one per pass
    kv_cache_bytes: int  # the cache's size at the end of the phase
    # Of which cross-attention (an encoder-decoder's); None for a model without cross-attention.
    cross_kv_cache_bytes: int | None = None

    @property
    def total(self) -> StepCost:
        total = self.steps[0]
        for step in self.steps[1:]:
            total = total + step
        return total

    def per_token(self, step: StepCost) -> dict[str, float]:
        """A pass's counts per generated token (a decode pass makes one token per sequence)."""
        count = self.batch * (1 if self.name == DECODE else self.tokens)
        return {name: getattr(step, name) / count for name in _COUNTS}


_COUNTS = ("mult_adds", "flops", "mem_access_bytes", "weight_bytes", "kv_read_bytes", "kv_write_bytes")


@dataclass(frozen=True)
class GenerationAnalysis:
    """What ``analyze_generation`` found: the prefill's full analysis, the phases, and the decode
    steps that were captured (with their analyses, for predictions per step); for an encoder-decoder,
    also its encoder's pass."""

    model: str
    prefill_analysis: Analysis
    prefill: Phase
    decode: Phase | None
    captured_steps: tuple[tuple[int, Analysis], ...]  # (context, analysis) of each captured decode step
    notes: tuple[str, ...]
    encode: Phase | None = None
    encode_analysis: Analysis | None = None

    @property
    def phases(self) -> tuple[Phase, ...]:
        phases = (self.prefill,) if self.decode is None else (self.prefill, self.decode)
        return phases if self.encode is None else (self.encode, *phases)


def weight_bytes(model: nn.Module, analysis: Analysis) -> int:
    """Bytes of parameters one pass reads: each called module's own parameters, once per call.

    An embedding reads only the rows it gathers (its output, by ``embedding`` or, as
    Whisper's decoder positions, by indexing its weight); a mixture-of-experts
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
        if op.op.startswith(("aten.embedding", "aten.index.", "aten.index_select")):
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


def _step_cost(model: nn.Module, analysis: Analysis, context: int, sizes: tuple[int, ...]) -> StepCost:
    """``sizes``: the cache's bytes before and after the pass; an encoder-decoder's, its self-attention
    cache's before and after, then its cross-attention cache's."""
    before, after, cross_before, cross_after = (*sizes, 0, 0) if len(sizes) == 2 else sizes
    return StepCost(
        context=context,
        mult_adds=analysis.totals.mult_adds,
        flops=analysis.totals.flops,
        mem_access_bytes=analysis.totals.mem_access_bytes,
        weight_bytes=weight_bytes(model, analysis),
        kv_read_bytes=after + cross_after,
        kv_write_bytes=after - before + cross_after - cross_before,
        cross_kv_read_bytes=cross_after,
        cross_kv_write_bytes=cross_after - cross_before,
    )


def _pass_workload(batch: int, past: int, tokens: int, source: Source | None) -> Workload:
    return Generation(batch, past, tokens) if source is None else DecoderPass(source, past, tokens)


def _capture_pass(
    model: nn.Module,
    batch: int,
    past: int,
    tokens: int,
    mode: str,
    name: str,
    source: Source | None = None,
    notes: tuple[str, ...] = (),
) -> tuple[Analysis, StepCost]:
    workload = _pass_workload(batch, past, tokens, source)
    analysis = analyze(model, workload, mode=mode, name=name, notes=notes)
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
    source: Source | None = None,
) -> tuple[list[StepCost], list[tuple[int, Analysis]], tuple[str, ...]]:
    """The cost of each of ``steps`` decode steps after a ``prompt``-token prefill.

    Captures the first, middle and last steps and fills the others in on the line
    they make; ``exhaustive`` (or a middle step off the line) captures every step.
    With ``source``, the model is an encoder-decoder and its decoder attends to that
    encoder input's output (the cross-attention cache, the same at every step).
    """
    contexts = [prompt + k for k in range(1, steps + 1)]
    captured: dict[int, tuple[Analysis, StepCost]] = {}

    def at(context: int) -> StepCost:
        if context not in captured:
            captured[context] = _capture_pass(model, batch, context - 1, 1, mode, name, source)
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
    if is_encoder_decoder(model):
        return _analyze_encoder_decoder(
            model, batch, prefill, decode, mode, name, notes, exhaustive, progress
        )
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
    capture_notes = _capture_notes(prefill_analysis)
    if not decode:
        return GenerationAnalysis(name, prefill_analysis, prefill_phase, None, (), capture_notes)
    costs, captured, decode_notes = decode_steps(
        model, batch, prefill, decode, mode=mode, name=name, exhaustive=exhaustive, progress=progress
    )
    decode_phase = Phase(DECODE, batch, decode, tuple(costs), costs[-1].kv_read_bytes)
    return GenerationAnalysis(
        name, prefill_analysis, prefill_phase, decode_phase, tuple(captured), capture_notes + decode_notes
    )


def _capture_notes(analysis: Analysis) -> tuple[str, ...]:
    if analysis.mode != "fake":
        return ()
    return (
        "captured on fake CPU tensors: no weight ran, and attention dispatched to its fused kernel as a real run's",
    )


def _analyze_encoder_decoder(
    model: nn.Module,
    batch: int,
    prefill: int,
    decode: int,
    mode: str,
    name: str,
    notes: tuple[str, ...],
    exhaustive: bool,
    progress: Callable[[Iterable[int]], Iterable[int]],
) -> GenerationAnalysis:
    """The encoder's pass, then the decoder's prefill and decode steps, attending to the encoder's output."""
    source = source_of(model, batch, prefill)
    text = source.argument == "input_ids"
    prompt = 1 if text else prefill
    _check_positions(model, source, prompt, decode)
    encode_analysis = analyze(model, Encode(source), mode=mode, name=name)
    encode_step = _step_cost(model, encode_analysis, source.positions, (0, 0, 0, 0))
    encode_phase = Phase(ENCODE, batch, source.positions, (encode_step,), 0, 0)
    prefill_analysis, prefill_step = _capture_pass(model, batch, 0, prompt, mode, name, source, notes)
    prefill_phase = Phase(
        PREFILL, batch, prompt, (prefill_step,), prefill_step.kv_read_bytes, prefill_step.cross_kv_read_bytes
    )
    if decode and not prefill_step.kv_read_bytes:
        raise DecodeError(
            f"--decode needs a KV cache: {type(model).__name__}'s decoder returned none from a forward with "
            "use_cache=True"
        )
    first = "its start token (decoder_start_token_id)" if text else f"a {prompt}-token prompt"
    line = (
        f"encoder-decoder: encode is the encoder's one pass over {source.describe()}; the decoder's prefill is "
        f"{first}, and it computes the cross-attention cache of the {source.positions:,} encoder positions "
        "that every decode step reads"
    )
    capture_notes = (*_capture_notes(prefill_analysis), line)
    if not decode:
        return GenerationAnalysis(
            name, prefill_analysis, prefill_phase, None, (), capture_notes, encode_phase, encode_analysis
        )
    costs, captured, decode_notes = decode_steps(
        model,
        batch,
        prompt,
        decode,
        mode=mode,
        name=name,
        exhaustive=exhaustive,
        progress=progress,
        source=source,
    )
    last = costs[-1]
    decode_phase = Phase(DECODE, batch, decode, tuple(costs), last.kv_read_bytes, last.cross_kv_read_bytes)
    return GenerationAnalysis(
        name,
        prefill_analysis,
        prefill_phase,
        decode_phase,
        tuple(captured),
        capture_notes + decode_notes,
        encode_phase,
        encode_analysis,
    )


def default_prefill(model: nn.Module, fallback: int) -> int:
    """``--prefill`` when none is given: a Whisper-like model's 4-token decoder prompt, else ``fallback``."""
    if (
        is_encoder_decoder(model)
        and getattr(model.get_encoder(), "main_input_name", "input_ids") != "input_ids"
    ):
        return AUDIO_PROMPT
    return fallback


def _check_positions(model: nn.Module, source: Source, prompt: int, decode: int) -> None:
    """Refuse sequences longer than a learned position table (BART's 1024, Whisper's decoder's 448)."""
    config = model.config
    decoder = getattr(config, "max_target_positions", None) or getattr(
        config, "max_position_embeddings", None
    )
    if decoder and prompt + decode > decoder:
        raise DecodeError(
            f"{type(model).__name__}'s decoder has {decoder:,} positions: a {prompt:,}-token prompt and "
            f"{decode:,} decode steps need {prompt + decode:,}"
        )
    encoder = getattr(config, "max_position_embeddings", None)
    if source.argument == "input_ids" and encoder and source.positions > encoder:
        raise DecodeError(
            f"{type(model).__name__}'s encoder has {encoder:,} positions: --prefill {source.positions:,} "
            "source tokens do not fit"
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
    if phase.cross_kv_cache_bytes is not None:
        entry["self_kv_cache_bytes"] = phase.kv_cache_bytes - phase.cross_kv_cache_bytes
        entry["cross_kv_cache_bytes"] = phase.cross_kv_cache_bytes
        entry["cross_kv_read_bytes"] = total.cross_kv_read_bytes
        entry["cross_kv_write_bytes"] = total.cross_kv_write_bytes
    if phase.name == DECODE:
        entry["per_token"] = {
            "first": phase.per_token(phase.steps[0]),
            "last": phase.per_token(phase.steps[-1]),
            "mean": {k: v / len(phase.steps) for k, v in phase.per_token(total).items()},
        }
    return entry
