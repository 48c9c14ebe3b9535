"""G3 and G4 on transformers and hybrids (issue 15): attention and its projections are fragments of
a block, a multi-branch token mixer is a parallel block like Inception's, and the element-wise
share counts what transformers spend there (LayerNorm, GELU, softmax, residual adds, layer scale)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netprof
from netprof.metrics import compute
from netprof.metrics import elementwise as kinds
from netprof.rules import RuleSettings, run
from netprof.rules.registry import BUILTIN


def only(rule: str, model: nn.Module, x: torch.Tensor, **options) -> list:
    analysis = netprof.analyze(model.eval(), x)
    settings = {r: RuleSettings(enabled=r == rule) for r in BUILTIN}
    settings[rule] = RuleSettings(enabled=True, options=options)
    return run(analysis, model, settings)


class Attention(nn.Module):
    """Written out: q @ k^T, scale, softmax, @ v (what runs without a fused kernel)."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, -1)
        scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
        return self.proj(scores.softmax(-1) @ v)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim)
        self.norm2, self.fc1, self.fc2 = nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def test_attention_and_its_projections_are_fragments_of_the_block_its_softmax_is_not():
    blocks = compute(netprof.analyze(nn.Sequential(TransformerLayer()).eval(), torch.randn(1, 4, 8))).blocks
    # qkv, the two products, proj, fc1, fc2; the softmax and scaling between the products are
    # element-wise (G4's), not fragments
    assert blocks["0"].fragments == 6
    assert blocks["0.attn"].fragments == 4


class Mixer(nn.Module):
    """A multi-branch token mixer: pooling, a depthwise conv and attention over the same map, summed."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1)
        self.conv = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.attn = Attention(c)

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = self.attn(x.flatten(2).transpose(1, 2))
        return self.pool(x) + self.conv(x) + tokens.transpose(1, 2).reshape(b, c, h, w)


def test_a_multi_branch_token_mixer_is_a_parallel_block_like_inceptions():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), Mixer(), nn.Conv2d(8, 8, 1))
    x = torch.randn(1, 3, 8, 8)
    block = compute(netprof.analyze(model.eval(), x)).blocks["1"]
    (widest,) = [join for join in block.joins if join.compute_branches == 3]
    # pool (1 fragment), depthwise conv (1), attention (qkv, two products, proj: 4)
    assert sorted(branch.fragments for branch in widest.branches) == [1, 1, 4]
    (finding,) = only("G3", model, x)
    assert finding.module == "1" and finding.measured == 3 and finding.threshold == 2
    assert "token mixer" in finding.fix and "RepMixer" in finding.fix


class LayerScaleMLP(nn.Module):
    """x + gamma * GELU(fc(LN(x))): a pre-norm branch with layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.norm, self.fc, self.act = nn.LayerNorm(8), nn.Linear(8, 8), nn.GELU()
        self.gamma = nn.Parameter(torch.ones(8))

    def forward(self, x):
        return x + self.gamma * self.act(self.fc(self.norm(x)))


def test_g4_share_of_a_layer_scale_branch_by_hand():
    share = compute(netprof.analyze(LayerScaleMLP().eval(), torch.randn(1, 4, 8))).elementwise[""]
    # 4 tokens x 8 channels = 32 elements, float32. Elements read + written:
    #   LayerNorm: 32 in + 8 weight + 8 bias + 32 out + 4 mean + 4 rstd = 88 -> 352 bytes
    #   linear (addmm): 8 bias + 32 in + 64 weight + 32 out = 136 -> 544 bytes (not element-wise)
    #   GELU: 32 + 32 = 64 -> 256 bytes;  layer scale (mul by gamma): 8 + 32 + 32 = 72 -> 288 bytes
    #   residual add: 32 + 32 + 32 = 96 -> 384 bytes
    # element-wise 352 + 256 + 288 + 384 = 1,280 of 1,824
    assert (share.mem_access_bytes, share.total_mem_access_bytes) == (1_280, 1_824)
    assert share.kinds == (
        (kinds.ADD, 384),
        (kinds.LAYER_NORM, 352),
        (kinds.LAYER_SCALE, 288),
        (kinds.ACTIVATION, 256),
    )
    (finding,) = only("G4", LayerScaleMLP(), torch.randn(1, 4, 8))
    assert finding.measured == pytest.approx(1_280 / 1_824)
    assert finding.message.startswith(
        "element-wise ops (add 30%, layer norm 28%, layer scale 22%, activation 20%)"
    )
    # the fix speaks a transformer's language, most bytes first
    assert finding.fix.index("epilogue") < finding.fix.index("pre-norm") < finding.fix.index("layer scale")
    assert "fold batch norm" not in finding.fix
    assert finding.evidence["kinds"] == dict(share.kinds)


def test_g4_counts_the_softmax_of_unfused_attention():
    analysis = netprof.analyze(Attention().eval(), torch.randn(1, 4, 8))
    share = compute(analysis).elementwise[""]
    # The scaling and softmax over the 4 x 4 scores (16 elements in, 16 out: 128 bytes each) sit between
    # the two products and carry the attention category; they are element-wise all the same.
    assert share.kinds == ((kinds.ATTENTION_SCALE_MASK, 128), (kinds.SOFTMAX, 128))
    assert share.ops == 2
    (finding,) = only("G4", Attention(), torch.randn(1, 4, 8), max_share=0.0)
    assert "F.scaled_dot_product_attention" in finding.fix


def test_g4_on_a_cnn_keeps_its_batch_norm_language():
    model = nn.Sequential(
        nn.Conv2d(3, 16, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16)
    )
    (finding,) = only("G4", model, torch.randn(1, 3, 16, 16))
    assert finding.message.startswith(
        "element-wise ops (activations, adds, normalization, depthwise convs) make"
    )
    assert finding.fix.startswith("fold batch norm into the preceding conv for inference")


class Slices(nn.Module):
    """Four 1x1 convs, each on its own quarter of the channels (a per-group loop), concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(4, 4, 1, bias=False) for _ in range(4))

    def forward(self, x):
        return torch.cat([conv(x[:, 4 * i : 4 * i + 4]) for i, conv in enumerate(self.convs)], 1)


def test_g3_cost_counts_what_each_branch_reads_of_the_fork():
    model = nn.Sequential(nn.Conv2d(3, 16, 1), Slices(), nn.Conv2d(16, 16, 1))
    (finding,) = only("G3", model, torch.randn(1, 3, 8, 8))
    # The fork is the first conv's 16 x 8 x 8 output (4,096 bytes); each branch reads a quarter of it
    # (1,024 bytes), so the three branches past the first re-read 3 x 1,024 bytes, not 3 x 4,096.
    # The cat reads 4 x 1,024 and writes 4,096 bytes: 8,192. Cost: 3,072 + 8,192.
    assert finding.module == "1" and finding.cost_bytes == 3_072 + 8_192
