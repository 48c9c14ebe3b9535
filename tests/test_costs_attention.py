"""Attention formulas: fused SDPA kernels, their math decomposition, and the fast paths.

Scaled dot-product attention over ``B * h`` heads of ``L`` queries and ``S`` keys is
``Q @ K^T`` (``L * S * E``) plus ``softmax @ V`` (``L * S * Ev``) multiply-adds per head,
whatever backend runs it; a causal mask does not halve the count (the convention
written in ``netprof/costs/attention.py``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

import netprof
from netprof.capture.ir import OpCall, TensorMeta
from netprof.costs import lookup

FLASH_CPU = "aten._scaled_dot_product_flash_attention_for_cpu.default"


class SDPA(nn.Module):
    def __init__(self, **options: object) -> None:
        super().__init__()
        self.options = options

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, **self.options)


def computing(analysis: netprof.Analysis):
    return [op for op in analysis.ops if op.category != "view"]


CASES = {
    # B=2, h=4, L=5, S=6, E=Ev=8: 2 * 4 * 5 * 6 * (8 + 8) = 3840
    "plain": ({}, (2, 4, 5, 8), (2, 4, 6, 8), 3840),
    # L=S=6: 2 * 4 * 6 * 6 * (8 + 8) = 4608, the whole 6 x 6 score matrix
    "causal": ({"is_causal": True}, (2, 4, 6, 8), (2, 4, 6, 8), 4608),
    # 4 query heads over 2 kv heads: every query head still sees all 6 keys
    # 2 * 4 * 5 * 6 * (8 + 8) = 3840, as with 4 kv heads
    "gqa": ({"enable_gqa": True}, (2, 4, 5, 8), (2, 2, 6, 8), 3840),
    # both at once, L=S=6: 2 * 4 * 6 * 6 * 16 = 4608
    "gqa_causal": ({"enable_gqa": True, "is_causal": True}, (2, 4, 6, 8), (2, 2, 6, 8), 4608),
}


@pytest.mark.parametrize("case", CASES)
def test_sdpa_real_runs_the_flash_cpu_kernel(case: str) -> None:
    options, q_shape, kv_shape, mult_adds = CASES[case]
    inputs = (torch.randn(q_shape), torch.randn(kv_shape), torch.randn(kv_shape))
    analysis = netprof.analyze(SDPA(**options), inputs, mode="real")
    (node,) = computing(analysis)
    assert node.op == FLASH_CPU
    assert node.category == "attention"
    assert node.mult_adds == mult_adds
    # 2 * mult_adds + one softmax flop per score (B * h * L * S)
    b, h, length, _ = q_shape
    assert node.flops == 2 * mult_adds + b * h * length * kv_shape[2]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["meta", "fake"])
def test_sdpa_counts_the_same_in_every_mode(case: str, mode: str) -> None:
    options, q_shape, kv_shape, mult_adds = CASES[case]
    inputs = (torch.randn(q_shape), torch.randn(kv_shape), torch.randn(kv_shape))
    analysis = netprof.analyze(SDPA(**options), inputs, mode=mode)
    assert analysis.totals.mult_adds == mult_adds
    assert analysis.categories["attention"].mult_adds == mult_adds


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["meta", "real"])
def test_sdpa_math_path_counts_the_same(case: str, mode: str) -> None:
    options, q_shape, kv_shape, mult_adds = CASES[case]
    inputs = (torch.randn(q_shape), torch.randn(kv_shape), torch.randn(kv_shape))
    with sdpa_kernel(SDPBackend.MATH):
        analysis = netprof.analyze(SDPA(**options), inputs, mode=mode)
    ops = [op.op for op in analysis.ops]
    assert FLASH_CPU not in ops
    assert ops.count("aten.bmm.default") == 2  # Q @ K^T, then softmax @ V
    assert "aten._safe_softmax.default" in ops
    assert analysis.totals.mult_adds == mult_adds
    # the bmm -> softmax -> bmm region is attention, all of its multiply-adds included
    assert {
        op.category for op in analysis.ops if op.op in ("aten.bmm.default", "aten._safe_softmax.default")
    } == {"attention"}
    assert analysis.categories["attention"].mult_adds == mult_adds


def test_sdpa_value_dim_differs_from_query_dim() -> None:
    # Ev = 3 != E = 8 rules out the flash kernel on the CPU; every mode takes the math path.
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 3)
    counts = {
        mode: netprof.analyze(SDPA(), (q, k, v), mode=mode).totals.mult_adds for mode in ("real", "meta")
    }
    # 2 * 4 * 5 * 6 * (8 + 3) = 2640
    assert counts == {"real": 2640, "meta": 2640}


def test_sdpa_additive_mask_adds_one_flop_per_score() -> None:
    q, k = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 6, 8)
    mask = torch.randn(5, 6)

    class Masked(nn.Module):
        def forward(self, q, k, v, mask):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    analysis = netprof.analyze(Masked(), (q, k, k, mask), mode="real")
    (node,) = computing(analysis)
    assert node.op == FLASH_CPU
    # 3840 multiply-adds; 2 * 4 * 5 * 6 = 240 scores: 2 * 3840 + 240 softmax + 240 mask adds = 8160
    assert node.mult_adds == 3840
    assert node.flops == 8160


# E=16, h=4, B=2, L=S=5
# in-projection (q, k, v): 2 * 5 * 3 * 16 * 16 = 7680; out-projection 2 * 5 * 16 * 16 = 2560
# attention: 2 * 4 heads * 5 * 5 * (4 + 4) = 1600; total 7680 + 2560 + 1600 = 11840
MHA_MULT_ADDS = 11840


class SelfAttention(nn.Module):
    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 4, batch_first=batch_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x)[0]


@pytest.mark.parametrize("mode", ["real", "fake"])
def test_multihead_attention_fast_path(mode: str) -> None:
    x = torch.randn(2, 5, 16)
    analysis = netprof.analyze(SelfAttention(), x, mode=mode)
    (node,) = analysis.ops
    assert node.op == "aten._native_multi_head_attention.default"
    assert node.category == "attention"
    assert node.mult_adds == MHA_MULT_ADDS
    # 2 * 11840 + bias adds 2 * (5 + 10 + 5) * 16 = 640 + softmax 2 * 4 * 5 * 5 = 200: 24520
    assert node.flops == 24520


@pytest.mark.parametrize(
    ("model", "x", "mode"),
    [
        # meta tensors are not on a device the fast path accepts
        (SelfAttention(), torch.randn(2, 5, 16), "meta"),
        # batch_first=False is refused by the fast path on every device
        (SelfAttention(batch_first=False), torch.randn(5, 2, 16), "real"),
    ],
)
def test_multihead_attention_unfused_counts_the_same(model: nn.Module, x: torch.Tensor, mode: str) -> None:
    analysis = netprof.analyze(model, x, mode=mode)
    ops = {op.op for op in analysis.ops}
    assert "aten._native_multi_head_attention.default" not in ops
    assert analysis.totals.mult_adds == MHA_MULT_ADDS


def _encoder_layer() -> nn.Module:
    return nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True)


# 10 tokens: q, k, v, out projections 10 * 4 * 16 * 16 = 10240
# attention 2 * 4 * 5 * 5 * (4 + 4) = 1600; FFN 10 * (16 * 32 + 32 * 16) = 10240
# 10240 + 1600 + 10240 = 22080
ENCODER_MULT_ADDS = 22080


def test_transformer_encoder_layer_fast_path() -> None:
    analysis = netprof.analyze(_encoder_layer(), torch.randn(2, 5, 16), mode="real")
    (node,) = analysis.ops
    assert node.op == "aten._transformer_encoder_layer_fwd.default"
    assert node.category == "attention"
    assert node.mult_adds == ENCODER_MULT_ADDS
    # 2 * 22080 = 44160; bias adds 10 * (48 + 16 + 32 + 16) = 1120; two norms 10 * 2 * 16 = 320,
    # relu 10 * 32 = 320, two residual adds 320; softmax 2 * 4 * 5 * 5 = 200: 44160 + 2280 = 46440
    assert node.flops == 46440


def test_transformer_encoder_layer_unfused_counts_the_same() -> None:
    analysis = netprof.analyze(_encoder_layer(), torch.randn(2, 5, 16), mode="meta")
    assert "aten._transformer_encoder_layer_fwd.default" not in {op.op for op in analysis.ops}
    assert analysis.totals.mult_adds == ENCODER_MULT_ADDS


def test_fused_kernel_formula_reads_gqa_and_mask_positions() -> None:
    # The CUDA kernels cannot run here; their formula is checked on hand-made calls.
    q, kv = (
        TensorMeta((2, 8, 16, 64), torch.float16, (8192, 1024, 64, 1)),
        TensorMeta((2, 2, 32, 64), torch.float16, (4096, 2048, 64, 1)),
    )
    out = TensorMeta((2, 8, 16, 64), torch.float16, (8192, 1024, 64, 1))
    bias = TensorMeta((2, 8, 16, 32), torch.float16, (4096, 512, 32, 1))
    # 2 * 8 * 16 * 32 * (64 + 64) = 1048576; scores 2 * 8 * 16 * 32 = 8192
    efficient = lookup(torch.ops.aten._scaled_dot_product_efficient_attention.default)
    cost = efficient(OpCall((q, kv, kv, bias, False), {}, (out,)))
    assert (cost.mult_adds, cost.flops) == (1048576, 2 * 1048576 + 8192 + 8192)
    cost = efficient(OpCall((q, kv, kv, None, False), {}, (out,)))
    assert cost.flops == 2 * 1048576 + 8192
    flash = lookup(torch.ops.aten._scaled_dot_product_flash_attention.default)
    cost = flash(OpCall((q, kv, kv, 0.0, True), {}, (out,)))
    assert (cost.mult_adds, cost.flops) == (1048576, 2 * 1048576 + 8192)
    cudnn = lookup(torch.ops.aten._scaled_dot_product_cudnn_attention.default)
    assert cudnn(OpCall((q, kv, kv), {"attn_bias": bias, "compute_log_sumexp": False}, (out,))).flops == (
        2 * 1048576 + 8192 + 8192
    )
