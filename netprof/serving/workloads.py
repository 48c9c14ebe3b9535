"""Prefill and decode as workloads: one forward of new tokens after an optional, unrecorded past.

``Generation(batch, past=0, tokens=P)`` is the prefill of a P-token prompt;
``Generation(batch, past=c - 1, tokens=1)`` is the decode step that brings the
context to ``c`` tokens. The past is built by the model itself (a prefill of
``past`` tokens, run under ``unrecorded``), so the step reads the model's own KV
cache, whatever its class. Each run appends the cache's size before and after
the recorded forward to ``cache_sizes``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netprof.capture.dispatch import unrecorded
from netprof.serving.cache import cache_argument, cache_bytes, cache_of, takes_use_cache


@dataclass(frozen=True)
class Generation:
    batch: int
    past: int
    tokens: int
    device: str = "cpu"
    cache_sizes: list[tuple[int, int]] = field(default_factory=list, compare=False)

    @property
    def inputs(self) -> tuple[torch.Tensor | None, torch.Tensor]:
        prompt = (
            torch.zeros(self.batch, self.past, dtype=torch.long, device=self.device) if self.past else None
        )
        return prompt, torch.zeros(self.batch, self.tokens, dtype=torch.long, device=self.device)

    @contextlib.contextmanager
    def mode(self, model: nn.Module) -> Iterator[None]:
        with torch.no_grad():
            model.eval()
            yield

    def run(self, model: nn.Module, inputs: tuple[torch.Tensor | None, torch.Tensor]) -> Any:
        prompt, new = inputs
        name = cache_argument(model)
        if name is None or not takes_use_cache(model):
            self.cache_sizes.append((0, 0))
            return model(new)
        cache = None
        if prompt is not None:
            with unrecorded():
                cache = cache_of(model(prompt, use_cache=True))
        before = cache_bytes(cache)
        output = model(new, **({name: cache} if cache is not None else {}), use_cache=True)
        self.cache_sizes.append((before, cache_bytes(cache_of(output))))
        return output

    def to(self, device: torch.device | str) -> Generation:
        return Generation(self.batch, self.past, self.tokens, str(device))
