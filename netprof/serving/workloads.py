"""Prefill and decode as workloads: one forward of new tokens after an optional, unrecorded past.

``Generation(batch, past=0, tokens=P)`` is the prefill of a P-token prompt;
``Generation(batch, past=c - 1, tokens=1)`` is the decode step that brings the
context to ``c`` tokens. The past is built by the model itself (a prefill of
``past`` tokens, run under ``unrecorded``), so the step reads the model's own KV
cache, whatever its class. Each run appends the cache's size before and after
the recorded forward to ``cache_sizes``.

An encoder-decoder's passes are ``Encode(source)``, its encoder alone, and
``DecoderPass(source, past, tokens)``, a decoder pass after the encoder's output
and a past built unrecorded the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netprof.capture.dispatch import unrecorded
from netprof.serving.cache import (
    DecodeError,
    cache_argument,
    cache_bytes,
    cache_of,
    encoder_of,
    split_cache_bytes,
    takes_use_cache,
)


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


@dataclass(frozen=True)
class Source:
    """What an encoder-decoder's encoder reads: token ids, or (Whisper) log-mel features of fixed length.

    ``positions`` is the length of the encoder's output, the keys and values every
    cross-attention layer caches: the tokens, or the audio frames after Whisper's
    stride-2 convolution.
    """

    argument: str  # the encoder's keyword: input_ids or input_features
    shape: tuple[int, ...]
    dtype: torch.dtype
    positions: int

    def tensor(self, device: str) -> torch.Tensor:
        return torch.zeros(self.shape, dtype=self.dtype, device=device)

    def describe(self) -> str:
        if self.argument == "input_ids":
            return f"{self.positions:,} source tokens"
        frames = self.shape[-1]
        return f"{frames:,} {self.argument} frames of {self.shape[1]} channels, {self.positions:,} encoder positions"


def source_of(model: nn.Module, batch: int, tokens: int) -> Source:
    """The encoder's input, by the encoder's ``main_input_name``: ``tokens`` ids, or 30 s of Whisper audio.

    Whisper's encoder takes ``num_mel_bins`` x ``2 * max_source_positions`` features
    (3000 frames of 10 ms: it pads every input to 30 s) and halves them to
    ``max_source_positions`` with a stride-2 convolution.
    """
    argument = getattr(encoder_of(model), "main_input_name", "input_ids")
    if argument == "input_ids":
        return Source(argument, (batch, tokens), torch.long, tokens)
    config = model.config
    bins, positions = getattr(config, "num_mel_bins", None), getattr(config, "max_source_positions", None)
    if argument != "input_features" or not bins or not positions:
        raise DecodeError(
            f"netprof does not know the input of {type(model).__name__}'s encoder ({argument}): "
            "text (input_ids) and Whisper-like audio (input_features) encoders are supported"
        )
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return Source(argument, (batch, bins, 2 * positions), dtype, positions)


@dataclass(frozen=True)
class Encode:
    """An encoder-decoder's encoder pass over ``source``: what the decoder then attends to."""

    source: Source
    device: str = "cpu"
    cache_sizes: list[tuple[int, int, int, int]] = field(default_factory=list, compare=False)

    @property
    def inputs(self) -> tuple[torch.Tensor]:
        return (self.source.tensor(self.device),)

    mode = Generation.mode

    def run(self, model: nn.Module, inputs: tuple[torch.Tensor]) -> Any:
        (source,) = inputs
        self.cache_sizes.append((0, 0, 0, 0))
        return encoder_of(model)(**{self.source.argument: source})

    def to(self, device: torch.device | str) -> Encode:
        return Encode(self.source, str(device))


@dataclass(frozen=True)
class DecoderPass:
    """An encoder-decoder's decoder pass: ``tokens`` new tokens after ``past`` cached ones.

    The encoder's output and the decoder's past (its self-attention cache, and the
    cross-attention cache its first pass computed from the encoder's output) are
    built unrecorded, as ``Generation`` builds a past. ``cache_sizes`` gets
    ``(self before, self after, cross before, cross after)``.
    """

    source: Source
    past: int
    tokens: int
    device: str = "cpu"
    cache_sizes: list[tuple[int, int, int, int]] = field(default_factory=list, compare=False)

    @property
    def inputs(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        batch = self.source.shape[0]
        prompt = torch.zeros(batch, self.past, dtype=torch.long, device=self.device) if self.past else None
        new = torch.zeros(batch, self.tokens, dtype=torch.long, device=self.device)
        return self.source.tensor(self.device), prompt, new

    mode = Generation.mode

    def run(self, model: nn.Module, inputs: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]) -> Any:
        source, prompt, new = inputs
        name = cache_argument(model) or "cache"
        cache = None
        with unrecorded():
            encoded = encoder_of(model)(**{self.source.argument: source})
            if prompt is not None:
                cache = cache_of(model(encoder_outputs=encoded, decoder_input_ids=prompt, use_cache=True))
        before = split_cache_bytes(cache)
        past = {name: cache} if cache is not None else {}
        output = model(encoder_outputs=encoded, decoder_input_ids=new, **past, use_cache=True)
        after = split_cache_bytes(cache_of(output))
        self.cache_sizes.append((before[0], after[0], before[1], after[1]))
        return output

    def to(self, device: torch.device | str) -> DecoderPass:
        return DecoderPass(self.source, self.past, self.tokens, str(device))
