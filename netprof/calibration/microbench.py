"""Synthetic micro-benchmarks: one small module per op kind and shape, spanning what real networks run.

Shapes come from the layers of mobile and server CNNs and vision transformers at
batch 1 to 8 (224x224 input: feature maps from 112x112 down to 7x7, 3 to 2048
channels; 1 to 1024 tokens of width 64 to 1280), chosen by a fixed grid, never by
looking at a model a prediction is later judged on. Besides one-op modules there
are chains that vary the number of ops and of module calls independently, so the
fit can tell a kernel's cost from the framework's between kernels. The int8 benchmarks quantize
small float modules through PyTorch's FX quantization with the x86 backend, as ``netprof whatif
--quantize int8`` does, so they run the kernels an int8 variant runs.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MicroBench:
    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    group: str = "op"  # "op": one op kind (or the framework alone); "network": a synthetic network
    # "meta" (counted without data), or "real": counted on a real input, on the CPU in float32 only, for
    # modules whose kernels have no meta implementation (quantized ones) and a detector's post-processing
    # (nms and masked selection: their outputs' shapes depend on the data).
    capture: str = "meta"
    # The input in channels-last order: inside an int8 network every quantized tensor is, and a plain
    # one sends quantized kernels down slow paths (an int8 3x3 max-pool on 64x112x112: 1.4 ms, 0.11 ms).
    channels_last: bool = False


class Lambda(nn.Module):
    """A module whose forward is ``fn(x)``: one functional op, called inside one module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Binary(nn.Module):
    """``fn(x, x * 0.5)``-style two-input element-wise op; ``other`` broadcasts over H and W when asked."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], broadcast: bool) -> None:
        super().__init__()
        self.fn, self.broadcast = fn, broadcast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        other = x.mean((2, 3), keepdim=True) if self.broadcast else x
        return self.fn(x, other)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class Concat(nn.Module):
    def __init__(self, parts: int) -> None:
        super().__init__()
        self.parts = parts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] * self.parts, 1)


class Attention(nn.Module):
    """Attention written out (matmul, softmax, matmul), as many vision transformers do."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q = x.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        scores = (q @ q.transpose(-2, -1)) * (c // self.heads) ** -0.5
        return (scores.softmax(-1) @ q).transpose(1, 2).reshape(b, t, c)


class Chain(nn.Module):
    """``ops`` element-wise ops in one forward, optionally each inside its own module."""

    def __init__(self, ops: int, modules: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.ReLU() for _ in range(ops)) if modules else None
        self.ops = ops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layers is not None:
            for layer in self.layers:
                x = layer(x)
            return x
        for _ in range(self.ops):
            x = torch.relu(x)
        return x


def _nested(depth: int) -> nn.Module:
    """One ReLU inside ``depth`` Sequential containers: many module calls, one op."""
    module: nn.Module = nn.ReLU()
    for _ in range(depth):
        module = nn.Sequential(module)
    return module


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> Callable[[], nn.Module]:
    return lambda: nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)


def _convs() -> Iterator[MicroBench]:
    # (c_in, c_out, hw, kernel, stride, batch): stems, ResNet/VGG 3x3s, MobileNet 1x1s at every stage.
    dense = [
        (3, 32, 224, 3, 2, 1), (3, 64, 224, 7, 2, 1), (3, 24, 224, 3, 2, 1), (3, 16, 224, 3, 2, 4),
        (32, 32, 112, 3, 1, 1), (64, 64, 56, 3, 1, 1), (128, 128, 28, 3, 1, 1), (256, 256, 14, 3, 1, 1),
        (512, 512, 7, 3, 1, 1), (64, 128, 56, 3, 2, 1), (128, 256, 28, 3, 2, 1), (256, 512, 14, 3, 2, 1),
        (96, 96, 28, 5, 1, 1), (64, 64, 56, 3, 1, 4), (256, 256, 14, 3, 1, 8), (48, 48, 56, 3, 1, 1),
        (16, 16, 112, 3, 1, 1), (160, 160, 14, 5, 1, 1),
        # narrow kxk branches (Inception-style), a few MFLOPs each: launch-bound, which wide ones never are
        (16, 32, 28, 3, 1, 1), (16, 48, 14, 3, 1, 1), (24, 64, 14, 3, 1, 1), (32, 128, 7, 3, 1, 1),
        (48, 128, 7, 5, 1, 1), (8, 24, 56, 3, 1, 1),
    ]  # fmt: skip
    for c_in, c_out, hw, k, s, n in dense:
        yield MicroBench(
            f"conv{k}x{k} {c_in}->{c_out} {n}x{hw}^2 s{s}", _conv(c_in, c_out, k, s), (n, c_in, hw, hw)
        )
    pointwise = [
        (16, 96, 112), (24, 144, 56), (144, 24, 56), (32, 192, 28), (192, 32, 28), (64, 384, 14),
        (384, 64, 14), (96, 576, 14), (160, 960, 7), (960, 160, 7), (320, 1280, 7), (64, 256, 56),
        (256, 64, 56), (512, 128, 28), (1024, 256, 14), (2048, 512, 7), (58, 58, 28), (116, 116, 14),
        (232, 232, 7), (24, 24, 56), (512, 2048, 7),
    ]  # fmt: skip
    for c_in, c_out, hw in pointwise:
        yield MicroBench(f"conv1x1 {c_in}->{c_out} {hw}^2", _conv(c_in, c_out, 1), (1, c_in, hw, hw))
    for c_in, c_out, hw, n in [(64, 256, 56, 8), (256, 64, 28, 8), (960, 160, 7, 8), (32, 192, 56, 4)]:
        yield MicroBench(f"conv1x1 {c_in}->{c_out} {n}x{hw}^2", _conv(c_in, c_out, 1), (n, c_in, hw, hw))
    depthwise = [
        (32, 112, 3, 1, 1), (96, 112, 3, 2, 1), (144, 56, 3, 1, 1), (144, 56, 5, 2, 1), (240, 28, 5, 1, 1),
        (384, 14, 3, 1, 1), (576, 14, 3, 1, 1), (960, 7, 3, 1, 1), (672, 14, 5, 1, 1), (1152, 7, 5, 1, 1),
        (64, 56, 7, 1, 1), (768, 7, 7, 1, 1), (144, 56, 3, 1, 8), (480, 14, 3, 1, 8),
    ]  # fmt: skip
    for c, hw, k, s, n in depthwise:
        yield MicroBench(f"depthwise{k}x{k} {c} {n}x{hw}^2 s{s}", _conv(c, c, k, s, c), (n, c, hw, hw))
    # channels not a multiple of 4 (kinds.unaligned_channels): ShuffleNet V2 x1.0's 58, a pruned width
    unaligned = [(58, 56, 3, 2), (90, 28, 3, 1), (30, 112, 3, 1), (122, 14, 3, 1), (58, 28, 3, 1),
                 (174, 14, 5, 1), (250, 7, 3, 1)]  # fmt: skip
    for c, hw, k, s in unaligned:
        yield MicroBench(f"unaligned depthwise{k}x{k} {c} {hw}^2 s{s}", _conv(c, c, k, s, c), (1, c, hw, hw))
    # groups of channels not a multiple of 16 (kinds.unaligned_groups): RegNetX-1.6GF's 24 (at each stage's
    # width, stride 2 where a stage starts), RegNetY-400MF's 8, RegNetX-8GF's 120, ResNeXt-50's 4
    unaligned_groups = [(72, 56, 3, 2), (168, 28, 7, 1), (408, 14, 17, 1), (912, 7, 38, 1), (104, 28, 13, 2),
                        (208, 14, 26, 1), (240, 28, 2, 1), (720, 14, 6, 2), (128, 56, 32, 1)]  # fmt: skip
    for c, hw, g, s in unaligned_groups:
        yield MicroBench(f"unaligned group3x3 g{g} {c} {hw}^2 s{s}", _conv(c, c, 3, s, g), (1, c, hw, hw))
    grouped = [
        (240, 240, 28, 1, 3), (480, 480, 14, 1, 3), (128, 128, 56, 3, 32), (256, 256, 28, 3, 32),
        (512, 512, 14, 3, 32), (1024, 1024, 7, 3, 32), (64, 64, 56, 3, 2), (384, 384, 14, 3, 8),
        (224, 224, 56, 3, 2), (448, 448, 28, 3, 8),
        # RegNetX-400MF's 16-channel groups at each stage's width: whole blocks, the other grouped kind's
        (32, 32, 56, 3, 2), (64, 64, 28, 3, 4), (160, 160, 14, 3, 10), (400, 400, 7, 3, 25),
    ]  # fmt: skip
    for c_in, c_out, hw, k, g in grouped:
        yield MicroBench(
            f"group{k}x{k} g{g} {c_in}->{c_out} {hw}^2", _conv(c_in, c_out, k, groups=g), (1, c_in, hw, hw)
        )


def _matrices() -> Iterator[MicroBench]:
    # (tokens, in, out): classifier heads, ViT/Swin MLPs and projections, SE fully-connected layers.
    linears = [
        (1, 1280, 1000), (1, 2048, 1000), (1, 4096, 4096), (1, 512, 1000), (1, 960, 1280),
        (1, 1024, 1000), (197, 768, 768), (197, 768, 3072), (197, 3072, 768), (50, 1024, 1024),
        (3136, 96, 384), (784, 192, 768), (196, 384, 1536), (49, 768, 3072), (1, 576, 144),
        (1, 96, 24), (8, 2048, 1000), (1024, 256, 256), (197, 1280, 1280),
    ]  # fmt: skip
    for t, c_in, c_out in linears:
        yield MicroBench(
            f"linear {t}x{c_in}->{c_out}", lambda c_in=c_in, c_out=c_out: nn.Linear(c_in, c_out), (1, t, c_in)
        )
    for t, c, heads in [
        (197, 768, 12),
        (50, 1024, 16),
        (49, 96, 3),
        (49, 384, 12),
        (1024, 256, 8),
        (197, 384, 6),
    ]:
        yield MicroBench(f"attention {t}x{c} h{heads}", lambda heads=heads: Attention(heads), (1, t, c))
    for t, c, heads in [(197, 768, 12), (50, 1024, 16), (1024, 256, 8)]:
        yield MicroBench(
            f"multihead attention {t}x{c} h{heads}",
            lambda c=c, heads=heads: _SelfAttention(c, heads),
            (1, t, c),
        )


class _SelfAttention(nn.Module):
    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


_FEATURE_MAPS = [(16, 112), (32, 112), (24, 56), (64, 56), (144, 56), (40, 28), (256, 28), (96, 14),
                 (512, 14), (160, 7), (960, 7), (2048, 7), (256, 56)]  # fmt: skip


def _elementwise() -> Iterator[MicroBench]:
    unary = {
        "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "sigmoid": nn.Sigmoid,
        "silu": nn.SiLU, "gelu": nn.GELU, "hardsigmoid": nn.Hardsigmoid,
    }  # fmt: skip
    for index, (c, hw) in enumerate(_FEATURE_MAPS):
        name = list(unary)[index % len(unary)]
        yield MicroBench(f"{name} {c}x{hw}^2", unary[name], (1, c, hw, hw))
    for c, hw in _FEATURE_MAPS[::2]:
        yield MicroBench(f"add {c}x{hw}^2", lambda: Binary(torch.add, False), (1, c, hw, hw))
        yield MicroBench(f"scale {c}x{hw}^2", lambda: Binary(torch.mul, True), (1, c, hw, hw))
    yield MicroBench("relu 8x64x56^2", nn.ReLU, (8, 64, 56, 56))
    yield MicroBench("add 8x256x28^2", lambda: Binary(torch.add, False), (8, 256, 28, 28))
    yield MicroBench("gelu 197x3072", nn.GELU, (1, 197, 3072))


def _normalization_pooling_reduction() -> Iterator[MicroBench]:
    for c, hw in _FEATURE_MAPS[::2]:
        yield MicroBench(f"batchnorm {c}x{hw}^2", lambda c=c: nn.BatchNorm2d(c), (1, c, hw, hw))
    yield MicroBench("batchnorm 8x64x56^2", lambda: nn.BatchNorm2d(64), (8, 64, 56, 56))
    for t, c in [(197, 768), (50, 1024), (3136, 96), (49, 768), (197, 1280)]:
        yield MicroBench(f"layernorm {t}x{c}", lambda c=c: nn.LayerNorm(c), (1, t, c))
    yield MicroBench(
        "layernorm2d 96x56^2", lambda: Lambda(lambda x: F.layer_norm(x, x.shape[1:])), (1, 96, 56, 56)
    )
    for c, hw in [(64, 112), (24, 112), (128, 56), (256, 28), (512, 14), (32, 56)]:
        yield MicroBench(f"maxpool3x3s2 {c}x{hw}^2", lambda: nn.MaxPool2d(3, 2, 1), (1, c, hw, hw))
    # stride 1 (an Inception pooling branch): nine reads per output, none skipped
    for c, hw in [(192, 28), (480, 14), (832, 7), (64, 56)]:
        yield MicroBench(
            f"maxpool3x3s1 {c}x{hw}^2", lambda: nn.MaxPool2d(3, 1, 1, ceil_mode=True), (1, c, hw, hw)
        )
    for c, hw in [(256, 56), (512, 28), (96, 56)]:
        yield MicroBench(f"avgpool2x2 {c}x{hw}^2", lambda: nn.AvgPool2d(2), (1, c, hw, hw))
    for c, hw in [(1280, 7), (2048, 7), (512, 7), (960, 7), (1536, 14)]:
        yield MicroBench(f"global avgpool {c}x{hw}^2", lambda: nn.AdaptiveAvgPool2d(1), (1, c, hw, hw))
    for c, hw in [(96, 56), (240, 28), (672, 14), (960, 7), (64, 112)]:
        yield MicroBench(
            f"mean {c}x{hw}^2", lambda: Lambda(lambda x: x.mean((2, 3), keepdim=True)), (1, c, hw, hw)
        )
    yield MicroBench("softmax 1x1000", lambda: nn.Softmax(-1), (1, 1000))
    yield MicroBench("softmax 12x197x197", lambda: nn.Softmax(-1), (12, 197, 197))


def _data_movement() -> Iterator[MicroBench]:
    for c, hw, g in [(116, 28, 2), (232, 14, 2), (464, 7, 2), (240, 28, 3), (48, 56, 2)]:
        yield MicroBench(f"channel shuffle g{g} {c}x{hw}^2", lambda g=g: ChannelShuffle(g), (1, c, hw, hw))
    for c, hw, parts in [(58, 28, 2), (128, 14, 4), (32, 56, 3), (256, 7, 2), (64, 56, 2)]:
        yield MicroBench(f"cat x{parts} {c}x{hw}^2", lambda parts=parts: Concat(parts), (1, c, hw, hw))
    for c, hw in [(96, 56), (384, 14), (768, 7)]:
        yield MicroBench(
            f"permute+contiguous {c}x{hw}^2",
            lambda: Lambda(lambda x: x.permute(0, 2, 3, 1).contiguous()),
            (1, c, hw, hw),
        )
    yield MicroBench("pad 64x56^2", lambda: Lambda(lambda x: F.pad(x, (1, 1, 1, 1))), (1, 64, 56, 56))
    yield MicroBench("flatten 512x7^2", lambda: nn.Flatten(1), (1, 512, 7, 7))
    yield MicroBench(
        "transpose+reshape 197x768", lambda: Lambda(lambda x: x.transpose(1, 2).reshape(1, -1)), (1, 197, 768)
    )


class Suppress(nn.Module):
    """Non-maximum suppression of ``boxes`` fixed boxes (16-96 px in a 300x300 image, seeded) in ``classes``
    classes, each class's boxes offset apart as torchvision's batched NMS does; the input is their scores."""

    def __init__(self, boxes: int, classes: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(boxes * classes)
        corner = torch.rand(boxes, 2, generator=generator) * 300
        size = 16 + torch.rand(boxes, 2, generator=generator) * 80
        offset = torch.randint(0, classes, (boxes, 1), generator=generator) * 400.0
        self.register_buffer("boxes", torch.cat([corner, corner + size], dim=1) + offset)
        from torchvision.ops import nms  # only where torchvision is installed: see _postprocessing

        self.nms = nms

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return self.nms(self.boxes, scores, 0.5)


class MaskedRows(nn.Module):
    """``boxes[scores > 0]``: a detector's filtering of its ``boxes`` fixed boxes by score (the input)."""

    def __init__(self, boxes: int) -> None:
        super().__init__()
        self.register_buffer("boxes", torch.rand(boxes, 4, generator=torch.Generator().manual_seed(boxes)))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return self.boxes[scores > 0]


def _filtering_and_allocation() -> Iterator[MicroBench]:
    """Indexing by a boolean mask, top-k and sorts, and the ops that make a tensor without reading one
    (``full_like``, ``arange``): what a detector's candidate selection runs, by the hundred or over a
    million scores. Counted on a real run, as the post-processing they stand for is (a mask's output
    size depends on the data), and so left out of the runtimes' calibration, which exports what it runs."""
    benches = [
        MicroBench(f"masked rows {n}x4", lambda n=n: MaskedRows(n), (n,))
        for n in (100, 1000, 3000, 10000, 30000)
    ]
    for n in (100, 1000, 10000, 100_000, 1_000_000):  # a level's scores of every anchor and class
        benches.append(MicroBench(f"masked select {n}", lambda: Lambda(lambda x: x[x > 0]), (n,)))
    for n in (10000, 1_000_000):  # everything selected (a threshold below every score), or 1%
        benches.append(MicroBench(f"masked select all {n}", lambda: Lambda(lambda x: x[x > -10]), (n,)))
        benches.append(MicroBench(f"masked select 1% {n}", lambda: Lambda(lambda x: x[x > 2.33]), (n,)))
    for n, k in (
        (1000, 10),
        (10_000, 100),
        (100_000, 10),
        (100_000, 1000),
        (1_000_000, 10),
        (1_000_000, 1000),
    ):
        benches.append(MicroBench(f"topk {k} of {n}", lambda k=k: Lambda(lambda x: x.topk(k).values), (n,)))
    for n in (1000, 30_000):
        benches.append(MicroBench(f"sort {n}", lambda: Lambda(lambda x: x.sort().values), (n,)))
    for n in (100, 3000, 30000, 300000):
        benches.append(MicroBench(f"full_like {n}", lambda: Lambda(lambda x: torch.full_like(x, 1.0)), (n,)))
        benches.append(
            MicroBench(f"arange {n}", lambda: Lambda(lambda x: torch.arange(len(x), device=x.device)), (n,))
        )
    for bench in benches:
        yield replace(bench, capture="real")


class PoolRegions(nn.Module):
    """``roi_align`` of ``regions`` fixed boxes (seeded) to 7x7 bins, 2x2 samples each, from the input map:
    a two-stage detector's box head reading its proposals' features."""

    def __init__(self, regions: int, size: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(regions)
        corner = torch.rand(regions, 2, generator=generator) * size * 0.7
        extent = 1 + torch.rand(regions, 2, generator=generator) * size * 0.3
        self.register_buffer("boxes", torch.cat([torch.zeros(regions, 1), corner, corner + extent], dim=1))
        from torchvision.ops import roi_align  # only where torchvision is installed: see _postprocessing

        self.roi_align = roi_align

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.roi_align(features, self.boxes, (7, 7), 1.0, 2)


def _postprocessing() -> Iterator[MicroBench]:
    """A detector's NMS over 10 to 3,000 candidate boxes, in one class (boxes overlap and suppress each
    other) and in 90 (batched: a class's boxes never meet another's), and a two-stage detector's RoI
    pooling of 10 to 300 regions. Only with torchvision installed."""
    if importlib.util.find_spec("torchvision") is None:
        return
    for channels, size, regions in (
        (256, 40, 150),
        (256, 20, 300),
        (64, 40, 100),
        (256, 10, 10),
        (128, 80, 50),
    ):
        yield MicroBench(
            f"roi_align {regions} regions {channels}x{size}^2",
            lambda r=regions, s=size: PoolRegions(r, s),
            (1, channels, size, size),
            capture="real",
        )
    for classes in (1, 90):
        for boxes in (10, 30, 100, 300, 1000, 3000):
            yield MicroBench(
                f"nms {boxes} boxes {classes} class(es)",
                lambda b=boxes, c=classes: Suppress(b, c),
                (boxes,),
                capture="real",
            )


def _framework() -> Iterator[MicroBench]:
    for ops in (1, 4, 16, 64):
        yield MicroBench(f"{ops} relu modules", lambda ops=ops: Chain(ops, True), (1, 8))
        yield MicroBench(f"{ops} relu calls", lambda ops=ops: Chain(ops, False), (1, 8))
    for depth in (4, 16, 48):
        yield MicroBench(f"relu in {depth} containers", lambda depth=depth: _nested(depth), (1, 8))


def _past_the_cache() -> Iterator[MicroBench]:
    """One op at batch 8 on 112x112 and 56x56 maps: 13-77 MB moved, past any last-level cache of a
    desktop or small-server CPU, for the per-byte cost of bytes that come from DRAM."""
    yield MicroBench("relu 8x64x112^2", nn.ReLU, (8, 64, 112, 112))
    yield MicroBench("add 8x32x112^2", lambda: Binary(torch.add, False), (8, 32, 112, 112))
    yield MicroBench("batchnorm 8x96x112^2", lambda: nn.BatchNorm2d(96), (8, 96, 112, 112))
    yield MicroBench("conv1x1 16->96 8x112^2", _conv(16, 96, 1), (8, 16, 112, 112))
    yield MicroBench("conv3x3 32->32 8x112^2 s1", _conv(32, 32, 3), (8, 32, 112, 112))
    yield MicroBench("depthwise3x3 96 8x112^2 s2", _conv(96, 96, 3, 2, 96), (8, 96, 112, 112))
    yield MicroBench("depthwise3x3 192 8x56^2 s1", _conv(192, 192, 3, 1, 192), (8, 192, 56, 56))
    yield MicroBench("maxpool3x3s2 8x64x112^2", lambda: nn.MaxPool2d(3, 2, 1), (8, 64, 112, 112))


def micro_benchmarks() -> list[MicroBench]:
    """Every micro-benchmark, in a fixed order."""
    return [
        *_convs(),
        *_matrices(),
        *_elementwise(),
        *_normalization_pooling_reduction(),
        *_data_movement(),
        *_filtering_and_allocation(),
        *_postprocessing(),
        *_framework(),
        *_past_the_cache(),
        *synthetic_networks(),
        *synthetic_networks(12, seed=1, batch=8),  # feature maps past the caches, as large batches make
        *int8_benchmarks(),
    ]


# --- int8 kernels ----------------------------------------------------------------------------------
# Each a float module quantized as ``netprof.compression.quantize`` quantizes a model (FX graph mode,
# the x86 backend's default mapping, scales observed on one example input), so that it runs the same
# kernels: quantize_per_tensor on the way in, the int8 op(s), dequantize on the way out. The fit splits
# the conversions from the op with the quantize-only benchmarks.


def quantized_fx(build: Callable[[], nn.Module], shape: tuple[int, ...]) -> Callable[[], nn.Module]:
    """A builder of ``build()`` quantized to int8 by FX (weights per channel, activations per tensor,
    observed on a seeded random input of ``shape``)."""

    def quantized() -> nn.Module:
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        with warnings.catch_warnings():  # FX quantization warns that it will move to torchao
            warnings.simplefilter("ignore")
            prepared = prepare_fx(build().eval(), get_default_qconfig_mapping("x86"), (example,))
            with torch.no_grad():
                prepared(example)
            return convert_fx(prepared)

    return quantized


class QuantizeDequantize(nn.Module):
    """Float to int8 and back (``quantize_per_tensor``, ``dequantize``): the conversions alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.quantize_per_tensor(x, 0.05, 128, torch.quint8).dequantize()


_CHAIN = 4


class Residuals(nn.Module):
    """``x = x + input`` (then a ReLU when asked) ``adds`` times: residual adds in a row."""

    def __init__(self, adds: int, relu: bool) -> None:
        super().__init__()
        self.adds, self.relu = adds, relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(self.adds):
            x = torch.relu(x + y) if self.relu else x + y
        return x


class Scales(nn.Module):
    """``x = x * mean(input)`` per channel ``count`` times: the broadcast multiply of a squeeze-excite."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        for _ in range(self.count):
            x = x * scale
        return x


def _int8(name: str, build: Callable[[], nn.Module], shape: tuple[int, ...]) -> MicroBench:
    """Inside a Sequential, as a layer sits in a network: FX keeps it a module (``QuantizedConv2d``), where a
    root module alone is traced into a functional call whose scale is a tensor read by ``.item()``.
    A stem (3 input channels) takes the network's image as given; every later layer a channels-last one."""
    return MicroBench(
        f"int8 {name}",
        quantized_fx(lambda: nn.Sequential(build()), shape),
        shape,
        capture="real",
        channels_last=len(shape) == 4 and shape[1] != 3,
    )


def int8_benchmarks() -> list[MicroBench]:
    """Int8 convolutions (1x1, kxk, depthwise on both sides of 100 channels, where x86's int8 backend
    moves from oneDNN to FBGEMM, and on inputs not in channels-last order), linear layers, element-wise
    ops, pooling, the conversions, and six int8 synthetic networks."""
    benches = []
    for c_in, c_out, hw in [(16, 96, 112), (24, 144, 56), (144, 24, 56), (64, 384, 14), (384, 64, 14),
                            (960, 160, 7), (320, 1280, 7), (256, 64, 56), (512, 128, 28)]:  # fmt: skip
        benches.append(_int8(f"conv1x1 {c_in}->{c_out} {hw}^2", _conv(c_in, c_out, 1), (1, c_in, hw, hw)))
    for c_in, c_out, hw, k, s in [(3, 32, 224, 3, 2), (3, 64, 224, 7, 2), (64, 64, 56, 3, 1),
                                  (128, 128, 28, 3, 1), (256, 256, 14, 3, 1), (512, 512, 7, 3, 1),
                                  (64, 128, 56, 3, 2), (32, 64, 28, 3, 1)]:  # fmt: skip
        benches.append(
            _int8(f"conv{k}x{k} {c_in}->{c_out} {hw}^2 s{s}", _conv(c_in, c_out, k, s), (1, c_in, hw, hw))
        )
    for c, hw, k, s in [(32, 112, 3, 1), (96, 112, 3, 2), (64, 56, 3, 1), (144, 56, 3, 1), (144, 56, 5, 2),
                        (384, 14, 3, 1), (576, 14, 3, 1), (960, 7, 3, 1), (240, 28, 5, 1)]:  # fmt: skip
        benches.append(_int8(f"depthwise{k}x{k} {c} {hw}^2 s{s}", _conv(c, c, k, s, c), (1, c, hw, hw)))
    # more than 100 channels, not a multiple of 8: a generic kernel, ~100x slower (netprof.prediction.kinds)
    for c, hw, k, s in [(116, 14, 3, 1), (116, 28, 3, 2), (236, 7, 3, 1)]:
        benches.append(_int8(f"depthwise{k}x{k} {c} {hw}^2 s{s}", _conv(c, c, k, s, c), (1, c, hw, hw)))
    # Inputs in plain (not channels-last) order, as after a channel split or a concatenation: the kernel
    # reorders them first (netprof.prediction.kinds.int8_relayout_bytes).
    for c_in, c_out, hw, k, groups in [(58, 58, 28, 1, 1), (116, 116, 14, 1, 1), (64, 64, 28, 3, 1),
                                       (58, 58, 28, 3, 58)]:  # fmt: skip
        bench = _int8(f"conv{k}x{k} g{groups} {c_in}->{c_out} {hw}^2 plain input", _conv(c_in, c_out, k, 1, groups),
                      (1, c_in, hw, hw))  # fmt: skip
        benches.append(replace(bench, channels_last=False))
    for t, c_in, c_out in [(1, 1280, 1000), (1, 512, 1000), (1, 2048, 1000), (49, 768, 3072)]:
        benches.append(
            _int8(f"linear {t}x{c_in}->{c_out}", lambda c_in=c_in, c_out=c_out: nn.Linear(c_in, c_out),
                  (1, t, c_in))
        )  # fmt: skip
    # Element-wise ops four in a row between one quantize and one dequantize, so that the int8 ops, not
    # the conversions, take most of the time: in-place ReLU6 (MobileNet's), residual adds with and
    # without a ReLU (ResNet's quantized.add_relu), hardswish.
    for c, hw in [(32, 112), (144, 56), (64, 56), (384, 14)]:
        layers = lambda: nn.Sequential(*(nn.ReLU6(inplace=True) for _ in range(_CHAIN)))
        benches.append(_int8(f"relu6 x{_CHAIN} {c}x{hw}^2", layers, (1, c, hw, hw)))
    for c, hw, relu in [(24, 56, False), (96, 14, False), (256, 28, False), (64, 56, True), (128, 28, True),
                        (512, 7, True)]:  # fmt: skip
        name = f"add{'+relu' if relu else ''} x{_CHAIN} {c}x{hw}^2"
        benches.append(_int8(name, lambda relu=relu: Residuals(_CHAIN, relu), (1, c, hw, hw)))
    benches.append(
        _int8(
            f"hardswish x{_CHAIN} 40x28^2",
            lambda: nn.Sequential(*(nn.Hardswish() for _ in range(_CHAIN))),
            (1, 40, 28, 28),
        )
    )
    # MobileNetV3's squeeze-excite on int8: the mean over H and W, and the per-channel scale (a broadcast
    # quantized.mul, a slower kernel than the plain one); ShuffleNet's concatenation and channel shuffle.
    for c, hw in [(96, 56), (240, 28), (960, 7)]:
        mean = lambda: Lambda(lambda x: x.mean((2, 3), keepdim=True))
        benches.append(_int8(f"mean {c}x{hw}^2", mean, (1, c, hw, hw)))
    for c, hw in [(72, 56), (480, 14)]:
        benches.append(_int8(f"scale x{_CHAIN} {c}x{hw}^2", lambda: Scales(_CHAIN), (1, c, hw, hw)))
    for c, hw, parts in [(58, 28, 2), (116, 14, 2)]:
        benches.append(_int8(f"cat x{parts} {c}x{hw}^2", lambda parts=parts: Concat(parts), (1, c, hw, hw)))
    for c, hw in [(116, 28), (232, 14)]:
        benches.append(_int8(f"channel shuffle g2 {c}x{hw}^2", lambda: ChannelShuffle(2), (1, c, hw, hw)))
    benches.append(_int8("maxpool3x3s2 64x112^2", lambda: nn.MaxPool2d(3, 2, 1), (1, 64, 112, 112)))
    for c in (1280, 512):
        benches.append(_int8(f"global avgpool {c}x7^2", lambda: nn.AdaptiveAvgPool2d(1), (1, c, 7, 7)))
    for c, hw in [(3, 224), (32, 112), (64, 56), (160, 14), (1000, 1)]:
        benches.append(
            MicroBench(
                f"int8 quantize+dequantize {c}x{hw}^2", QuantizeDequantize, (1, c, hw, hw), capture="real"
            )
        )
    # Whole int8 networks, for what one-op modules cannot show (kernels after one another on cold weights,
    # layouts a split or a concatenation leaves): the convolutional ones of a third seeded draw, quantized.
    for index, bench in enumerate(synthetic_networks(8, seed=3)):
        if index % 4 != 3:  # the transformers: FX int8 is netprof's what-if for CNNs
            build = quantized_fx(bench.build, bench.input_shape)
            benches.append(MicroBench(f"int8 {bench.name}", build, bench.input_shape, "network", "real"))
    return benches


# --- synthetic networks ----------------------------------------------------------------------------
# Random networks from a small vocabulary of blocks, for what one-op modules cannot show: kernels
# running after one another on cold weights, and the framework's cost in a deep module tree. They are
# drawn from a seeded generator over widths, depths, kernels and resolutions, not copied from any
# published architecture.

_ACTIVATIONS = (nn.ReLU, nn.Hardswish, nn.SiLU, nn.ReLU6)


def _conv_bn_act(c_in: int, c_out: int, k: int, stride: int, groups: int, act: type[nn.Module]) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out), act()
    )


class _Squeeze(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.reduce, self.expand = nn.Conv2d(c, max(8, c // 4), 1), nn.Conv2d(max(8, c // 4), c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean((2, 3), keepdim=True)))))


class _Inverted(nn.Module):
    def __init__(
        self, c_in: int, c_out: int, expand: int, k: int, stride: int, se: bool, act: type[nn.Module]
    ):
        super().__init__()
        mid = c_in * expand
        layers = [_conv_bn_act(c_in, mid, 1, 1, 1, act)] if expand > 1 else []
        layers += [_conv_bn_act(mid, mid, k, stride, mid, act)]
        layers += [_Squeeze(mid)] if se else []
        layers += [nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class _Bottleneck(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, groups: int) -> None:
        super().__init__()
        mid = max(groups, c_out // 4 // groups * groups)
        self.body = nn.Sequential(
            _conv_bn_act(c_in, mid, 1, 1, 1, nn.ReLU),
            _conv_bn_act(mid, mid, 3, stride, groups, nn.ReLU),
            nn.Conv2d(mid, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity() if stride == 1 and c_in == c_out else nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class _Shuffle(nn.Module):
    """A split-transform-concat-shuffle unit (stride 1, even channels)."""

    def __init__(self, c: int, k: int) -> None:
        super().__init__()
        half = c // 2
        self.branch = nn.Sequential(
            _conv_bn_act(half, half, 1, 1, 1, nn.ReLU),
            _conv_bn_act(half, half, k, 1, half, nn.Identity),
            _conv_bn_act(half, half, 1, 1, 1, nn.ReLU),
        )
        self.shuffle = ChannelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x.chunk(2, 1)
        return self.shuffle(torch.cat([left, self.branch(right)], 1))


class _Mixer(nn.Module):
    """A pre-norm transformer block: attention written out, then an MLP."""

    def __init__(self, c: int, heads: int, ratio: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.mlp = nn.Sequential(nn.Linear(c, ratio * c), nn.GELU(), nn.Linear(ratio * c, c))
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attention = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(-1)
        x = x + self.proj((attention @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x))


class _Tokens(nn.Module):
    """Patchify, transformer blocks, mean over tokens, a classifier."""

    def __init__(self, patch: int, c: int, depth: int, heads: int, ratio: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, patch, patch)
        self.blocks = nn.Sequential(*(_Mixer(c, heads, ratio) for _ in range(depth)))
        self.head = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.blocks(x).mean(1))


def _convnet(rng: torch.Generator) -> nn.Module:
    def pick(options: Sequence[Any]) -> Any:
        return options[int(torch.randint(len(options), (1,), generator=rng))]

    family = pick(("inverted", "bottleneck", "shuffle", "plain"))
    act = pick(_ACTIVATIONS)
    width = pick((16, 24, 32, 48, 64, 96))
    layers: list[nn.Module] = [_conv_bn_act(3, width, 3, 2, 1, act)]
    if pick((True, False)):
        layers.append(nn.MaxPool2d(3, 2, 1))
    for stage in range(pick((3, 4))):
        out = width * pick((2, 2, 3)) if stage else width
        out += out % 2
        for index in range(pick((1, 2, 3, 4, 6))):
            stride = 2 if index == 0 and stage else 1
            if family == "inverted":
                layers.append(
                    _Inverted(
                        width, out, pick((1, 3, 4, 6)), pick((3, 5, 7)), stride, pick((True, False)), act
                    )
                )
            elif family == "bottleneck":
                layers.append(_Bottleneck(width, out, stride, pick((1, 2, 8, 32)) if out >= 64 else 1))
            elif family == "shuffle" and stride == 1 and width == out:
                layers.append(_Shuffle(out, pick((3, 5))))
            else:
                layers.append(_conv_bn_act(width, out, pick((1, 3, 3)), stride, 1, act))
            width = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(width, 1000)]
    return nn.Sequential(*layers)


def synthetic_networks(count: int = 40, seed: int = 0, batch: int = 1) -> list[MicroBench]:
    """``count`` random networks, three in four convolutional, one in four transformers, at ``batch``."""
    rng = torch.Generator().manual_seed(seed)
    benches = []
    for index in range(count):
        side = (96, 128, 160, 192, 224, 256)[int(torch.randint(6, (1,), generator=rng))]
        if index % 4 == 3:
            c = (128, 192, 256, 384, 512)[int(torch.randint(5, (1,), generator=rng))]
            depth, patch = int(torch.randint(2, 9, (1,), generator=rng)), (16, 32)[index % 8 == 7]
            heads, ratio = c // 64, (2, 4)[int(torch.randint(2, (1,), generator=rng))]
            build = lambda patch=patch, c=c, depth=depth, heads=heads, ratio=ratio: _Tokens(
                patch, c, depth, heads, ratio
            )
        else:
            state = rng.get_state()
            build = lambda state=state: _convnet(torch.Generator().set_state(state))
            torch.randint(1 << 30, (1,), generator=rng)  # move on: each network draws from its own state
        name = f"synthetic network {index}" + (f" x{batch}" if batch > 1 else "")
        benches.append(MicroBench(name, build, (batch, 3, side, side), "network"))
    return benches
