"""Low-rank factorization of convolutions and linear layers, by truncated SVD, where it saves compute.

A kxk convolution's weight ``[c_out, c_in, k, k]`` read as a matrix ``[c_out, c_in k k]`` is
``U S V^T``; keeping rank ``r`` gives a thin kxk convolution ``c_in -> r`` (weight ``sqrt(S_r) V_r^T``,
the original stride, padding and dilation) followed by a 1x1 convolution ``r -> c_out`` (weight
``U_r sqrt(S_r)``, the original bias). A linear layer becomes two linears the same way. At full rank
the product is the original weight, so the pair computes the same function.

Per output position the layer costs ``c_out c_in k k`` multiply-adds and the pair ``r (c_in k k +
c_out)``: a layer is factorized only when the second is smaller (on a 1x1 convolution that needs
``r < c_in c_out / (c_in + c_out)``, below half the rank of a square one). Grouped and depthwise
convolutions are left alone: their weight is already block-diagonal. Untrained weights have no
low-rank structure, so the what-if prices the shape; accuracy is the fine-tuning's business.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from netprof.errors import NetprofError


class FactorizationError(NetprofError):
    """A rank fraction outside (0, 1]."""


def kept_rank(full_rank: int, fraction: float) -> int:
    """``round(fraction * full_rank)``, at least 1."""
    return max(1, round(fraction * full_rank))


def saves_compute(rows: int, columns: int, rank: int) -> bool:
    """Whether a ``rows x columns`` weight (rows = output channels) costs more than its rank-``rank`` pair."""
    return rank * (rows + columns) < rows * columns


def _split(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(left [rows, rank], right [rank, columns])`` with ``left @ right`` the best rank-``rank`` fit."""
    u, s, vh = torch.linalg.svd(weight.detach().double(), full_matrices=False)
    root = s[:rank].sqrt()
    return (u[:, :rank] * root).to(weight.dtype), (root[:, None] * vh[:rank]).to(weight.dtype)


def factorize_conv(conv: nn.Conv2d, rank: int) -> nn.Sequential:
    """``conv`` as a thin kxk convolution to ``rank`` channels and a 1x1 convolution back."""
    rows, columns = conv.out_channels, conv.in_channels * math.prod(conv.kernel_size)
    left, right = _split(conv.weight.reshape(rows, columns), rank)
    thin = nn.Conv2d(
        conv.in_channels,
        rank,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        bias=False,
        padding_mode=conv.padding_mode,
    )
    back = nn.Conv2d(rank, conv.out_channels, 1, bias=conv.bias is not None)
    with torch.no_grad():
        thin.weight.copy_(right.reshape(thin.weight.shape))
        back.weight.copy_(left.reshape(back.weight.shape))
        if conv.bias is not None:
            back.bias.copy_(conv.bias)
    return nn.Sequential(thin, back).to(conv.weight.device)


def factorize_linear(linear: nn.Linear, rank: int) -> nn.Sequential:
    """``linear`` as ``in -> rank`` (no bias) then ``rank -> out`` (its bias)."""
    left, right = _split(linear.weight, rank)
    first = nn.Linear(linear.in_features, rank, bias=False)
    second = nn.Linear(rank, linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        first.weight.copy_(right)
        second.weight.copy_(left)
        if linear.bias is not None:
            second.bias.copy_(linear.bias)
    return nn.Sequential(first, second).to(linear.weight.device)


def _factorized(module: nn.Module, fraction: float) -> nn.Sequential | None:
    """The factorized pair of ``module``, or None where factorizing it would not save compute."""
    if isinstance(module, nn.Conv2d) and module.groups == 1 and type(module) is nn.Conv2d:
        rows, columns = module.out_channels, module.in_channels * math.prod(module.kernel_size)
        rank = kept_rank(min(rows, columns), fraction)
        return factorize_conv(module, rank) if saves_compute(rows, columns, rank) else None
    if type(module) is nn.Linear:
        rows, columns = module.out_features, module.in_features
        rank = kept_rank(min(rows, columns), fraction)
        return factorize_linear(module, rank) if saves_compute(rows, columns, rank) else None
    return None


def factorize(model: nn.Module, fraction: float) -> tuple[nn.Module, list[str]]:
    """A deep copy of ``model`` with every conv2d and linear that gains from it factorized, keeping
    ``fraction`` of its rank; and the paths factorized (each now a two-layer ``nn.Sequential``)."""
    if not 0 < fraction <= 1:
        raise FactorizationError(f"a rank fraction is in (0, 1], got {fraction:g}")
    factorized = copy.deepcopy(model)
    done = []
    for path, module in list(factorized.named_modules()):
        pair = _factorized(module, fraction) if path else None
        if pair is not None:
            parent, _, name = path.rpartition(".")
            setattr(factorized.get_submodule(parent), name, pair)
            done.append(path)
    return factorized, done
