"""Convolution formulas, each value computed by hand.

Dense convolution: every output element gathers ``c_in / groups`` inputs per kernel
tap, so ``mult_adds = out.numel * (c_in / groups) * prod(kernel)``. Transposed
convolution scatters every input element into ``c_out / groups`` outputs per tap:
``mult_adds = in.numel * (c_out / groups) * prod(kernel)``. Padded taps count,
as in FlopCounterMode and torchvision's ``_ops``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netprof

F32 = 4  # bytes per float32 element


def conv_node(analysis: netprof.Analysis):
    (node,) = [op for op in analysis.ops if op.op == "aten.convolution.default"]
    return node


@pytest.mark.parametrize("mode", ["meta", "fake", "real"])
def test_dense_conv2d_without_bias(mode: str) -> None:
    model = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(2, 3, 10, 10), mode=mode))
    assert node.category == "conv"
    # output [2, 8, 10, 10] = 1600 elements, each 3 channels * 3 * 3 taps
    # 1600 * 3 * 9 = 43200
    assert node.mult_adds == 43200
    # 2 * 43200 = 86400, no bias
    assert node.flops == 86400
    # input 2*3*10*10 = 600, weight 8*3*3*3 = 216, output 1600: (600 + 216 + 1600) * 4 = 9664
    assert node.mem_access_bytes == 9664


def test_bias_adds_one_flop_per_output_element() -> None:
    model = nn.Conv2d(3, 8, 3, padding=1, bias=True)
    node = conv_node(netprof.analyze(model, torch.randn(2, 3, 10, 10), mode="meta"))
    # 43200 multiply-adds as without bias
    assert node.mult_adds == 43200
    # 2 * 43200 + 1600 (one add per output element) = 88000
    assert node.flops == 88000
    # 9664 + 8 bias elements * 4 = 9696
    assert node.mem_access_bytes == 9696


def test_group_conv() -> None:
    model = nn.Conv2d(4, 6, 3, groups=2, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 4, 8, 8), mode="meta"))
    assert node.category == "group_conv"
    # output [1, 6, 6, 6] = 216, c_in / g = 4 / 2 = 2: 216 * 2 * 9 = 3888
    assert node.mult_adds == 3888
    assert node.flops == 2 * 3888


def test_depthwise_conv() -> None:
    model = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    node = conv_node(netprof.analyze(model, torch.randn(1, 8, 5, 5), mode="meta"))
    assert node.category == "depthwise_conv"
    # output [1, 8, 5, 5] = 200, one input channel per group: 200 * 1 * 9 = 1800
    assert node.mult_adds == 1800
    # 2 * 1800 + 200 bias adds = 3800
    assert node.flops == 3800


def test_depthwise_conv_with_channel_multiplier() -> None:
    model = nn.Conv2d(4, 8, 3, groups=4, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 4, 5, 5), mode="meta"))
    # groups == c_in: still depthwise, two filters per input channel
    assert node.category == "depthwise_conv"
    # output [1, 8, 3, 3] = 72, 1 channel per group: 72 * 1 * 9 = 648
    assert node.mult_adds == 648


def test_stride() -> None:
    model = nn.Conv2d(3, 4, 3, stride=2, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 3, 9, 9), mode="meta"))
    # output side (9 - 3) / 2 + 1 = 4: [1, 4, 4, 4] = 64; 64 * 3 * 9 = 1728
    assert node.mult_adds == 1728


def test_padding_counts_padded_taps() -> None:
    model = nn.Conv2d(3, 4, 3, padding=2, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 3, 5, 5), mode="meta"))
    # output side 5 + 2 * 2 - 3 + 1 = 7: [1, 4, 7, 7] = 196; 196 * 3 * 9 = 5292
    assert node.mult_adds == 5292


def test_dilation() -> None:
    model = nn.Conv2d(2, 3, 3, dilation=2, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 2, 9, 9), mode="meta"))
    # dilated kernel spans 2 * (3 - 1) + 1 = 5; output side 9 - 5 + 1 = 5: [1, 3, 5, 5] = 75
    # 75 * 2 * 9 = 1350 (dilation spreads the taps, it does not add any)
    assert node.mult_adds == 1350


@pytest.mark.parametrize("mode", ["meta", "real"])
def test_transposed_conv_with_groups_and_stride(mode: str) -> None:
    model = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    analysis = netprof.analyze(model, torch.randn(1, 4, 5, 5), mode=mode)
    node = conv_node(analysis)
    assert node.category == "group_conv"
    # output side (5 - 1) * 2 + 3 = 11: [1, 6, 11, 11] = 726 elements
    assert node.output_metas[0].shape == (1, 6, 11, 11)
    # every input element (1 * 4 * 5 * 5 = 100) meets c_out / g = 3 filters of 3 * 3 taps
    # 100 * 3 * 9 = 2700
    assert node.mult_adds == 2700
    # 2 * 2700 + 726 bias adds = 6126
    assert node.flops == 6126
    # input 100, weight [4, 3, 3, 3] = 108, bias 6, output 726: (100 + 108 + 6 + 726) * 4 = 3760
    assert node.mem_access_bytes == 3760


def test_transposed_conv_matches_dense_conv_it_is_the_gradient_of() -> None:
    # A stride-1, padding-0 transposed conv c_in -> c_out does exactly the multiply-adds
    # of the dense conv c_out -> c_in whose input gradient it computes.
    transposed = nn.ConvTranspose2d(2, 5, 3, bias=False)
    node = conv_node(netprof.analyze(transposed, torch.randn(1, 2, 4, 4), mode="meta"))
    # in 1 * 2 * 4 * 4 = 32 elements * 5 * 9 = 1440
    assert node.mult_adds == 1440
    dense = nn.Conv2d(5, 2, 3, bias=False)
    # dense output [1, 2, 4, 4] = 32 from a [1, 5, 6, 6] input: 32 * 5 * 9 = 1440
    assert conv_node(netprof.analyze(dense, torch.randn(1, 5, 6, 6), mode="meta")).mult_adds == 1440


def test_depthwise_transposed_conv() -> None:
    model = nn.ConvTranspose2d(4, 4, 3, groups=4, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(1, 4, 5, 5), mode="meta"))
    assert node.category == "depthwise_conv"
    # 100 input elements * 1 * 9 = 900
    assert node.mult_adds == 900


def test_conv1d() -> None:
    model = nn.Conv1d(3, 5, 3, bias=False)
    node = conv_node(netprof.analyze(model, torch.randn(2, 3, 10), mode="meta"))
    # output [2, 5, 8] = 80; 80 * 3 * 3 = 720
    assert node.mult_adds == 720
    assert node.flops == 1440


def test_conv3d_with_bias() -> None:
    model = nn.Conv3d(2, 4, 3)
    node = conv_node(netprof.analyze(model, torch.randn(1, 2, 5, 5, 5), mode="meta"))
    # output [1, 4, 3, 3, 3] = 108; 108 * 2 * 27 = 5832
    assert node.mult_adds == 5832
    # 2 * 5832 + 108 = 11772
    assert node.flops == 11772


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight)


def test_functional_conv_is_counted() -> None:
    node = conv_node(netprof.analyze(_Functional(), torch.randn(1, 3, 4, 4), mode="meta"))
    # output [1, 6, 4, 4] = 96; 96 * 3 * 1 = 288
    assert node.mult_adds == 288
