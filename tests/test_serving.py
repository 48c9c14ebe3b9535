"""Prefill and decode counts against closed forms written out here, for five transformer families.

Every expected value is arithmetic on the configuration, with no netprof code:
a linear layer of ``n`` inputs and ``m`` outputs costs ``tokens * n * m``
multiply-adds; attention costs ``2 * tokens * context * hidden`` (scores, then the
weighted sum of values, over all heads); a KV cache holds ``2 * layers * kv_heads
* head_dim * tokens`` elements (REFERENCE.md, "Transformer serving and memory anchors").
The models are built from configs saved offline by transformers' config classes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_prediction import hand_profile
from torch import nn

from netprof import pipeline
from netprof.capture import huggingface
from netprof.capture.loader import resolve
from netprof.prediction import predict as predict_latency
from netprof.serving import Roofline, analyze_generation, predict_generation
from netprof.serving.cache import DecodeError
from netprof.serving.phases import decode_steps

transformers = pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
pytestmark = pytest.mark.hf

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 128, 64, 2, 4, 2, 176
HEAD_DIM = HIDDEN // HEADS
KV_DIM = KV_HEADS * HEAD_DIM
FLOAT32 = 4
PROMPT, STEPS = 12, 5


def _build(tmp_path: Path, config) -> nn.Module:
    config.save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    return model


def _llama(tmp_path: Path) -> nn.Module:
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        intermediate_size=FFN,
        architectures=["LlamaForCausalLM"],
    )
    return _build(tmp_path, config)


def _llama_mult_adds(tokens: int, context: int) -> int:
    """Grouped-query attention (q and o: H x H; k and v: H x kv_heads * head_dim), SwiGLU, untied head."""
    projections = tokens * (2 * HIDDEN * HIDDEN + 2 * HIDDEN * KV_DIM)
    attention = 2 * tokens * context * HIDDEN
    feed_forward = tokens * 3 * HIDDEN * FFN
    return LAYERS * (projections + attention + feed_forward) + tokens * HIDDEN * VOCAB


def _kv_bytes(context: int, kv_dim: int = KV_DIM, itemsize: int = FLOAT32) -> int:
    return 2 * LAYERS * kv_dim * context * itemsize


def test_llama_grouped_query_attention_prefill_and_every_decode_step(tmp_path: Path) -> None:
    generation = analyze_generation(_llama(tmp_path), prefill=PROMPT, decode=STEPS)
    assert generation.prefill.total.mult_adds == _llama_mult_adds(PROMPT, PROMPT)
    assert generation.prefill.kv_cache_bytes == _kv_bytes(PROMPT)
    for k, step in enumerate(generation.decode.steps, start=1):
        context = PROMPT + k
        assert step.context == context
        assert step.mult_adds == _llama_mult_adds(1, context)
        assert step.kv_read_bytes == _kv_bytes(context)
        assert step.kv_write_bytes == _kv_bytes(1)
    assert generation.decode.kv_cache_bytes == _kv_bytes(PROMPT + STEPS)
    assert generation.decode.total.mult_adds == sum(
        _llama_mult_adds(1, PROMPT + k) for k in range(1, STEPS + 1)
    )


def test_decode_weights_read_are_every_weight_once_and_one_embedding_row(tmp_path: Path) -> None:
    model = _llama(tmp_path)
    generation = analyze_generation(model, prefill=PROMPT, decode=STEPS)
    embedding = VOCAB * HIDDEN * FLOAT32
    all_weights = sum(p.numel() for p in model.parameters()) * FLOAT32
    for step in generation.decode.steps:
        assert step.weight_bytes == all_weights - embedding + HIDDEN * FLOAT32
    assert generation.prefill.total.weight_bytes == all_weights - embedding + PROMPT * HIDDEN * FLOAT32


def test_the_three_capture_shortcut_equals_a_step_by_step_capture(tmp_path: Path) -> None:
    model = _llama(tmp_path)
    shortcut, captured, notes = decode_steps(model, 2, PROMPT, 7)
    exhaustive, every, _ = decode_steps(model, 2, PROMPT, 7, exhaustive=True)
    assert shortcut == exhaustive
    assert len(captured) == 3 and len(every) == 7
    assert "captured" in notes[0]


class _QuadraticDecoder(nn.Module):
    """A toy with a cache whose step costs context squared: the shortcut's line check must catch it."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(8, 4)

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        x = self.embed(input_ids)
        cache = torch.cat([past_key_values, x], dim=1) if past_key_values is not None else x
        pairs = cache.transpose(1, 2) @ cache  # [batch, 4, 4]: affine in the context
        square = cache @ cache.transpose(1, 2)  # [batch, context, context]: quadratic
        out = square.sum() + pairs.sum()
        return _Output(out, cache if use_cache else None)


class _Output:
    def __init__(self, logits, cache) -> None:
        self.logits, self.past_key_values = logits, cache


def test_a_step_cost_off_the_line_is_captured_step_by_step() -> None:
    costs, captured, notes = decode_steps(_QuadraticDecoder(), 1, 3, 5)
    assert len(captured) == 5
    assert "not affine" in notes[0]
    # context c: the square costs c * c * 4, the pairs 4 * 4 * c.
    assert [step.mult_adds for step in costs] == [c * c * 4 + 16 * c for c in range(4, 9)]


def test_gpt2_tied_embeddings_counted_in_params_once_and_read_by_the_head(tmp_path: Path) -> None:
    positions = 64
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_positions=positions,
        architectures=["GPT2LMHeadModel"],
    )  # fmt: skip
    model = _build(tmp_path, config)
    generation = analyze_generation(model, prefill=PROMPT, decode=STEPS)

    def mult_adds(tokens: int, context: int) -> int:
        layer = (
            tokens * (HIDDEN * 3 * HIDDEN + HIDDEN * HIDDEN + 2 * HIDDEN * 4 * HIDDEN)
            + 2 * tokens * context * HIDDEN
        )
        return LAYERS * layer + tokens * HIDDEN * VOCAB

    assert generation.prefill.total.mult_adds == mult_adds(PROMPT, PROMPT)
    assert [s.mult_adds for s in generation.decode.steps] == [
        mult_adds(1, PROMPT + k) for k in range(1, STEPS + 1)
    ]
    # Per layer: two layer norms, c_attn, c_proj, c_fc, c_proj with biases; then ln_f; wte tied to lm_head.
    layer = 2 * 2 * HIDDEN + (3 * HIDDEN * HIDDEN + 3 * HIDDEN) + (HIDDEN * HIDDEN + HIDDEN)
    layer += (4 * HIDDEN * HIDDEN + 4 * HIDDEN) + (4 * HIDDEN * HIDDEN + HIDDEN)
    params = VOCAB * HIDDEN + positions * HIDDEN + LAYERS * layer + 2 * HIDDEN
    assert generation.prefill_analysis.params == params
    # A decode step reads every layer weight, one row of each embedding, and the tied matrix again as the head.
    tables = (VOCAB + positions) * HIDDEN
    expected = (params - tables) * FLOAT32 + 2 * HIDDEN * FLOAT32 + VOCAB * HIDDEN * FLOAT32
    assert generation.decode.steps[0].weight_bytes == expected
    assert generation.decode.kv_cache_bytes == _kv_bytes(PROMPT + STEPS, kv_dim=HIDDEN)


def test_projection_biases_are_parameters_not_multiply_adds(tmp_path: Path) -> None:
    config = transformers.Qwen2Config(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS, intermediate_size=FFN, tie_word_embeddings=False,
        architectures=["Qwen2ForCausalLM"],
    )  # fmt: skip
    generation = analyze_generation(_build(tmp_path, config), prefill=PROMPT, decode=STEPS)
    assert generation.prefill.total.mult_adds == _llama_mult_adds(PROMPT, PROMPT)
    assert [s.mult_adds for s in generation.decode.steps] == [
        _llama_mult_adds(1, PROMPT + k) for k in range(1, 6)
    ]
    # q, k and v carry biases (H + 2 * kv_dim per layer); o and the MLP none; two RMSNorms per layer, one final.
    layer = 2 * HIDDEN * HIDDEN + 2 * HIDDEN * KV_DIM + HIDDEN + 2 * KV_DIM + 3 * HIDDEN * FFN + 2 * HIDDEN
    assert generation.prefill_analysis.params == 2 * VOCAB * HIDDEN + LAYERS * layer + HIDDEN


def test_bert_is_an_encoder_counted_as_one_pass_and_refuses_decode(tmp_path: Path) -> None:
    ffn = 128
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=ffn, architectures=["BertModel"],
    )  # fmt: skip
    model = _build(tmp_path, config)
    assert type(model).__name__ == "BertModel"
    generation = analyze_generation(model, batch=2, prefill=PROMPT)
    tokens = 2 * PROMPT
    layer = tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * ffn) + 2 * tokens * PROMPT * HIDDEN
    pooler = 2 * HIDDEN * HIDDEN  # the first token of each sequence
    assert generation.prefill.total.mult_adds == LAYERS * layer + pooler
    assert generation.decode is None and generation.prefill.kv_cache_bytes == 0
    with pytest.raises(DecodeError, match="--decode needs a KV cache"):
        analyze_generation(model, prefill=PROMPT, decode=2)


def test_mixture_of_experts_counts_top_k_of_the_experts_per_token(tmp_path: Path) -> None:
    experts, top_k = 4, 2
    config = transformers.MixtralConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS, intermediate_size=FFN, num_local_experts=experts,
        num_experts_per_tok=top_k, architectures=["MixtralForCausalLM"],
    )  # fmt: skip
    model = _build(tmp_path, config)

    def mult_adds(tokens: int, context: int) -> int:
        attention = tokens * (2 * HIDDEN * HIDDEN + 2 * HIDDEN * KV_DIM) + 2 * tokens * context * HIDDEN
        router = tokens * HIDDEN * experts
        routed = tokens * top_k * 3 * HIDDEN * FFN  # never all experts
        return LAYERS * (attention + router + routed) + tokens * HIDDEN * VOCAB

    generation = analyze_generation(model, prefill=PROMPT, decode=STEPS)
    assert generation.prefill.total.mult_adds == mult_adds(PROMPT, PROMPT)
    assert [s.mult_adds for s in generation.decode.steps] == [mult_adds(1, PROMPT + k) for k in range(1, 6)]
    # One decode token reads the weights of its top-k experts only; a 12-token prompt (24 rows) all four.
    expert_bytes = 3 * HIDDEN * FFN * FLOAT32
    others = (
        sum(p.numel() for p in model.parameters()) - VOCAB * HIDDEN
    ) * FLOAT32 - LAYERS * experts * expert_bytes
    assert (
        generation.decode.steps[0].weight_bytes == others + LAYERS * top_k * expert_bytes + HIDDEN * FLOAT32
    )
    assert (
        generation.prefill.total.weight_bytes
        == others + LAYERS * experts * expert_bytes + PROMPT * HIDDEN * FLOAT32
    )


def test_even_groups_spread_rows_over_at_most_every_expert() -> None:
    assert huggingface.even_groups(7, 4) == [(3, 2), (1, 1)]
    assert huggingface.even_groups(2, 8) == [(2, 1)]
    assert huggingface.even_groups(8, 4) == [(4, 2)]


def test_an_attention_mask_on_meta_is_captured_on_fake_tensors(tmp_path: Path) -> None:
    model = _llama(tmp_path)
    ids = torch.zeros(1, PROMPT, dtype=torch.long)
    analysis = pipeline.analyze(model, pipeline.Forward((ids,), {"attention_mask": torch.ones_like(ids)}))
    assert analysis.mode == "fake"
    assert any("item()" in note for note in analysis.notes)
    assert analysis.totals.mult_adds == _llama_mult_adds(PROMPT, PROMPT)


def test_the_roofline_prediction_labels_prefill_compute_bound_and_decode_memory_bound(tmp_path: Path) -> None:
    generation = analyze_generation(_llama(tmp_path), batch=1, prefill=PROMPT, decode=STEPS)
    # Prefill does 12 tokens per weight read, decode one: 2,515,488 flops on 927,872 bytes (2.7 flop/byte)
    # against 1,055,920 on 2,490,120 (0.42). A ridge of 1 flop/byte between them splits the phases.
    prefill, decode = generation.prefill.total, generation.decode.total
    assert decode.flops / decode.mem_access_bytes < 1 < prefill.flops / prefill.mem_access_bytes
    between = predict_generation(generation, Roofline(peak_flops=1e9, bandwidth=1e9))
    assert [phase.bound for phase in between.phases] == ["compute", "memory"]
    # A bandwidth so high that only compute binds, then one so low that only memory does.
    fast_memory = predict_generation(generation, Roofline(peak_flops=1e9, bandwidth=1e15))
    assert [phase.bound for phase in fast_memory.phases] == ["compute", "compute"]
    assert fast_memory.time_to_first_token_s == pytest.approx(generation.prefill.total.flops / 1e9)
    slow_memory = predict_generation(generation, Roofline(peak_flops=1e15, bandwidth=1e6))
    assert [phase.bound for phase in slow_memory.phases] == ["memory", "memory"]
    assert slow_memory.time_per_output_token_s == pytest.approx(
        generation.decode.total.mem_access_bytes / 1e6 / STEPS, rel=1e-9
    )
    assert slow_memory.tokens_per_s == pytest.approx(1 / slow_memory.time_per_output_token_s)


def test_the_example_llama_decodes_with_its_own_cache() -> None:
    example = resolve(f"{Path(__file__).parent.parent / 'examples' / 'llama.py'}:llama_tiny").__globals__
    config = example["LLAMA_TINY"]
    with torch.device("meta"):
        model, _ = example["llama_tiny"]()
    generation = analyze_generation(model, prefill=PROMPT, decode=STEPS)
    kv_dim = config.n_kv_heads * config.head_dim

    def mult_adds(tokens: int, context: int) -> int:
        layer = tokens * (
            2 * config.hidden**2 + 2 * config.hidden * kv_dim + 3 * config.hidden * config.ffn_hidden
        )
        layer += 2 * tokens * context * config.hidden
        return config.n_layers * layer + tokens * config.hidden * config.vocab_size

    assert [s.mult_adds for s in generation.decode.steps] == [mult_adds(1, PROMPT + k) for k in range(1, 6)]
    assert generation.decode.kv_cache_bytes == 2 * config.n_layers * kv_dim * (PROMPT + STEPS) * FLOAT32


def test_a_device_profile_times_each_phase_as_the_sum_of_its_predicted_passes(tmp_path: Path) -> None:
    generation = analyze_generation(_llama(tmp_path), prefill=PROMPT, decode=STEPS)
    profile = hand_profile()
    prediction = predict_generation(generation, profile)
    assert prediction.time_to_first_token_s == predict_latency(generation.prefill_analysis, profile).latency_s
    captured = dict(generation.captured_steps)
    first, last = PROMPT + 1, PROMPT + STEPS
    decode = prediction.phases[1]
    assert decode.per_step_s[0] == predict_latency(captured[first], profile).latency_s
    assert decode.per_step_s[-1] == predict_latency(captured[last], profile).latency_s
    assert decode.seconds == pytest.approx(sum(decode.per_step_s))
    assert prediction.device.startswith("profile ")


def test_a_vision_transformer_config_gets_pixels_of_its_image_size(tmp_path: Path) -> None:
    config = transformers.ViTConfig(
        hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=HEADS, intermediate_size=128, image_size=32,
        patch_size=8, num_channels=3, architectures=["ViTModel"],
    )  # fmt: skip
    config.save_pretrained(tmp_path)
    assert not huggingface.takes_token_ids(f"hf:{tmp_path}")
    loaded, result = pipeline.load_and_run(pipeline.RunRequest(f"hf:{tmp_path}"))
    assert tuple(loaded.inputs[0].shape) == (1, 3, 32, 32)
    patches = (32 // 8) ** 2
    tokens = patches + 1  # and the class token
    embed = patches * 3 * 8 * 8 * HIDDEN
    layer = tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * 128) + 2 * tokens * tokens * HIDDEN
    pooler = HIDDEN * HIDDEN
    assert result.analysis.totals.mult_adds == embed + layer + pooler


def test_a_builder_returning_args_and_kwargs_passes_the_keywords(tmp_path: Path) -> None:
    source = tmp_path / "masked.py"
    source.write_text(
        "import torch\n"
        "from torch import nn\n"
        "class Scaled(nn.Module):\n"
        "    def forward(self, x, *, scale):\n"
        "        return x @ x.T * scale\n"
        "def build():\n"
        "    return Scaled(), (torch.ones(3, 5),), {'scale': torch.tensor(2.0)}\n"
    )
    loaded, result = pipeline.load_and_run(pipeline.RunRequest(f"{source}:build"))
    assert set(loaded.kwargs) == {"scale"}
    assert result.analysis.totals.mult_adds == 3 * 5 * 3
