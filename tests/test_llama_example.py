"""The Llama example: its parameter and multiply-add counts match closed forms,
and decoding with its key-value cache gives the logits of a full forward.

The closed forms are written here from the architecture, not read from netprof
or from the model, so they are an independent check of both.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import netprof

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "llama.py"


@pytest.fixture(scope="module")
def llama():
    spec = importlib.util.spec_from_file_location("netprof_example_llama", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is made.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def closed_form_params(c) -> int:
    kv_dim = c.hidden * c.n_kv_heads // c.n_heads
    attention = 2 * c.hidden * c.hidden + 2 * c.hidden * kv_dim  # q, o; k, v
    feed_forward = 3 * c.hidden * c.ffn_hidden  # gate, up, down
    norms = 2 * c.hidden
    per_layer = attention + feed_forward + norms
    # Embedding and the untied LM head, plus the final norm.
    return c.n_layers * per_layer + 2 * c.vocab_size * c.hidden + c.hidden


def closed_form_mult_adds(c) -> int:
    tokens = c.batch * c.seq_len
    kv_dim = c.hidden * c.n_kv_heads // c.n_heads
    projections = 2 * c.hidden * c.hidden + 2 * c.hidden * kv_dim
    feed_forward = 3 * c.hidden * c.ffn_hidden
    # Q @ K^T and P @ V: each token's query meets all seq_len keys in every head
    # (the causal mask is counted in full): 2 * seq_len * head_dim * n_heads.
    attention = 2 * c.seq_len * c.hidden
    per_token = c.n_layers * (projections + feed_forward + attention) + c.hidden * c.vocab_size
    # Embedding lookup, norms, rotary and residual adds: no multiply-adds.
    return tokens * per_token


def test_tiny_params_match_closed_form(llama):
    model, _ = llama.llama_tiny()
    c = llama.LLAMA_TINY
    # per layer: 2*64*64 + 2*64*32 + 3*64*176 + 2*64 = 8192 + 4096 + 33792 + 128 = 46208
    # 2 * 46208 + 2*128*64 + 64 = 92416 + 16384 + 64 = 108864
    assert closed_form_params(c) == 108_864
    assert sum(p.numel() for p in model.parameters()) == 108_864


def test_tiny_mult_adds_match_closed_form_in_meta_and_real(llama):
    model, tokens = llama.llama_tiny()
    c = llama.LLAMA_TINY
    # per token per layer: 2*64*64 + 2*64*32 + 3*64*176 + 2*16*64 = 8192 + 4096 + 33792 + 2048 = 48128
    # 16 tokens * (2 * 48128 + 64*128) = 16 * (96256 + 8192) = 1671168
    assert closed_form_mult_adds(c) == 1_671_168
    analyses = {mode: netprof.analyze(model, tokens, mode=mode) for mode in ("meta", "real")}
    for mode, analysis in analyses.items():
        assert analysis.mode == mode
        assert analysis.uncounted == {}, f"{mode}: uncounted ops {analysis.uncounted}"
        assert analysis.totals.mult_adds == 1_671_168, mode
        assert analysis.params == 108_864
    assert analyses["meta"].totals.mult_adds == analyses["real"].totals.mult_adds


def test_tiny_runs_when_built_on_meta(llama):
    with torch.device("meta"):
        model, tokens = llama.llama_tiny()
    assert tokens.is_meta and all(p.is_meta for p in model.parameters())
    analysis = netprof.analyze(model, tokens, mode="auto")
    assert analysis.mode == "meta"
    assert analysis.totals.mult_adds == 1_671_168


def test_70b_params_and_mult_adds_on_meta(llama):
    with torch.device("meta"):
        model, tokens = llama.llama70b()
    c = llama.LLAMA2_70B
    # per layer: 2*8192^2 + 2*8192*1024 + 3*8192*28672 + 2*8192 = 855,654,400
    # 80 * 855,654,400 + 2*32000*8192 + 8192 = 68,452,352,000 + 524,288,000 + 8192
    assert closed_form_params(c) == 68_976_648_192
    assert sum(p.numel() for p in model.parameters()) == 68_976_648_192
    assert tokens.is_meta and tokens.shape == (1, 4096) and tokens.dtype == torch.int64
    # per token per layer: projections 2*8192^2 + 2*8192*1024 = 150,994,944; feed-forward
    # 3*8192*28672 = 704,643,072; attention 2*4096*8192 = 67,108,864; together 922,746,880
    # per token: 80 * 922,746,880 + 8192*32000 = 73,819,750,400 + 262,144,000 = 74,081,894,400
    # 4096 tokens: 4096 * 74,081,894,400 = 303,439,439,462,400
    assert closed_form_mult_adds(c) == 303_439_439_462_400
    analysis = netprof.analyze(model, tokens)
    assert analysis.mode == "meta"
    assert analysis.uncounted == {}
    assert analysis.params == 68_976_648_192
    assert analysis.totals.mult_adds == 303_439_439_462_400
    # Q @ K^T and P @ V alone: 4096 tokens * 80 layers * 67,108,864 = 21,990,232,555,520
    assert analysis.categories["attention"].mult_adds == 21_990_232_555_520


@pytest.fixture
def tiny(llama):
    torch.manual_seed(0)
    model = llama.Llama(llama.LLAMA_TINY).eval()
    tokens = torch.randint(llama.LLAMA_TINY.vocab_size, (2, 12))
    return model, tokens


def test_forward_without_cache_returns_logits_only(llama, tiny):
    model, tokens = tiny
    with torch.no_grad():
        out = model(tokens)
    assert isinstance(out, llama.CausalLMOutput)
    assert out.logits.shape == (2, 12, llama.LLAMA_TINY.vocab_size)
    assert out.past_key_values is None


def test_prefill_then_single_token_decode_matches_full_forward(llama, tiny):
    model, tokens = tiny
    c = llama.LLAMA_TINY
    with torch.no_grad():
        full = model(tokens).logits
        out = model(tokens[:, :8], use_cache=True)
        cache = out.past_key_values
        steps = [out.logits]
        assert isinstance(cache, llama.KVCache)
        assert cache.get_seq_length() == 8
        for position in range(8, 12):
            out = model(tokens[:, position : position + 1], past_key_values=cache, use_cache=True)
            assert out.past_key_values is cache
            # every layer holds every position so far, before the GQA expansion
            for layer_idx in range(c.n_layers):
                assert cache.get_seq_length(layer_idx) == position + 1
                assert cache.keys[layer_idx].shape == (2, c.n_kv_heads, position + 1, c.head_dim)
                assert cache.values[layer_idx].shape == (2, c.n_kv_heads, position + 1, c.head_dim)
            steps.append(out.logits)
    decoded = torch.cat(steps, dim=1)
    assert decoded.shape == full.shape
    torch.testing.assert_close(decoded, full, atol=1e-5, rtol=0)


def test_chunked_prefill_matches_full_forward(llama, tiny):
    model, tokens = tiny
    tokens = tokens[:, :8]
    with torch.no_grad():
        full = model(tokens).logits
        first = model(tokens[:, :5], use_cache=True)
        assert first.past_key_values.get_seq_length() == 5
        second = model(tokens[:, 5:], past_key_values=first.past_key_values, use_cache=True)
        assert second.past_key_values.get_seq_length() == 8
    torch.testing.assert_close(torch.cat((first.logits, second.logits), dim=1), full, atol=1e-5, rtol=0)


def test_chunk_mask_sees_the_past_and_its_own_prefix(llama):
    assert llama.chunk_mask(0, 4, torch.device("cpu")) is None
    assert llama.chunk_mask(7, 1, torch.device("cpu")) is None
    mask = llama.chunk_mask(2, 3, torch.device("cpu"))
    expected = torch.tensor(
        [
            [True, True, True, False, False],
            [True, True, True, True, False],
            [True, True, True, True, True],
        ]
    )
    assert torch.equal(mask, expected)


def test_prefill_chunk_and_decode_run_on_meta(llama):
    c = llama.LLAMA_TINY
    with torch.device("meta"):
        model = llama.Llama(c)
        tokens = torch.zeros(2, 8, dtype=torch.long)
        out = model(tokens[:, :5], use_cache=True)
        out = model(tokens[:, 5:], past_key_values=out.past_key_values, use_cache=True)
        for _ in range(3):
            next_ids = out.logits[:, -1:].argmax(-1)
            out = model(next_ids, past_key_values=out.past_key_values, use_cache=True)
    assert out.logits.is_meta and out.logits.shape == (2, 1, c.vocab_size)
    assert out.past_key_values.get_seq_length() == 11
    assert out.past_key_values.keys[-1].is_meta
    assert out.past_key_values.keys[-1].shape == (2, c.n_kv_heads, 11, c.head_dim)


def test_cache_updates_layers_in_order(llama):
    def step(layer: int, position: int, length: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys 100 * layer + position, values their negatives: each [1, 2, length, 4] block says whose it is."""
        positions = torch.arange(position, position + length, dtype=torch.float32).view(1, 1, length, 1)
        key = (100 * layer + positions).expand(1, 2, length, 4)
        return key, -key

    cache = llama.KVCache()
    with pytest.raises(IndexError, match="^layer 1 updated before layer 0$"):
        cache.update(*step(1, 0), 1)
    assert cache.keys == [] and cache.get_seq_length() == 0
    # Prefill of 3 tokens, then two decode steps, each layer in turn.
    for position, length in ((0, 3), (3, 1), (4, 1)):
        for layer in (0, 1):
            keys, values = cache.update(*step(layer, position, length), layer)
            # What comes back is this layer's whole history, oldest first.
            assert keys[0, 0, :, 0].tolist() == [100 * layer + p for p in range(position + length)]
            assert torch.equal(values, -keys)
    with pytest.raises(IndexError, match="^layer 3 updated before layer 2$"):
        cache.update(*step(3, 5), 3)
    assert [cache.get_seq_length(layer) for layer in (0, 1, 2)] == [5, 5, 0]
    assert [k[0, 1, :, 3].tolist() for k in cache.keys] == [[0, 1, 2, 3, 4], [100, 101, 102, 103, 104]]
