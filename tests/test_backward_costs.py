"""Backward-pass formulas, each value computed by hand.

A training step (``model(*inputs).sum().backward()``) is captured and the backward op
under test is priced. The conventions are the forward's (``netprof.costs.types``):

* ``convolution_backward``: each gradient that ``output_mask`` asks for costs the
  forward's multiply-adds (grad_input is the transposed convolution, grad_weight the
  correlation of input and grad_output, both per group); grad_bias is a reduction,
  one flop per element of the ``c_out`` it produces.
* normalization backward: one flop per element of every gradient produced.
* pooling backward: one flop per element of grad_input.
* fused attention backward: ``B * h * L * S * (3E + 2Ev)`` multiply-adds (FlopCounterMode's
  five products), plus one flop per score for the recomputed softmax, one for its
  gradient, and one for a re-added mask.
* activation and loss gradients: one flop per element of grad_input.
* data movement backward: no flops, except ``embedding_dense_backward`` and the embedding
  bag (one flop per element scattered or gathered).

The CUDA-only kernels are checked on hand-made ``OpCall``s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from fixtures.training import ForwardBackward
from torch import nn
from torch.ops import aten

import netprof
from netprof.analysis import build
from netprof.capture.ir import OpCall, TensorMeta
from netprof.capture.run import capture
from netprof.costs import lookup
from netprof.costs.registry import elementwise_cost, registered

F32 = 4  # bytes per float32 element


def train_step(model: nn.Module, *inputs: Any, mode: str = "real") -> netprof.Analysis:
    analysis = build(model, capture(model, ForwardBackward(*inputs), mode), type(model).__name__, (), ())
    assert analysis.uncounted == {}
    return analysis


def the(analysis: netprof.Analysis, op: str):
    """The one node of ``op`` (``aten.`` and ``.default`` may be left out)."""
    name = op if "." in op else f"aten.{op}.default"
    (node,) = [n for n in analysis.ops if n.op == name]
    return node


class Fn(nn.Module):
    """``fn(*parameters, *inputs)``: the parameters are the tensors whose gradients are taken."""

    def __init__(self, fn: Callable[..., torch.Tensor], *parameters: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        self.params = nn.ParameterList([nn.Parameter(p) for p in parameters])

    def forward(self, *inputs: Any) -> torch.Tensor:
        return self.fn(*self.params, *inputs)


def meta(*shape: int) -> TensorMeta:
    return TensorMeta.of(torch.empty(shape))


# --- convolution_backward ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_conv_backward_weight_and_bias_gradients(mode: str) -> None:
    # The input needs no gradient: output_mask = [False, True, True].
    analysis = train_step(nn.Conv2d(3, 8, 3, padding=1), torch.randn(2, 3, 10, 10), mode=mode)
    forward, backward = the(analysis, "convolution"), the(analysis, "convolution_backward")
    # output [2, 8, 10, 10] = 1600 elements, each 3 channels * 9 taps: 43200
    assert forward.mult_adds == 43200
    # grad_weight alone: the same 43200; flops 2 * 43200 + 8 for grad_bias (one per channel)
    assert (backward.category, backward.mult_adds, backward.flops) == ("conv", 43200, 86408)


def test_conv_backward_with_input_gradient_and_frozen_weight() -> None:
    conv = nn.Conv2d(3, 4, 3)
    conv.weight.requires_grad_(False)
    backward = the(train_step(conv, torch.randn(1, 3, 5, 5, requires_grad=True)), "convolution_backward")
    # output_mask = [True, False, True]. Output [1, 4, 3, 3] = 36, * 3 * 9 = 972 for grad_input;
    # flops 2 * 972 + 4 (grad_bias) = 1948
    assert (backward.mult_adds, backward.flops) == (972, 1948)


def test_conv_backward_bias_gradient_only() -> None:
    conv = nn.Conv2d(3, 4, 3)
    conv.weight.requires_grad_(False)
    backward = the(train_step(conv, torch.randn(1, 3, 5, 5)), "convolution_backward")
    # output_mask = [False, False, True]: a reduction to 4 channels, no multiply-adds
    assert (backward.category, backward.mult_adds, backward.flops) == ("conv", 0, 4)


def test_conv_backward_strided_and_dilated() -> None:
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, bias=False)
    analysis = train_step(conv, torch.randn(1, 4, 9, 9, requires_grad=True))
    # out side (9 + 2 * 2 - 2 * (3 - 1) - 1) // 2 + 1 = 5: [1, 6, 5, 5] = 150, * 4 * 9 = 5400
    assert the(analysis, "convolution").mult_adds == 5400
    backward = the(analysis, "convolution_backward")
    # grad_input 5400 + grad_weight 5400 = 10800; no bias: flops 21600
    assert (backward.mult_adds, backward.flops) == (10800, 21600)


@pytest.mark.parametrize(
    ("conv", "x", "category", "forward"),
    [
        # output [1, 6, 6, 6] = 216, c_in / g = 2: 216 * 2 * 9 = 3888
        (nn.Conv2d(4, 6, 3, groups=2, bias=False), (1, 4, 8, 8), "group_conv", 3888),
        # output [1, 8, 5, 5] = 200, one channel per group: 200 * 9 = 1800
        (nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), (1, 8, 5, 5), "depthwise_conv", 1800),
        # conv1d: output [2, 6, 4] = 48, * 4 * 3 = 576
        (nn.Conv1d(4, 6, 3, bias=False), (2, 4, 6), "conv", 576),
        # conv3d: output [1, 3, 2, 2, 2] = 24, * 2 * 8 = 384
        (nn.Conv3d(2, 3, 2, bias=False), (1, 2, 3, 3, 3), "conv", 384),
    ],
)
def test_conv_backward_is_twice_the_forward_per_group(conv, x, category, forward) -> None:
    analysis = train_step(conv, torch.randn(x, requires_grad=True))
    assert the(analysis, "convolution").mult_adds == forward
    backward = the(analysis, "convolution_backward")
    # grad_input and grad_weight, each the forward's multiply-adds (c_in / g per filter)
    assert backward.category == category
    assert (backward.mult_adds, backward.flops) == (2 * forward, 4 * forward)


def test_transposed_conv_backward() -> None:
    conv = nn.ConvTranspose2d(3, 4, 3, stride=2, bias=False)
    analysis = train_step(conv, torch.randn(2, 3, 5, 5, requires_grad=True))
    # input [2, 3, 5, 5] = 150 elements, each scattered into 4 outputs * 9 taps: 5400
    assert the(analysis, "convolution").mult_adds == 5400
    backward = the(analysis, "convolution_backward")
    # grad_input is a plain convolution of grad_output: 5400 again; grad_weight 5400
    assert (backward.mult_adds, backward.flops) == (10800, 21600)


def test_conv_backward_formula_reads_the_output_mask() -> None:
    # [2, 8, 10, 10] = conv([2, 3, 10, 10], [8, 3, 3, 3]): 1600 * 27 = 43200 multiply-adds
    formula = lookup(aten.convolution_backward.default)
    args = (
        meta(2, 8, 10, 10),
        meta(2, 3, 10, 10),
        meta(8, 3, 3, 3),
        [8],
        [1, 1],
        [1, 1],
        [1, 1],
        False,
        [0, 0],
        1,
    )
    for mask, mult_adds, flops in [
        ([True, True, True], 86400, 172808),
        ([True, False, False], 43200, 86400),
        ([False, False, True], 0, 8),
        ([False, False, False], 0, 0),
    ]:
        cost = formula(OpCall((*args, mask), {}, ()))
        assert (cost.mult_adds, cost.flops) == (mult_adds, flops)


# --- normalization -------------------------------------------------------------------------


def _conv_then(layer: nn.Module) -> nn.Module:
    # conv output [2, 4, 4, 4] = 128 elements, the normalized input
    return nn.Sequential(nn.Conv2d(3, 4, 3), layer)


@pytest.mark.parametrize(
    ("layer", "op", "flops"),
    [
        # grad_input 128 + grad_weight 4 + grad_bias 4
        (nn.BatchNorm2d(4), "native_batch_norm_backward", 136),
        # no affine parameters: grad_input alone
        (nn.BatchNorm2d(4, affine=False), "native_batch_norm_backward", 128),
        # 128 + 4 + 4
        (nn.GroupNorm(2, 4), "native_group_norm_backward", 136),
        # instance norm runs batch norm on [1, 2 * 4, 4, 4] with the weight repeated per sample:
        # grad_input 128 + grad_weight 8 + grad_bias 8
        (nn.InstanceNorm2d(4, affine=True), "native_batch_norm_backward", 144),
    ],
)
@pytest.mark.parametrize("mode", ["real", "fake"])
def test_norm_backward_one_flop_per_gradient_element(layer, op, flops, mode) -> None:
    node = the(train_step(_conv_then(layer), torch.randn(2, 3, 6, 6), mode=mode), op)
    assert (node.category, node.mult_adds, node.flops) == ("normalization", 0, flops)


def test_layer_norm_backward() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    node = the(train_step(model, torch.randn(2, 3)), "native_layer_norm_backward")
    # grad_input [2, 4] = 8, grad_weight 4, grad_bias 4
    assert (node.category, node.mult_adds, node.flops) == ("normalization", 0, 16)


def test_norm_backward_on_a_model_input_computes_no_input_gradient() -> None:
    node = the(train_step(nn.LayerNorm(3), torch.randn(2, 3)), "native_layer_norm_backward")
    # output_mask = [False, True, True]: grad_weight 3 + grad_bias 3
    assert node.flops == 6


def test_frozen_batch_norm_backward() -> None:
    norm = nn.BatchNorm2d(4)
    norm.requires_grad_(False)
    node = the(train_step(_conv_then(norm), torch.randn(2, 3, 6, 6)), "native_batch_norm_backward")
    # output_mask = [True, False, False]
    assert node.flops == 128


def test_norm_backward_formulas_on_hand_made_calls() -> None:
    x, grad = meta(2, 4, 3, 3), meta(2, 4, 3, 3)  # 72 elements, 4 channels
    c = meta(4)
    # batch_norm_backward(grad_out, input, weight, running_mean, running_var, save_mean, save_var,
    #     update, eps, output_mask, reserve): 72 + 4 (grad_weight only)
    batch_norm = lookup(aten.batch_norm_backward.default)
    call = OpCall((grad, x, c, c, c, c, c, True, 1e-5, [True, True, False], meta(0)), {}, ())
    assert batch_norm(call).flops == 76
    # cudnn_batch_norm_backward(input, grad_output, weight, ...): all three, 72 + 4 + 4
    cudnn = lookup(aten.cudnn_batch_norm_backward.default)
    assert cudnn(OpCall((x, grad, c, c, c, c, c, 1e-5, meta(0)), {}, ())).flops == 80
    miopen = lookup(aten.miopen_batch_norm_backward.default)
    assert miopen(OpCall((x, grad, c, c, c, c, c, 1e-5), {}, ())).flops == 80
    # _fused_rms_norm_backward(grad_out, input [2, 3, 8], normalized_shape, rstd, weight, output_mask)
    rms = lookup(aten._fused_rms_norm_backward.default)
    x3, w = meta(2, 3, 8), meta(8)
    # 48 + 8, then 48 alone
    assert rms(OpCall((x3, x3, [8], meta(2, 3, 1), w, [True, True]), {}, ())).flops == 56
    assert rms(OpCall((x3, x3, [8], meta(2, 3, 1), w, [True, False]), {}, ())).flops == 48
    assert rms(OpCall((x3, x3, [8], meta(2, 3, 1), w, [True, True]), {}, ())).category == "normalization"


# --- pooling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "x", "op", "flops"),
    [
        # grad_input is the conv output, [2, 4, 4, 4] = 128
        (_conv_then(nn.MaxPool2d(2)), (2, 3, 6, 6), "max_pool2d_with_indices_backward", 128),
        (_conv_then(nn.AvgPool2d(2)), (2, 3, 6, 6), "avg_pool2d_backward", 128),
        (_conv_then(nn.AdaptiveAvgPool2d(3)), (2, 3, 6, 6), "_adaptive_avg_pool2d_backward", 128),
        (_conv_then(nn.AdaptiveMaxPool2d(2)), (2, 3, 6, 6), "adaptive_max_pool2d_backward", 128),
        (
            _conv_then(nn.FractionalMaxPool2d(2, output_size=2)),
            (2, 3, 6, 6),
            "fractional_max_pool2d_backward",
            128,
        ),
        # a 1d pool runs as a 2d one: conv1d output [2, 4, 4] = 32
        (
            nn.Sequential(nn.Conv1d(3, 4, 3), nn.MaxPool1d(2)),
            (2, 3, 6),
            "max_pool2d_with_indices_backward",
            32,
        ),
        # conv3d output [2, 4, 4, 4, 4] = 512
        (
            nn.Sequential(nn.Conv3d(3, 4, 3), nn.MaxPool3d(2)),
            (2, 3, 6, 6, 6),
            "max_pool3d_with_indices_backward",
            512,
        ),
        (nn.Sequential(nn.Conv3d(3, 4, 3), nn.AvgPool3d(2)), (2, 3, 6, 6, 6), "avg_pool3d_backward", 512),
        (
            nn.Sequential(nn.Conv3d(3, 4, 3), nn.AdaptiveAvgPool3d(2)),
            (2, 3, 6, 6, 6),
            "_adaptive_avg_pool3d_backward",
            512,
        ),
    ],
)
def test_pool_backward_one_flop_per_input_element(model, x, op, flops) -> None:
    node = the(train_step(model, torch.randn(x)), op)
    assert (node.category, node.mult_adds, node.flops) == ("pooling", 0, flops)


def test_max_pool_backward_memory() -> None:
    node = the(
        train_step(_conv_then(nn.MaxPool2d(2)), torch.randn(2, 3, 6, 6)), "max_pool2d_with_indices_backward"
    )
    # reads grad_output [2, 4, 2, 2] (a broadcast ones: 1 element stored), the input 128, the int64
    # indices 32; writes grad_input 128: (1 + 128 + 128) * 4 + 32 * 8 = 1284
    assert node.mem_access_bytes == 1284


# --- attention -----------------------------------------------------------------------------

FLASH_CPU_BACKWARD = "_scaled_dot_product_flash_attention_for_cpu_backward"


def _sdpa(**options: Any) -> Callable[..., torch.Tensor]:
    def attend(q, k, v, *mask):
        return F.scaled_dot_product_attention(q, k, v, *mask, **options)

    return attend


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_sdpa_backward_on_the_cpu(mode: str) -> None:
    q, kv = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 5, 8)
    analysis = train_step(Fn(_sdpa(), q, kv, kv.clone()), mode=mode)
    # forward: B * h = 2, L = 4, S = 5, E = Ev = 8: 2 * 4 * 5 * (8 + 8) = 640
    assert the(analysis, "_scaled_dot_product_flash_attention_for_cpu").mult_adds == 640
    node = the(analysis, FLASH_CPU_BACKWARD)
    # 2 * 4 * 5 * (3 * 8 + 2 * 8) = 40 * 40 = 1600, 2.5 times the forward
    # flops 2 * 1600 + 40 scores (softmax recomputed) + 40 (its gradient) = 3280
    assert (node.category, node.mult_adds, node.flops) == ("attention", 1600, 3280)


def test_sdpa_backward_with_a_mask_and_grouped_query_heads() -> None:
    q, kv = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 5, 8)
    masked = the(train_step(Fn(_sdpa(), q, kv, kv.clone()), torch.randn(4, 5)), FLASH_CPU_BACKWARD)
    # 3280 + 40, the mask added to the recomputed scores
    assert (masked.mult_adds, masked.flops) == (1600, 3320)
    q4 = torch.randn(1, 4, 4, 8)
    gqa = the(train_step(Fn(_sdpa(enable_gqa=True), q4, kv, kv.clone())), FLASH_CPU_BACKWARD)
    # 4 query heads over 2 kv heads: every query head counts, 4 * 4 * 5 * 40 = 3200;
    # 80 scores: 6400 + 160 = 6560
    assert (gqa.mult_adds, gqa.flops) == (3200, 6560)


def test_sdpa_backward_causal_counts_every_score() -> None:
    q = torch.randn(1, 2, 4, 8)
    node = the(train_step(Fn(_sdpa(is_causal=True), q, q.clone(), q.clone())), FLASH_CPU_BACKWARD)
    # L = S = 4: 2 * 4 * 4 * 40 = 1280, the whole score matrix
    assert node.mult_adds == 1280


def test_fused_sdpa_backward_formulas_read_gqa_and_mask_positions() -> None:
    # The CUDA kernels cannot run here; their formulas are checked on hand-made calls.
    grad_out, q = meta(2, 8, 16, 64), meta(2, 8, 16, 64)
    kv = meta(2, 2, 32, 64)
    bias = meta(2, 8, 16, 32)
    # B * h = 16 (the query's heads), L = 16, S = 32: 8192 scores;
    # 8192 * (3 * 64 + 2 * 64) = 8192 * 320 = 2621440 multiply-adds
    mult_adds, plain, masked = 2621440, 2 * 2621440 + 2 * 8192, 2 * 2621440 + 3 * 8192
    efficient = lookup(aten._scaled_dot_product_efficient_attention_backward.default)
    common = (meta(2, 8, 16, 64), meta(2, 8, 16), meta(2), meta(2), 0.0, [True, True, True, False], False)
    cost = efficient(OpCall((grad_out, q, kv, kv, bias, *common), {}, ()))
    assert (cost.category, cost.mult_adds, cost.flops) == ("attention", mult_adds, masked)
    assert efficient(OpCall((grad_out, q, kv, kv, None, *common), {}, ())).flops == plain
    flash = lookup(aten._scaled_dot_product_flash_attention_backward.default)
    cost = flash(
        OpCall((grad_out, q, kv, kv, meta(2, 8, 16, 64), meta(2, 8, 16), None, None, 16, 32), {}, ())
    )
    assert (cost.mult_adds, cost.flops) == (mult_adds, plain)
    # cudnn: (dO, q, k, v, out, logsumexp, philox_seed, philox_offset, attn_bias, ...)
    cudnn = lookup(aten._scaled_dot_product_cudnn_attention_backward.default)
    head = (grad_out, q, kv, kv, meta(2, 8, 16, 64), meta(2, 8, 16), meta(2), meta(2))
    assert cudnn(OpCall((*head, bias, None, None, 16, 32, 0.0, False), {}, ())).flops == masked
    assert cudnn(OpCall((*head, None, None, None, 16, 32, 0.0, False), {}, ())).flops == plain
    overrideable = lookup(aten._scaled_dot_product_fused_attention_overrideable_backward.default)
    assert overrideable(OpCall((grad_out, q, kv, kv, bias, [True] * 4), {}, ())).flops == masked
    # E = 4, Ev = 2, L = 2, S = 3, one head: 6 scores * (3 * 4 + 2 * 2) = 96
    small = OpCall((meta(1, 1, 2, 2), meta(1, 1, 2, 4), meta(1, 1, 3, 4), meta(1, 1, 3, 2), None), {}, ())
    assert efficient(small).mult_adds == 96


# --- element-wise: activations and softmax -------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "op"),
    [
        (nn.ReLU6(), "hardtanh_backward"),
        (nn.Hardtanh(), "hardtanh_backward"),
        (nn.Hardswish(), "hardswish_backward"),
        (nn.Hardsigmoid(), "hardsigmoid_backward"),
        (nn.ELU(), "elu_backward"),
        (nn.CELU(), "elu_backward"),
        (nn.SELU(), "elu_backward"),
        (nn.LeakyReLU(), "leaky_relu_backward"),
        (nn.Softplus(), "softplus_backward"),
        (nn.Mish(), "mish_backward"),
        (nn.LogSigmoid(), "log_sigmoid_backward"),
        (nn.Hardshrink(), "hardshrink_backward"),
        (nn.Softshrink(), "softshrink_backward"),
        (nn.RReLU(), "rrelu_with_noise_backward"),
        (nn.GLU(), "glu_backward"),  # [2, 4] -> [2, 2]; the gradient is the input's [2, 4]
    ],
)
def test_activation_backward_one_flop_per_element(activation: nn.Module, op: str) -> None:
    node = the(train_step(nn.Sequential(nn.Linear(4, 4), activation), torch.randn(2, 4)), op)
    # grad_input [2, 4] = 8
    assert (node.category, node.mult_adds, node.flops) == ("elementwise", 0, 8)


@pytest.mark.parametrize(
    ("fn", "op"), [(F.softmax, "_softmax_backward_data"), (F.log_softmax, "_log_softmax_backward_data")]
)
def test_softmax_backward_one_flop_per_element(fn, op: str) -> None:
    # (after a matmul the analysis would label the softmax part of an attention pattern)
    node = the(train_step(Fn(lambda p: fn(p, -1), torch.rand(2, 4))), op)
    # output * (grad - sum(grad * output)) over [2, 4]: 8
    assert (node.category, node.mult_adds, node.flops) == ("elementwise", 0, 8)


@pytest.mark.parametrize(
    ("activation", "op"),
    [
        (nn.ReLU(), aten.threshold_backward),
        (nn.GELU(), aten.gelu_backward),
        (nn.GELU("tanh"), aten.gelu_backward),
        (nn.SiLU(), aten.silu_backward),
        (nn.Sigmoid(), aten.sigmoid_backward),
        (nn.Tanh(), aten.tanh_backward),
    ],
)
def test_pointwise_tagged_gradients_need_no_formula(activation: nn.Module, op) -> None:
    # The pointwise tag prices them: no formula of their own.
    assert op not in registered()
    assert lookup(op.default) is elementwise_cost
    node = the(train_step(nn.Sequential(nn.Linear(4, 4), activation), torch.randn(2, 4)), f"{op}.default")
    assert (node.category, node.flops) == ("elementwise", 8)


def test_prelu_backward_counts_both_gradients() -> None:
    node = the(
        train_step(nn.Sequential(nn.Linear(4, 4), nn.PReLU()), torch.randn(2, 4)), "_prelu_kernel_backward"
    )
    # grad_input 8 + grad_weight 1 (one slope)
    assert (node.category, node.flops) == ("elementwise", 9)


def test_fused_rnn_cell_backward_formulas() -> None:
    # CUDA's fused cells; one flop per element of the gate gradient (the first output).
    lstm = lookup(aten._thnn_fused_lstm_cell_backward_impl.default)
    h, gates = meta(3, 5), meta(3, 20)
    assert lstm(OpCall((h, h, h, h, gates, True), {}, (gates, h, meta(20)))).flops == 60
    gru = lookup(aten._thnn_fused_gru_cell_backward.default)
    assert (
        gru(OpCall((h, meta(3, 25), True), {}, (meta(3, 15), meta(3, 15), h, meta(15), meta(15)))).flops == 45
    )


# --- LSTM ----------------------------------------------------------------------------------


class LSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_lstm_layer_backward(mode: str) -> None:
    analysis = train_step(LSTM(), torch.randn(3, 2, 4), mode=mode)
    # T * B = 6 tokens through w_ih [20, 4] (80) and w_hh [20, 5] (100): 6 * 180 = 1080
    assert the(analysis, "mkldnn_rnn_layer").mult_adds == 1080
    node = the(analysis, "mkldnn_rnn_layer_backward")
    # twice the forward, 2160; flops 2 * 2160 + 6 tokens * (20 + 20 + 5 * 5) + 2 * 20 bias gradients
    # = 4320 + 390 + 40 = 4750
    assert (node.category, node.mult_adds, node.flops) == ("gemm", 2160, 4750)


# --- losses --------------------------------------------------------------------------------


def _loss(fn: Callable[..., torch.Tensor], *shape: int) -> Fn:
    return Fn(fn, torch.rand(*shape))


CLASSES = torch.tensor([0, 1, 2, 3])


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_cross_entropy(mode: str) -> None:
    analysis = train_step(_loss(F.cross_entropy, 4, 5), CLASSES, mode=mode)
    # nll_loss_forward: 4 terms -x[t], then their mean (1 output): 5
    forward = the(analysis, "nll_loss_forward")
    assert (forward.category, forward.mult_adds, forward.flops) == ("reduction", 0, 5)
    # nll_loss_backward: the 4 target places get -grad / 4
    backward = the(analysis, "nll_loss_backward")
    assert (backward.category, backward.flops) == ("elementwise", 4)
    # the log_softmax's gradient over [4, 5]
    assert the(analysis, "_log_softmax_backward_data").flops == 20


def test_nll_loss_reductions() -> None:
    def nll(reduction: str) -> Callable[..., torch.Tensor]:
        return lambda p, t: F.nll_loss(p, t, reduction=reduction)

    none = the(train_step(_loss(nll("none"), 4, 5), CLASSES), "nll_loss_forward")
    # no reduction: 4 terms, element-wise
    assert (none.category, none.flops) == ("elementwise", 4)
    assert the(train_step(_loss(nll("sum"), 4, 5), CLASSES), "nll_loss_forward").flops == 5


def test_cross_entropy_2d() -> None:
    analysis = train_step(_loss(F.cross_entropy, 2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3)))
    # 2 * 3 * 3 = 18 targets, then the mean: 19
    assert the(analysis, "nll_loss2d_forward").flops == 19
    assert the(analysis, "nll_loss2d_backward").flops == 18


@pytest.mark.parametrize(
    ("fn", "target", "forward", "backward"),
    [
        (F.mse_loss, torch.rand(4, 5), "mse_loss", "mse_loss_backward"),
        (F.smooth_l1_loss, torch.rand(4, 5), "smooth_l1_loss", "smooth_l1_loss_backward"),
        (F.huber_loss, torch.rand(4, 5), "huber_loss", "huber_loss_backward"),
        (F.soft_margin_loss, torch.rand(4, 5), "soft_margin_loss", "soft_margin_loss_backward"),
        (F.binary_cross_entropy, torch.rand(4, 5), "binary_cross_entropy", "binary_cross_entropy_backward"),
        (F.multi_margin_loss, CLASSES, "multi_margin_loss", "multi_margin_loss_backward"),
        (
            F.multilabel_margin_loss,
            torch.tensor([[0, 1, -1, 0, 0]] * 4),
            "multilabel_margin_loss_forward",
            "multilabel_margin_loss_backward",
        ),
        # its backward is element-wise ops, priced by their tags
        (F.binary_cross_entropy_with_logits, torch.rand(4, 5), "binary_cross_entropy_with_logits", None),
    ],
)
def test_pointwise_losses(fn, target, forward, backward) -> None:
    analysis = train_step(_loss(fn, 4, 5), target)
    node = the(analysis, forward)
    # 20 terms, one per element of the [4, 5] input, then the mean: 21
    assert (node.category, node.mult_adds, node.flops) == ("reduction", 0, 21)
    if backward is not None:
        # grad_input [4, 5]
        assert (the(analysis, backward).category, the(analysis, backward).flops) == ("elementwise", 20)


def test_loss_without_reduction_is_elementwise() -> None:
    node = the(
        train_step(_loss(lambda p, t: F.mse_loss(p, t, reduction="none"), 4, 5), torch.rand(4, 5)), "mse_loss"
    )
    assert (node.category, node.flops) == ("elementwise", 20)


# --- data movement -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_embedding_backward_scatter_adds_every_gradient_element(mode: str) -> None:
    analysis = train_step(nn.Embedding(10, 4), torch.tensor([[1, 2, 3], [4, 5, 1]]), mode=mode)
    node = the(analysis, "embedding_dense_backward")
    # grad_output [2, 3, 4] = 24 elements, each added into its row of grad_weight
    assert (node.category, node.mult_adds, node.flops) == ("data_movement", 0, 24)


def test_embedding_bag() -> None:
    analysis = train_step(nn.EmbeddingBag(10, 4), torch.tensor([[1, 2, 3], [4, 5, 1]]))
    # 6 rows of 4 gathered and averaged into 2 bags: 24; the backward scatters 24 back
    assert the(analysis, "_embedding_bag").flops == 24
    node = the(analysis, "_embedding_bag_backward")
    assert (node.category, node.flops) == ("data_movement", 24)


def test_select_backward_moves_memory() -> None:
    node = the(train_step(Fn(lambda p: p[:, 0] * 2, torch.rand(4, 5))), "select_backward")
    assert (node.category, node.mult_adds, node.flops, node.counted) == ("data_movement", 0, 0, True)
    # reads the [4] gradient, writes [4, 5]: (4 + 20) * 4 = 96
    assert node.mem_access_bytes == 96


@pytest.mark.parametrize(
    ("model", "inputs", "op"),
    [
        (Fn(lambda p: p[:, 1:3] * 2, torch.rand(4, 5)), (), "slice_backward"),
        (Fn(lambda p: p.diagonal() * 2, torch.rand(4, 5)), (), "diagonal_backward"),
        (Fn(lambda p: p.unfold(1, 2, 1) * 2, torch.rand(4, 5)), (), "unfold_backward"),
        (
            Fn(
                lambda p: torch.zeros(4, 5).masked_scatter_(torch.ones(4, 5, dtype=torch.bool), p) * 2,
                torch.rand(4, 5),
            ),
            (),
            "masked_scatter_backward",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReflectionPad2d(1)),
            (torch.randn(2, 3, 3, 3),),
            "reflection_pad2d_backward",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReplicationPad2d(1)),
            (torch.randn(2, 3, 3, 3),),
            "replication_pad2d_backward",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2)),
            (torch.randn(2, 3, 3, 3),),
            "upsample_nearest2d_backward",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bilinear")),
            (torch.randn(2, 3, 3, 3),),
            "upsample_bilinear2d_backward",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bicubic")),
            (torch.randn(2, 3, 3, 3),),
            "upsample_bicubic2d_backward",
        ),
        (
            nn.Sequential(nn.Conv1d(3, 4, 1), nn.Upsample(scale_factor=2, mode="linear")),
            (torch.randn(2, 3, 3),),
            "upsample_linear1d_backward",
        ),
        (
            nn.Sequential(nn.Conv3d(3, 4, 1), nn.Upsample(scale_factor=2, mode="trilinear")),
            (torch.randn(2, 3, 3, 3, 3),),
            "upsample_trilinear3d_backward",
        ),
        (
            Fn(
                lambda p: F.interpolate(p, size=(2, 2), mode="bilinear", antialias=True),
                torch.rand(1, 2, 4, 4),
            ),
            (),
            "_upsample_bilinear2d_aa_backward",
        ),
        (
            Fn(lambda p, g: F.grid_sample(p, g, align_corners=False), torch.rand(1, 2, 4, 4)),
            (torch.rand(1, 3, 3, 2) * 2 - 1,),
            "grid_sampler_2d_backward",
        ),
    ],
)
def test_data_movement_backward_has_no_flops(model, inputs, op) -> None:
    node = the(train_step(model, *inputs), op)
    assert (node.category, node.mult_adds, node.flops, node.counted) == ("data_movement", 0, 0, True)
    assert node.mem_access_bytes > 0


INDEX = torch.tensor([0, 2, 2])


@pytest.mark.parametrize(
    ("fn", "op"),
    [
        (lambda p: torch.zeros(4, 5).index_add_(0, INDEX, p), "index_add_"),
        (lambda p: torch.zeros(4, 5).index_copy_(0, torch.tensor([0, 1, 3]), p), "index_copy_"),
        (lambda p: torch.zeros(4, 5).scatter_add_(0, INDEX.view(3, 1).expand(3, 5), p), "scatter_add_"),
        (
            lambda p: torch.zeros(4, 5).scatter_(0, torch.tensor([[0] * 5, [1] * 5, [3] * 5]), p),
            "scatter_.src",
        ),
        (
            lambda p: torch.zeros(4, 5).scatter_reduce_(0, INDEX.view(3, 1).expand(3, 5), p, "sum"),
            "scatter_reduce_.two",
        ),
        (lambda p: torch.zeros(4, 5).index_fill_(0, INDEX, 1.0) + p.sum(), "index_fill_.int_Scalar"),
    ],
)
def test_in_place_scatters_move_data(fn, op) -> None:
    name = f"aten.{op}" if "." in op else f"aten.{op}.default"
    node = the(train_step(Fn(fn, torch.rand(3, 5))), name)
    assert (node.category, node.flops) == ("data_movement", 0)


def test_in_place_masked_fill_is_elementwise() -> None:
    model = Fn(
        lambda p: torch.zeros(4, 5).masked_fill_(torch.ones(4, 5, dtype=torch.bool), 1.0) * p,
        torch.rand(4, 5),
    )
    node = the(train_step(model), "aten.masked_fill_.Scalar")
    assert (node.category, node.flops) == ("elementwise", 20)
