"""Encoder-decoders (T5, BART, Whisper): encode, prefill and decode against closed forms written out here.

The models are transformers' default configurations (``AutoConfig.for_model``),
saved offline; every expected value is arithmetic on their numbers, with no
netprof code. The conventions:

- a linear layer of ``n`` inputs and ``m`` outputs over ``t`` tokens costs
  ``t * n * m`` multiply-adds and moves ``(t * n + n * m + t * m)`` elements (its
  input, weight and output; ``+ m`` with a bias);
- attention of ``q`` queries over ``k`` keys costs ``2 * q * k * inner``
  (scores, then the weighted sum of values, over all heads);
- a KV cache holds ``2 (K and V) * layers * inner * positions`` elements: the
  self-attention cache the decoder's tokens so far, the cross-attention cache the
  encoder's output positions;
- a pass reads each called module's weights once, an embedding only the rows it gathers.

The convention for what reads what (README, "Encoder-decoders"): a text encoder
reads ``--prefill`` source tokens and the decoder's prefill is its one start
token; Whisper's encoder reads 30 s of audio and ``--prefill`` is the decoder's
prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from netprof.capture import huggingface
from netprof.serving import analyze_generation
from netprof.serving.cache import DecodeError
from netprof.serving.phases import GenerationAnalysis

transformers = pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
pytestmark = pytest.mark.hf

FLOAT32 = 4
PROMPT, STEPS = 8, 4


def _generation(tmp_path: Path, model_type: str, prefill: int = PROMPT) -> GenerationAnalysis:
    transformers.AutoConfig.for_model(model_type).save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    return analyze_generation(model, prefill=prefill, decode=STEPS)


def _linear_bytes(tokens: int, n: int, m: int, bias: bool = False) -> int:
    return (tokens * n + n * m + tokens * m + (m if bias else 0)) * FLOAT32


def _gemm_bytes(analysis) -> int:
    return analysis.categories["gemm"].mem_access_bytes


@dataclass(frozen=True)
class Expected:
    """One pass's closed forms."""

    mult_adds: int
    gemm_bytes: int  # memory access of the linear layers (the gemm category)
    weight_bytes: int
    kv_self: int  # self-attention cache after the pass
    kv_cross: int  # cross-attention cache after the pass


def _check(
    generation: GenerationAnalysis, encode: Expected, prefill: Expected, steps: list[Expected]
) -> None:
    assert [phase.name for phase in generation.phases] == ["encode", "prefill", "decode"]
    passes = [
        (generation.encode, generation.encode_analysis, encode),
        (generation.prefill, generation.prefill_analysis, prefill),
    ]
    for phase, analysis, expected in passes:
        (step,) = phase.steps
        assert step.mult_adds == expected.mult_adds, phase.name
        assert _gemm_bytes(analysis) == expected.gemm_bytes, phase.name
        assert step.weight_bytes == expected.weight_bytes, phase.name
        assert phase.kv_cache_bytes == expected.kv_self + expected.kv_cross, phase.name
        assert phase.cross_kv_cache_bytes == expected.kv_cross, phase.name
        assert analysis.totals.uncounted_ops == 0, phase.name
        # Memory access is the linear layers' and then some: norms, attention, residuals, the cache's copies.
        assert step.mem_access_bytes > expected.gemm_bytes, phase.name
    decode = generation.decode
    assert [s.mult_adds for s in decode.steps] == [e.mult_adds for e in steps]
    assert [s.weight_bytes for s in decode.steps] == [e.weight_bytes for e in steps]
    assert [s.kv_read_bytes for s in decode.steps] == [e.kv_self + e.kv_cross for e in steps]
    assert [s.cross_kv_read_bytes for s in decode.steps] == [e.kv_cross for e in steps]
    assert [s.cross_kv_write_bytes for s in decode.steps] == [0] * STEPS  # computed once, by the prefill
    assert decode.total.mult_adds == sum(e.mult_adds for e in steps)
    assert decode.kv_cache_bytes == steps[-1].kv_self + steps[-1].kv_cross
    assert decode.cross_kv_cache_bytes == steps[-1].kv_cross
    for context, analysis in generation.captured_steps:
        expected = steps[context - decode.steps[0].context]
        assert _gemm_bytes(analysis) == expected.gemm_bytes
        assert analysis.totals.uncounted_ops == 0
    # The per-phase totals are the sums of their passes.
    assert decode.total.mem_access_bytes == sum(s.mem_access_bytes for s in decode.steps)


def test_t5_encodes_the_source_then_decodes_from_its_start_token(tmp_path: Path) -> None:
    # T5's defaults (t5-small): d_model 512, 8 heads of d_kv 64 (inner 512), d_ff 2048 (ReLU), 6 + 6 layers,
    # vocabulary 32128, the LM head tied to the shared embedding; relative position buckets, a table of
    # 32 x 8 in the first layer of each stack, gathered once per (query, key) pair and shared by all layers.
    d, inner, ff, layers, vocab, heads = 512, 8 * 64, 2048, 6, 32128, 8
    source = PROMPT
    generation = _generation(tmp_path, "t5")
    norm = d  # T5's RMS norm: a weight, no bias

    # Encode, 8 tokens: q, k, v, o (d x inner), the attention over 8 x 8, the two FFN matrices.
    encode_ma = layers * (4 * source * d * inner + 2 * source * source * inner + 2 * source * d * ff)
    # 6 x (4 x 8 x 512 x 512 + 2 x 64 x 512 + 2 x 8 x 512 x 2048) = 6 x (8,388,608 + 65,536 + 16,777,216)
    assert encode_ma == 151_388_160
    encode_gemm = layers * (
        4 * _linear_bytes(source, d, inner) + _linear_bytes(source, d, ff) + _linear_bytes(source, ff, d)
    )
    encode_weights = (
        layers * (4 * d * inner + 2 * d * ff + 2 * norm)
        + norm  # the final norm
        + source * d  # the 8 embedding rows gathered
        + source * source * heads  # the relative-position bias gathered: one row of 8 per (query, key)
    ) * FLOAT32
    encode = Expected(encode_ma, encode_gemm, encode_weights, 0, 0)

    def decoder_pass(tokens: int, context: int, cross_kv: bool) -> tuple[int, int, int]:
        """mult_adds, gemm bytes and weight bytes of a decoder pass of ``tokens`` at self context ``context``.

        The cross-attention k and v run over the 8 source positions only in the pass that fills the cache.
        """
        mult_adds = (
            layers
            * (
                4 * tokens * d * inner  # self-attention q, k, v, o
                + 2 * tokens * context * inner  # self-attention over the context
                + 2 * tokens * d * inner  # cross-attention q, o
                + (2 * source * d * inner if cross_kv else 0)  # cross-attention k, v of the encoder output
                + 2 * tokens * source * inner  # cross-attention over the source
                + 2 * tokens * d * ff
            )
            + tokens * d * vocab
        )  # the LM head
        gemm = layers * (
            6 * _linear_bytes(tokens, d, inner)
            + (2 * _linear_bytes(source, d, inner) if cross_kv else 0)
            + _linear_bytes(tokens, d, ff)
            + _linear_bytes(tokens, ff, d)
        ) + _linear_bytes(tokens, d, vocab)
        weights = (
            layers * ((6 + (2 if cross_kv else 0)) * d * inner + 2 * d * ff + 3 * norm)
            + norm
            + tokens * d  # the tokens' embedding rows
            + tokens * context * heads  # relative-position bias rows
            + vocab * d  # the LM head, the shared matrix read whole
        ) * FLOAT32
        return mult_adds, gemm, weights

    def kv(positions: int) -> int:
        return 2 * layers * inner * positions * FLOAT32

    prefill = Expected(*decoder_pass(1, 1, cross_kv=True), kv(1), kv(source))
    assert (
        prefill.mult_adds == 63_690_752
    )  # 6 x (1,048,576 + 1,024 + 524,288 + 4,194,304 + 8,192 + 2,097,152)
    # + 16,449,536
    assert prefill.kv_cross == 196_608  # 2 x 6 x 512 x 8 x 4
    steps = [Expected(*decoder_pass(1, c, cross_kv=False), kv(c), kv(source)) for c in range(2, 2 + STEPS)]
    _check(generation, encode, prefill, steps)
    assert generation.encode.tokens == source and generation.prefill.tokens == 1
    assert steps[-1].kv_self == 122_880  # 2 x 6 x 512 x 5 x 4: the start token and 4 generated ones


@pytest.mark.slow
def test_bart_encodes_the_source_then_decodes_from_its_start_token(tmp_path: Path) -> None:
    # BART's defaults (bart-large): d_model 1024, 16 heads, FFN 4096 (GELU), 12 + 12 layers, vocabulary 50265,
    # learned positions, biases on every projection, layer norms with bias; the LM head tied to the shared
    # embedding (and a final_logits_bias buffer, not a parameter).
    d, ffn, layers, vocab = 1024, 4096, 12, 50265
    source = PROMPT
    generation = _generation(tmp_path, "bart")
    norm = 2 * d
    projection = d * d + d

    encode_ma = layers * (4 * source * d * d + 2 * source * source * d + 2 * source * d * ffn)
    # 12 x (4 x 8 x 1024^2 + 2 x 64 x 1024 + 2 x 8 x 1024 x 4096) = 12 x (33,554,432 + 131,072 + 67,108,864)
    assert encode_ma == 1_209_532_416
    encode_gemm = layers * (
        4 * _linear_bytes(source, d, d, bias=True)
        + _linear_bytes(source, d, ffn, bias=True)
        + _linear_bytes(source, ffn, d, bias=True)
    )
    encode_weights = (
        layers * (4 * projection + (d * ffn + ffn) + (ffn * d + d) + 2 * norm)
        + norm  # layernorm_embedding
        + 2 * source * d  # 8 token rows and 8 position rows
    ) * FLOAT32
    encode = Expected(encode_ma, encode_gemm, encode_weights, 0, 0)

    def decoder_pass(tokens: int, context: int, cross_kv: bool) -> tuple[int, int, int]:
        mult_adds = (
            layers
            * (
                4 * tokens * d * d
                + 2 * tokens * context * d
                + 2 * tokens * d * d
                + (2 * source * d * d if cross_kv else 0)
                + 2 * tokens * source * d
                + 2 * tokens * d * ffn
            )
            + tokens * d * vocab
        )
        gemm = layers * (
            6 * _linear_bytes(tokens, d, d, bias=True)
            + (2 * _linear_bytes(source, d, d, bias=True) if cross_kv else 0)
            + _linear_bytes(tokens, d, ffn, bias=True)
            + _linear_bytes(tokens, ffn, d, bias=True)
        ) + _linear_bytes(tokens, d, vocab)
        weights = (
            layers * ((6 + (2 if cross_kv else 0)) * projection + (d * ffn + ffn) + (ffn * d + d) + 3 * norm)
            + norm
            + 2 * tokens * d
            + vocab * d
        ) * FLOAT32
        return mult_adds, gemm, weights

    def kv(positions: int) -> int:
        return 2 * layers * d * positions * FLOAT32

    prefill = Expected(*decoder_pass(1, 1, cross_kv=True), kv(1), kv(source))
    assert prefill.kv_cross == 786_432  # 2 x 12 x 1024 x 8 x 4
    steps = [Expected(*decoder_pass(1, c, cross_kv=False), kv(c), kv(source)) for c in range(2, 2 + STEPS)]
    _check(generation, encode, prefill, steps)


@pytest.mark.slow
def test_whisper_encodes_30_seconds_of_audio_then_decodes_its_prompt(tmp_path: Path) -> None:
    # Whisper's defaults (whisper-tiny): d_model 384, 6 heads, FFN 1536, 4 + 4 layers, vocabulary 51865,
    # 80 mel bins, 1500 encoder positions (3000 frames halved by a stride-2 convolution); k_proj has no bias.
    d, ffn, layers, vocab, mels, positions, frames = 384, 1536, 4, 51865, 80, 1500, 3000
    prompt = PROMPT  # Whisper's --prefill is the decoder's prompt
    generation = _generation(tmp_path, "whisper", prefill=prompt)
    norm = 2 * d
    projections = 4 * (d * d) + 3 * d  # q, k, v, o; no bias on k

    def attention_linears(tokens: int) -> int:
        return 3 * _linear_bytes(tokens, d, d, bias=True) + _linear_bytes(tokens, d, d)

    convolutions = frames * mels * d * 3 + positions * d * d * 3  # kernel 3; the second at stride 2
    # 3000 x 80 x 384 x 3 + 1500 x 384 x 384 x 3 = 276,480,000 + 663,552,000
    assert convolutions == 940_032_000
    encode_ma = convolutions + layers * (
        4 * positions * d * d + 2 * positions * positions * d + 2 * positions * d * ffn
    )
    encode_gemm = layers * (
        attention_linears(positions)
        + _linear_bytes(positions, d, ffn, bias=True)
        + _linear_bytes(positions, ffn, d, bias=True)
    )
    encode_weights = (
        (mels * d * 3 + d)
        + (d * d * 3 + d)  # the two convolutions
        + positions * d  # every row of the positional table
        + layers * (projections + (d * ffn + ffn) + (ffn * d + d) + 2 * norm)
        + norm  # the final layer norm
    ) * FLOAT32
    encode = Expected(encode_ma, encode_gemm, encode_weights, 0, 0)

    def decoder_pass(tokens: int, context: int, cross_kv: bool) -> tuple[int, int, int]:
        cross = 2 * positions * d * d if cross_kv else 0
        mult_adds = (
            layers
            * (
                4 * tokens * d * d
                + 2 * tokens * context * d
                + 2 * tokens * d * d
                + cross
                + 2 * tokens * positions * d
                + 2 * tokens * d * ffn
            )
            + tokens * d * vocab
        )
        cross_gemm = (
            (_linear_bytes(positions, d, d) + _linear_bytes(positions, d, d, bias=True)) if cross_kv else 0
        )
        gemm = layers * (
            attention_linears(tokens)
            + _linear_bytes(tokens, d, d, bias=True)  # cross-attention q
            + _linear_bytes(tokens, d, d, bias=True)  # cross-attention o
            + cross_gemm
            + _linear_bytes(tokens, d, ffn, bias=True)
            + _linear_bytes(tokens, ffn, d, bias=True)
        ) + _linear_bytes(tokens, d, vocab)
        cross_weights = projections if cross_kv else 2 * (d * d + d)  # a step reads the cross q and o only
        weights = (
            layers * (projections + cross_weights + (d * ffn + ffn) + (ffn * d + d) + 3 * norm)
            + norm
            + 2 * tokens * d  # token and position rows
            + vocab * d
        ) * FLOAT32
        return mult_adds, gemm, weights

    def kv(count: int) -> int:
        return 2 * layers * d * count * FLOAT32

    prefill = Expected(*decoder_pass(prompt, prompt, cross_kv=True), kv(prompt), kv(positions))
    assert prefill.kv_cross == 18_432_000  # 2 x 4 x 384 x 1500 x 4
    steps = [
        Expected(*decoder_pass(1, c, cross_kv=False), kv(c), kv(positions))
        for c in range(prompt + 1, prompt + 1 + STEPS)
    ]
    _check(generation, encode, prefill, steps)
    assert generation.encode.tokens == positions and generation.prefill.tokens == prompt
    assert tuple(generation.encode_analysis.inputs[0].shape) == (1, mels, frames)


def test_a_whisper_prompt_past_the_decoder_positions_is_refused(tmp_path: Path) -> None:
    transformers.AutoConfig.for_model("whisper").save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    with pytest.raises(
        DecodeError, match="decoder has 448 positions: a 440-token prompt and 9 decode steps need 449"
    ):
        analyze_generation(model, prefill=440, decode=9)


def test_encoder_decoders_build_with_their_language_model_heads(tmp_path: Path) -> None:
    # Not T5Model, BartModel, WhisperModel (AutoModel's choice): those have no head to decode with.
    built = {
        "t5": "T5ForConditionalGeneration (AutoModelForSeq2SeqLM)",
        "bart": "BartForConditionalGeneration (AutoModelForSeq2SeqLM)",
        "whisper": "WhisperForConditionalGeneration (AutoModelForSpeechSeq2Seq)",
    }
    for model_type, expected in built.items():
        transformers.AutoConfig.for_model(model_type).save_pretrained(tmp_path / model_type)
        _, _, notes = huggingface.build(str(tmp_path / model_type))
        assert notes[0].startswith(f"built {expected} from")
