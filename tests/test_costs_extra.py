"""Formulas added for ops the torchvision sweep found uncounted: the quantized (int8) kernels.

Quantized kernels only run on real CPU tensors, so these analyses fall back to a real run.
Convention as for float ops: multiply-adds of the product; one flop per output element for the
bias add, the requantization and each fused op; the packed weight and bias are read once.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.ao.nn import quantized as nnq

import netprof

QUINT8 = 1  # bytes per element of the activations
QINT8 = 1  # bytes per element of the packed weight
F32 = 4  # the packed bias stays float32

# torch warns that quantized tensor creation is deprecated; the kernels are what is tested.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _q(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.quantize_per_tensor(torch.rand(shape), 0.05, 0, torch.quint8)


def _only(analysis: netprof.Analysis, op: str):
    (node,) = [node for node in analysis.ops if node.op == op]
    return node


def test_quantized_grouped_conv() -> None:
    conv = nnq.Conv2d(4, 8, 3, padding=1, groups=2)
    analysis = netprof.analyze(conv, _q((1, 4, 5, 5)))
    assert analysis.mode == "real"
    node = _only(analysis, "quantized.conv2d.new")
    assert node.category == "group_conv"
    # output 1 * 8 * 5 * 5 = 200 elements, each 4 / 2 = 2 input channels x 3 * 3 taps: 200 * 2 * 9 = 3600
    assert node.mult_adds == 3600
    # 2 * 3600 + 200 bias adds + 200 requantizations = 7600
    assert node.flops == 7600
    # input 100 + output 200 (quint8) + weight 8 * 2 * 3 * 3 = 144 (qint8) + bias 8 * 4 = 32: 476
    assert node.mem_access_bytes == 100 * QUINT8 + 200 * QUINT8 + 144 * QINT8 + 8 * F32
    assert analysis.uncounted == {}


def test_quantized_conv_relu_adds_one_flop_per_output() -> None:
    conv = torch.ao.nn.intrinsic.quantized.ConvReLU2d(3, 2, 1, bias=False)
    node = _only(netprof.analyze(conv, _q((1, 3, 4, 4))), "quantized.conv2d_relu.new")
    assert node.category == "conv"
    # output 1 * 2 * 4 * 4 = 32 elements x 3 input channels x 1 tap = 96
    assert node.mult_adds == 96
    # 2 * 96 + 32 requantizations + 32 relus (no bias) = 256
    assert node.flops == 256


def test_quantized_linear() -> None:
    linear = nnq.Linear(5, 3)
    node = _only(netprof.analyze(linear, _q((2, 5))), "quantized.linear.default")
    assert node.category == "gemm"
    # 2 rows x 5 inputs x 3 outputs = 30
    assert node.mult_adds == 30
    # 2 * 30 + 6 bias adds + 6 requantizations = 72
    assert node.flops == 72
    # input 10 + output 6 (quint8) + weight 15 (qint8) + bias 3 * 4 = 12: 43
    assert node.mem_access_bytes == 10 + 6 + 15 + 12


class _AddCat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ops = nnq.QFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.cat([self.ops.add_relu(x, x), x], dim=1)


def test_quantized_elementwise_and_cat() -> None:
    analysis = netprof.analyze(_AddCat(), _q((1, 2, 3, 3)))
    add = _only(analysis, "quantized.add_relu.default")
    # 1 * 2 * 3 * 3 = 18 outputs, one flop each
    assert (add.category, add.mult_adds, add.flops) == ("elementwise", 0, 18)
    cat = _only(analysis, "quantized.cat.default")
    # reads 18 + 18 bytes, writes 36: no arithmetic
    assert (cat.category, cat.flops, cat.mem_access_bytes) == ("data_movement", 0, 72)
    assert analysis.uncounted == {}


def test_quantize_and_dequantize_are_elementwise() -> None:
    model = nn.Sequential(torch.ao.quantization.QuantStub(), torch.ao.quantization.DeQuantStub())
    model.eval()
    model.qconfig = torch.ao.quantization.default_qconfig
    prepared = torch.ao.quantization.prepare(model)
    prepared(torch.rand(2, 3))
    converted = torch.ao.quantization.convert(prepared)
    analysis = netprof.analyze(converted, torch.rand(2, 3))
    for op in ("aten.quantize_per_tensor.default", "aten.dequantize.self"):
        node = _only(analysis, op)
        # 2 * 3 = 6 elements, one scale-and-shift each
        assert (node.category, node.flops) == ("elementwise", 6)
    assert analysis.uncounted == {}
