"""A Llama-2-style decoder in plain PyTorch, for counting its cost with netprof.

    netprof analyze examples/llama.py:llama70b --device meta

Under ``--device meta`` the builder runs inside ``with torch.device("meta"):``,
so the 69-billion-parameter model allocates no weight. The rotary tables and the
attention mask are made in ``forward`` from ``torch.arange`` on the input's
device, with no data-dependent op, so the whole forward, with or without the
key-value cache, runs on meta tensors.

``Llama`` is called the way a transformers causal LM is: ``model(input_ids,
past_key_values=None, use_cache=False)`` returns ``.logits`` and
``.past_key_values``, a ``KVCache`` (grown in place, like transformers'
``DynamicCache``) when ``use_cache`` is set or a cache is passed. So one decode
loop drives both::

    out = model(prompt, use_cache=True)  # prefill
    for _ in range(new_tokens):
        next_ids = out.logits[:, -1:].argmax(-1)
        out = model(next_ids, past_key_values=out.past_key_values, use_cache=True)

The architecture follows the Llama 2 paper (Touvron et al., 2023, arXiv:2307.09288)
and Meta's reference ``model.py``: pre-norm RMSNorm, rotary position embeddings,
grouped-query attention, a SwiGLU feed-forward, no biases, an untied LM head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LlamaConfig:
    """The shape of a Llama-2 model and of the example batch it is run on."""

    vocab_size: int
    hidden: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_hidden: int
    seq_len: int
    batch: int = 1
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.n_heads

    def __post_init__(self) -> None:
        if self.hidden % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"hidden ({self.hidden}) must split into n_heads ({self.n_heads}), "
                f"and n_heads into n_kv_heads ({self.n_kv_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head_dim, got {self.head_dim}")


# Llama-2-70B as published in its params.json (dim 8192, 80 layers, 64 heads, 8 KV heads,
# FFN 28672) and its 4096-token context.
LLAMA2_70B = LlamaConfig(
    vocab_size=32000, hidden=8192, n_layers=80, n_heads=64, n_kv_heads=8, ffn_hidden=28672, seq_len=4096
)

LLAMA_TINY = LlamaConfig(
    vocab_size=128, hidden=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=176, seq_len=16
)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class KVCache:
    """Each layer's keys and values so far, ``[batch, kv_heads, seq, head_dim]``.

    Stored before the grouped-query expansion, as attention consumes them. Like
    transformers' ``DynamicCache``, ``update`` concatenates along the sequence
    dim, so every step allocates the longer tensor afresh.
    """

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def update(
        self, key: torch.Tensor, value: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's ``key`` and ``value`` to layer ``layer_idx``; return all of that layer's."""
        if layer_idx < len(self.keys):
            self.keys[layer_idx] = torch.cat((self.keys[layer_idx], key), dim=-2)
            self.values[layer_idx] = torch.cat((self.values[layer_idx], value), dim=-2)
        elif layer_idx == len(self.keys):
            self.keys.append(key)
            self.values.append(value)
        else:
            raise IndexError(f"layer {layer_idx} updated before layer {len(self.keys)}")
        return self.keys[layer_idx], self.values[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.keys[layer_idx].shape[-2] if layer_idx < len(self.keys) else 0


@dataclass(frozen=True)
class CausalLMOutput:
    """What ``Llama.forward`` returns, under the names transformers uses."""

    logits: torch.Tensor
    past_key_values: KVCache | None


def rotary_tables(
    start: int, length: int, head_dim: int, theta: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` for positions ``start .. start + length - 1``, shape ``[length, head_dim]``.

    In the rotate-half layout. Built from ``arange`` on ``device`` each forward
    rather than stored, so the model carries no buffer and the tables exist on
    meta as on any device.
    """
    exponents = torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponents)
    positions = torch.arange(start, start + length, device=device, dtype=torch.float32)
    angles = positions[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


def chunk_mask(past: int, length: int, device: torch.device) -> torch.Tensor | None:
    """The boolean ``[length, past + length]`` mask for queries that follow ``past`` cached keys.

    Query ``i`` sits at position ``past + i`` and sees keys ``0 .. past + i``.
    ``None`` where attention needs no tensor: without a past, ``is_causal``
    masks the square score matrix; a single query sees every key.
    """
    if past == 0 or length == 1:
        return None
    queries = torch.arange(past, past + length, device=device)
    keys = torch.arange(past + length, device=device)
    return keys[None, :] <= queries[:, None]


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.n_kv_heads, config.head_dim
        kv_dim = config.n_kv_heads * config.head_dim
        self.q_proj = nn.Linear(config.hidden, config.hidden, bias=False)
        self.k_proj = nn.Linear(config.hidden, kv_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden, kv_dim, bias=False)
        self.o_proj = nn.Linear(config.hidden, config.hidden, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None,
    ) -> torch.Tensor:
        batch, length, hidden = x.shape
        q = self.q_proj(x).view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)
        # is_causal aligns its triangle to the top-left corner, right only when queries
        # and keys cover the same positions; after a past, ``mask`` (or none) applies.
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=length == k.shape[-2], enable_gqa=True
        )
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, hidden))


class FeedForward(nn.Module):
    """SwiGLU: ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden, config.ffn_hidden, bias=False)
        self.up_proj = nn.Linear(config.hidden, config.ffn_hidden, bias=False)
        self.down_proj = nn.Linear(config.ffn_hidden, config.hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(config.hidden, config.norm_eps)
        self.attention = Attention(config, layer_idx)
        self.ffn_norm = RMSNorm(config.hidden, config.norm_eps)
        self.feed_forward = FeedForward(config)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None,
    ) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), cos, sin, mask, cache)
        return x + self.feed_forward(self.ffn_norm(x))


class Llama(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.hidden, config.norm_eps)
        self.lm_head = nn.Linear(config.hidden, config.vocab_size, bias=False)

    def forward(
        self, input_ids: torch.Tensor, past_key_values: KVCache | None = None, use_cache: bool = False
    ) -> CausalLMOutput:
        """Logits for ``input_ids``, which follow the positions already in ``past_key_values``.

        A passed cache is extended in place; ``use_cache`` starts one when none is passed.
        """
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past = 0 if past_key_values is None else past_key_values.get_seq_length()
        length, device = input_ids.shape[1], input_ids.device
        x = self.embed_tokens(input_ids)
        cos, sin = rotary_tables(past, length, self.config.head_dim, self.config.rope_theta, device)
        mask = chunk_mask(past, length, device)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, past_key_values)
        return CausalLMOutput(self.lm_head(self.norm(x)), past_key_values)


def build(config: LlamaConfig) -> tuple[Llama, torch.Tensor]:
    """The model and a batch of token ids, both on the current default device."""
    tokens = torch.zeros(config.batch, config.seq_len, dtype=torch.long)
    return Llama(config), tokens


def llama70b() -> tuple[Llama, torch.Tensor]:
    """Llama-2-70B on one 4096-token sequence; build it under ``torch.device("meta")``."""
    return build(LLAMA2_70B)


def llama_tiny() -> tuple[Llama, torch.Tensor]:
    """Two small layers with the same structure, for tests."""
    return build(LLAMA_TINY)
