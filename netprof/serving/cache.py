"""A causal language model's KV cache, found by the calling convention transformers uses.

The forward takes the cache as ``cache=`` (transformers 5.x) or
``past_key_values=`` (earlier versions, and ``examples/llama.py``), and
``use_cache=True`` makes it return one: as the output's ``cache`` or
``past_key_values``. A model whose forward takes neither cannot decode.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from netprof.errors import NetprofError

CACHE_ARGUMENTS = ("cache", "past_key_values")
# How deep the walk over a cache object's attributes goes: DynamicCache -> layers -> layer -> keys.
_DEPTH = 4


class DecodeError(NetprofError):
    """The model cannot be decoded token by token (no KV cache), or the request is impossible."""


def cache_argument(model: nn.Module) -> str | None:
    """The name of the forward's KV-cache argument; None when it takes none."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return None
    return next((name for name in CACHE_ARGUMENTS if name in parameters), None)


def takes_use_cache(model: nn.Module) -> bool:
    """Whether the forward takes ``use_cache=``: by name, or through ``**kwargs`` that it hands to its base
    model (transformers' ``base_model``) which takes it by name (GraniteMoe's causal LM does)."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    if "use_cache" in parameters:
        return True
    forwards_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    base = getattr(model, "base_model", None)
    return forwards_kwargs and isinstance(base, nn.Module) and base is not model and takes_use_cache(base)


def is_encoder_decoder(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return bool(getattr(config, "is_encoder_decoder", False)) and callable(
        getattr(model, "get_encoder", None)
    )


def encoder_of(model: nn.Module) -> nn.Module:
    return model.get_encoder()


def cache_of(output: Any) -> Any:
    """The KV cache a forward returned with ``use_cache=True``; None when it returned none.

    An output that declares a ``cache`` field (transformers 5) is not asked for
    ``past_key_values``, its deprecated alias, which warns.
    """
    fields = getattr(type(output), "__dataclass_fields__", {})
    for name in CACHE_ARGUMENTS:
        found = getattr(output, name, None)
        if found is not None or name in fields:
            return found
    return None


def cache_bytes(cache: Any) -> int:
    """Bytes held by the tensors of a cache object (each tensor once), found by walking its attributes."""
    seen: set[int] = set()
    total = 0
    pending: list[tuple[Any, int]] = [(cache, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, torch.Tensor):
            if id(value) not in seen:
                seen.add(id(value))
                total += value.numel() * value.element_size()
            continue
        if depth > _DEPTH or value is None or isinstance(value, (str, bytes, int, float, bool)):
            continue
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        elif hasattr(value, "__dict__"):
            children = list(vars(value).values())
        else:
            continue
        pending.extend((child, depth + 1) for child in children)
    return total


def split_cache_bytes(cache: Any) -> tuple[int, int]:
    """``(self-attention, cross-attention)`` bytes of a cache; a decoder-only cache is all self-attention."""
    cross = getattr(cache, "cross_attention_cache", None)
    if cross is None:
        return cache_bytes(cache), 0
    return cache_bytes(getattr(cache, "self_attention_cache", None)), cache_bytes(cross)
