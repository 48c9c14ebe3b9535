"""Memory access cost (ShuffleNet V2's MAC) in bytes, checked against the paper's formulas.

G1: a bias-free 1x1 conv c1 -> c2 on an h x w map (batch 1) reads h*w*c1 inputs and
c1*c2 weights and writes h*w*c2 outputs: MAC = h*w*(c1 + c2) + c1*c2 elements.
G2: with g groups the weights shrink to c1*c2/g: MAC = h*w*(c1 + c2) + c1*c2/g.
"""

from __future__ import annotations

import pytest
import torch
from fixtures.wrappers import Fn
from torch import nn

import netprof
from netprof.capture.ir import TensorMeta


@pytest.mark.parametrize(
    ("dtype", "mode"),
    [
        (torch.float32, "meta"),
        (torch.float32, "real"),
        (torch.float16, "meta"),
        (torch.bfloat16, "meta"),
        (torch.bfloat16, "real"),
    ],
)
def test_g1_pointwise_conv_mac(dtype: torch.dtype, mode: str) -> None:
    h = w = 7
    c1, c2 = 16, 32
    model = nn.Conv2d(c1, c2, 1, bias=False).to(dtype)
    analysis = netprof.analyze(model, torch.randn(1, c1, h, w, dtype=dtype), mode=mode)
    (node,) = analysis.ops
    # 7 * 7 * (16 + 32) + 16 * 32 = 2352 + 512 = 2864 elements
    assert h * w * (c1 + c2) + c1 * c2 == 2864
    assert node.mem_access_bytes == 2864 * dtype.itemsize
    # B = h * w * c1 * c2 = 49 * 512 = 25088 multiply-adds
    assert node.mult_adds == 25088


def test_g2_group_conv_mac() -> None:
    model = nn.Conv2d(16, 32, 1, groups=4, bias=False)
    (node,) = netprof.analyze(model, torch.randn(1, 16, 7, 7), mode="meta").ops
    # 49 * (16 + 32) + 16 * 32 / 4 = 2352 + 128 = 2480 elements * 4 bytes = 9920
    assert node.mem_access_bytes == 9920
    # B = 49 * 16 * 32 / 4 = 6272
    assert node.mult_adds == 6272


def test_bfloat16_halves_mem_access_but_not_the_counts() -> None:
    def model() -> nn.Module:
        torch.manual_seed(0)
        # (no batch norm: its saved mean and rstd stay float32 under a bfloat16 input)
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))

    x = torch.randn(2, 3, 6, 6)
    full = netprof.analyze(model(), x, mode="meta")
    half = netprof.analyze(model().to(torch.bfloat16), x.to(torch.bfloat16), mode="meta")
    # conv: x 2*3*6*6 = 216, w 8*3*3*3 = 216, b 8, out 2*8*4*4 = 256 -> 696
    # relu: 256 in, 256 out -> 512; flatten: a view -> 0
    # linear (addmm): b 10, x 256, w 1280, out 20 -> 1566; 696 + 512 + 1566 = 2774 elements
    assert full.totals.mem_access_bytes == 2774 * 4
    assert half.totals.mem_access_bytes == 2774 * 2
    assert (half.totals.mult_adds, half.totals.flops) == (full.totals.mult_adds, full.totals.flops)
    # conv: output [2, 8, 4, 4] = 256 * 3 * 9 = 6912; linear: 2 * 128 * 10 = 2560; 6912 + 2560 = 9472
    assert full.totals.mult_adds == 9472


def test_broadcast_operand_counted_once() -> None:
    fn = Fn(lambda x, b: x + b.expand(3, 4))
    analysis = netprof.analyze(fn, (torch.randn(3, 4), torch.randn(1, 4)), mode="meta")
    (add,) = [op for op in analysis.ops if op.op == "aten.add.Tensor"]
    # x 12 elements, the expanded b stored as 4 (stride 0 on dim 0), out 12: (12 + 4 + 12) * 4 = 112
    assert add.mem_access_bytes == 112
    # the expand itself is a view: free
    assert analysis.totals.mem_access_bytes == 112


def test_tensor_meta_nbytes() -> None:
    # contiguous [2, 3] float32: 6 * 4 = 24
    assert TensorMeta((2, 3), torch.float32, (3, 1)).nbytes == 24
    # [4, 5] expanded from [1, 5] (stride 0 on dim 0): 5 * 4 = 20
    assert TensorMeta((4, 5), torch.float32, (0, 1)).nbytes == 20
    # a transposed [3, 2] view of [2, 3] bfloat16 still holds 6 * 2 = 12 bytes
    assert TensorMeta((3, 2), torch.bfloat16, (1, 3)).nbytes == 12
    # a 0-d float64 scalar: 8
    assert TensorMeta((), torch.float64, ()).nbytes == 8


@pytest.mark.parametrize(
    "op",
    [
        torch.ops.aten.add.out,
        torch.ops.aten.mm.out,
        torch.ops.aten.relu_.default,
        torch.ops.aten.view.default,
    ],
)
def test_ops_that_write_into_or_alias_an_argument_are_run_not_cached(op):
    """Decided without ``torch.Tag.out`` and, where torch lacks it, ``torch.Tag.inplace``: torch 2.11 has
    neither, and netprof failed on every real CUDA capture there. An in-place op updates its own argument
    (``_SELF``)."""
    from netprof.capture.dispatch import _RUN, _SELF, _plan

    assert _plan(op) == (_SELF if op is torch.ops.aten.relu_.default else _RUN)
