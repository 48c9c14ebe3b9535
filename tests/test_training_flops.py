"""Training steps (forward + backward of ``output.sum()``) against PyTorch's FlopCounterMode.

FlopCounterMode (``torch.utils.flop_counter``) counts 2 flops per multiply-add of its
products (mm, addmm, bmm, baddbmm, convolution, convolution_backward, the fused attention
kernels and their backward), and nothing else: exactly what netprof's ``mult_adds`` cover.
So a whole training step must give ``netprof mult_adds == FlopCounterMode total // 2``,
and it does, up to two differences in FlopCounterMode that each test names and measures:

* **Grouped convolutions' weight gradient.** ``conv_backward_flop`` counts the weight
  gradient of a grouped convolution as ``conv(t(input), t(grad_output))`` over all ``c_in``
  channels, where each filter sees only ``c_in / groups``: ``groups`` times the real
  multiply-adds (a depthwise 3x3 layer of 96 channels: 96 times). pytorch/pytorch#183405
  divides that term by ``groups``. netprof counts the real multiply-adds (the forward's,
  per group), so on MobileNet and ShuffleNet it is below FlopCounterMode by exactly
  ``(groups - 1) x`` the forward multiply-adds of every grouped convolution, measured
  here independently with forward hooks.
* **Attention on the CPU.** FlopCounterMode has no formula for
  ``_scaled_dot_product_flash_attention_for_cpu`` nor its backward (only for the CUDA
  kernels), so it counts 0 for ViT's attention on the CPU; netprof counts it with
  FlopCounterMode's own CUDA formulas (``sdpa_flop_count``, ``sdpa_backward_flop_count``).

Each comparison is also made against FlopCounterMode with those two fixed
(``custom_mapping``), which must equal netprof exactly.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchvision
from fixtures.training import ForwardBackward
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.ops import aten
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

import netprof
from netprof.analysis import build
from netprof.capture.run import capture


def netprof_step(model: nn.Module, *inputs: Any, mode: str = "real") -> netprof.Analysis:
    analysis = build(model, capture(model, ForwardBackward(*inputs), mode), type(model).__name__, (), ())
    model.zero_grad(set_to_none=True)
    assert analysis.uncounted == {}
    return analysis


# --- FlopCounterMode, as shipped and with its two differences fixed -------------------------


def _t(shape: Any) -> list[int]:
    return [shape[1], shape[0], *shape[2:]]


def conv_backward_per_group(
    grad_out_shape,
    x_shape,
    w_shape,
    _bias,
    _stride,
    _padding,
    _dilation,
    transposed,
    _output_padding,
    groups,
    output_mask,
    out_shape=None,
    **kwargs,
) -> int:
    """FlopCounterMode's ``conv_backward_flop`` with the weight gradient counted per group.

    The fix of pytorch/pytorch#183405: the transposed shapes of the weight-gradient term
    lose the division by ``groups`` that the weight's shape carries in the forward.
    """
    flops = 0
    if output_mask[0]:
        flops += flop_counter.conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        if transposed:
            weight = flop_counter.conv_flop_count(_t(grad_out_shape), _t(x_shape), _t(out_shape[1]), False)
        else:
            weight = flop_counter.conv_flop_count(_t(x_shape), _t(grad_out_shape), _t(out_shape[1]), False)
        flops += weight // groups
    return flops


def cpu_flash_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FlopCounterMode's formula for the CUDA kernels, for the CPU one it has none for."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def cpu_flash_attention_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


FIXED = {
    aten.convolution_backward: conv_backward_per_group,
    aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash_attention,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: cpu_flash_attention_backward,
}


def flop_counter_step(model: nn.Module, *inputs: Any, fixed: bool = False) -> dict[Any, int]:
    """FlopCounterMode's flops of one training step, per op packet."""
    model.train()
    with FlopCounterMode(display=False, custom_mapping=FIXED if fixed else None) as counter:
        model(*inputs).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_flop_counts()["Global"]


def grouped_conv_overcount(model: nn.Module, x: torch.Tensor) -> int:
    """``(groups - 1) x`` the forward multiply-adds of every grouped ``nn.Conv2d`` (forward hooks)."""
    extra = 0

    def hook(module: nn.Conv2d, args: Any, out: torch.Tensor) -> None:
        nonlocal extra
        if module.groups > 1 and module.weight.requires_grad:
            per_group = out.numel() * module.weight.shape[1] * math.prod(module.kernel_size)
            extra += (module.groups - 1) * per_group

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return extra


# --- small networks: equal to FlopCounterMode as shipped ------------------------------------


def test_mlp() -> None:
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 10))
    x = torch.randn(8, 32)
    analysis = netprof_step(model, x)
    # forward 8 * (32 * 64 + 64 * 64 + 64 * 10) = 8 * 6784 = 54272; backward: every weight's gradient
    # (54272 again) and the input gradients of the last two layers, 8 * (4096 + 640) = 37888
    assert analysis.totals.mult_adds == 54272 + 54272 + 37888 == 146432
    assert analysis.totals.mult_adds == sum(flop_counter_step(model, x).values()) // 2


def test_small_cnn() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    x = torch.randn(2, 3, 16, 16)
    analysis = netprof_step(model, x)
    # forward: conv1 [2, 8, 16, 16] = 4096 * 27 = 110592; conv2 [2, 16, 8, 8] = 2048 * 72 = 147456;
    # linear 2 * 16 * 10 = 320: 258368. Backward: conv1's weight gradient only (110592), conv2's
    # input and weight gradients (294912), the linear's two (640): 406144
    assert analysis.totals.mult_adds == 258368 + 406144 == 664512
    assert analysis.totals.mult_adds == sum(flop_counter_step(model, x).values()) // 2


# --- PyTorch's own test_flop_counter.py cases, numbers by hand ------------------------------


class Conv(nn.Module):
    def __init__(self, weight: torch.Tensor, transposed: bool, groups: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.transposed, self.groups = transposed, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv_transpose2d if self.transposed else F.conv2d
        return conv(x, self.weight, groups=self.groups)


def _conv_counts(analysis: netprof.Analysis) -> tuple[int, int]:
    (forward,) = [n.mult_adds for n in analysis.ops if n.op == "aten.convolution.default"]
    (backward,) = [n.mult_adds for n in analysis.ops if n.op == "aten.convolution_backward.default"]
    return forward, backward


def test_conv_backward_cases_of_pytorch() -> None:
    # test_convs: conv_transpose2d of [1, 1, 2, 2] by [1, 1, 2, 2], both with gradients:
    # forward 32 flops = 16 multiply-adds (4 inputs * 4 taps), backward twice that
    x = torch.rand(1, 1, 2, 2, requires_grad=True)
    assert _conv_counts(netprof_step(Conv(torch.randn(1, 1, 2, 2), True), x)) == (16, 32)
    # conv2d of [1, 1, 2, 2] by [1, 1, 1, 1]: forward 8 flops = 4, backward 8
    assert _conv_counts(netprof_step(Conv(torch.randn(1, 1, 1, 1), False), x)) == (4, 8)


@pytest.mark.parametrize(
    ("in_channels", "out_channels", "groups", "conv", "transposed"),
    [
        # x [1, c_in, 4, 4], 2 x 2 kernels. conv: output 3 x 3, 9 * c_out * (c_in / g) * 4 = 36 c_out c_in / g;
        # transposed: 16 * c_in inputs, each into c_out / g outputs * 4 taps = 64 c_in c_out / g
        (1, 1, 1, 36, 64),
        (1, 3, 1, 108, 192),
        (3, 1, 1, 108, 192),
        (3, 7, 1, 756, 1344),
        (2, 4, 2, 144, 256),
        (4, 2, 2, 144, 256),
    ],
)
def test_conv_backward_is_twice_the_forward(in_channels, out_channels, groups, conv, transposed) -> None:
    # test_convs: forward * 2 == backward, here with the groups the newer test passes too
    x = torch.rand(1, in_channels, 4, 4, requires_grad=True)
    for weight, is_transposed, expected in [
        (torch.randn(out_channels, in_channels // groups, 2, 2), False, conv),
        (torch.randn(in_channels, out_channels // groups, 2, 2), True, transposed),
    ]:
        model = Conv(weight, is_transposed, groups)
        assert _conv_counts(netprof_step(model, x)) == (expected, 2 * expected)
        counts = flop_counter_step(model, x)
        assert counts[aten.convolution] == 2 * expected
        # FlopCounterMode as shipped counts the weight gradient over every input channel: g times
        # the real count (pytorch/pytorch#183405), (1 + g) x forward in all; per group it is 2 x.
        assert counts[aten.convolution_backward] in (2 * 2 * expected, 2 * (1 + groups) * expected)
        assert flop_counter_step(model, x, fixed=True)[aten.convolution_backward] == 2 * 2 * expected


def test_conv_transpose_step_of_pytorch() -> None:
    # test_conv_transpose_loop: ConvTranspose2d(4, 8, (2, 2), stride=2) on [1, 4, 30, 2], 50 steps,
    # 1536000 flops: 30720 per step = 15360 multiply-adds. Forward 240 inputs * 8 * 4 taps = 7680;
    # the input needs no gradient, so the backward is the weight gradient alone, 7680 again.
    analysis = netprof_step(nn.ConvTranspose2d(4, 8, (2, 2), stride=2), torch.rand(1, 4, 30, 2))
    assert _conv_counts(analysis) == (7680, 7680)
    assert analysis.totals.mult_adds == 15360 == 1536000 // 50 // 2


class Attention(nn.Module):
    def __init__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: SDPBackend) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Parameter(q), nn.Parameter(k), nn.Parameter(v)
        self.backend = backend

    def forward(self) -> torch.Tensor:
        with sdpa_kernel(self.backend):
            return F.scaled_dot_product_attention(self.q, self.k, self.v, dropout_p=0, is_causal=True)


@pytest.mark.parametrize(
    ("kv_len", "backend", "mult_adds"),
    [
        # test_sdpa: B = 4, h = 8, L = 128, E = Ev = 64, causal. Forward 4 * 8 * 128 * 128 * 128
        # = 67108864 (134217728 flops); the fused backward 2.5 x forward: 7 / 2 x forward in all
        (128, SDPBackend.FLASH_ATTENTION, 234881024),
        # the math path: two bmm forward, four backward: 3 x forward
        (128, SDPBackend.MATH, 201326592),
        # S = 256: forward 134217728 (268435456 flops); fused 939524096 flops, math 805306368
        (256, SDPBackend.FLASH_ATTENTION, 469762048),
        (256, SDPBackend.MATH, 402653184),
    ],
)
def test_sdpa_backward_cases_of_pytorch(kv_len: int, backend: SDPBackend, mult_adds: int) -> None:
    q, kv = torch.randn(4, 8, 128, 64), torch.randn(4, 8, kv_len, 64)
    analysis = netprof_step(Attention(q, kv, kv.clone(), backend), mode="fake")
    assert analysis.totals.mult_adds == mult_adds


# --- whole networks -------------------------------------------------------------------------


def _torchvision(name: str) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, weights=None)


@pytest.mark.slow
def test_resnet18() -> None:
    model, x = _torchvision("resnet18"), torch.randn(2, 3, 64, 64)
    analysis = netprof_step(model, x)
    assert analysis.totals.mult_adds == sum(flop_counter_step(model, x).values()) // 2


@pytest.mark.slow
def test_resnet18_of_pytorch() -> None:
    # test_module: batch 1 at 224 x 224, the input with a gradient too: 10884440064 flops, three
    # times the forward's 1814073344 multiply-adds
    model = _torchvision("resnet18")
    analysis = netprof_step(model, torch.randn(1, 3, 224, 224, requires_grad=True), mode="fake")
    assert analysis.totals.mult_adds == 10884440064 // 2 == 3 * 1814073344


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0"])
def test_grouped_convolution_networks(name: str) -> None:
    model, x = _torchvision(name), torch.randn(2, 3, 64, 64)
    analysis = netprof_step(model, x)
    assert analysis.totals.mult_adds == sum(flop_counter_step(model, x, fixed=True).values()) // 2
    # FlopCounterMode as shipped: above netprof by exactly (g - 1) x the forward of every grouped
    # (here depthwise) convolution, its weight gradient counted over every input channel
    shipped = sum(flop_counter_step(model, x).values()) // 2
    overcount = grouped_conv_overcount(model, x)
    assert overcount > 0
    assert shipped - analysis.totals.mult_adds in (0, overcount)  # 0 once torch has the fix


@pytest.mark.slow
def test_vit_b_16() -> None:
    model, x = _torchvision("vit_b_16"), torch.randn(1, 3, 224, 224)
    analysis = netprof_step(model, x, mode="fake")
    assert analysis.totals.mult_adds == sum(flop_counter_step(model, x, fixed=True).values()) // 2
    # FlopCounterMode as shipped counts 0 for the CPU's fused attention. 12 layers of 12 heads,
    # 197 tokens, head size 64: forward 12 * 197 * 197 * (64 + 64) = 59610624 a layer, backward
    # 12 * 197 * 197 * (3 * 64 + 2 * 64) = 149026560: 12 * (59610624 + 149026560) = 2503646208
    attention = [n for n in analysis.ops if n.category == "attention"]
    assert sum(n.mult_adds for n in attention) == 2503646208
    shipped = sum(flop_counter_step(model, x).values()) // 2
    assert analysis.totals.mult_adds - shipped in (0, 2503646208)  # 0 once torch counts the CPU kernel
