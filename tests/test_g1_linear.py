"""G1 on linear maps: a linear layer over T positions is a 1x1 conv with hw = T (issue 15).

ConvNeXt and every transformer apply their pointwise layers as ``nn.Linear`` over tokens or a
channels-last map; ShuffleNet V2's bound ``MAC >= 2*sqrt(hw*B) + B/hw`` holds for them unchanged.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netprof
from netprof.metrics import BODY, HEAD, LINEAR, STEM, compute, dataflow
from netprof.rules import RuleSettings, run
from netprof.rules.registry import BUILTIN


def g1(model: nn.Module, x: torch.Tensor, **options) -> list:
    analysis = netprof.analyze(model.eval(), x)
    settings = {rule: RuleSettings(enabled=rule == "G1") for rule in BUILTIN}
    settings["G1"] = RuleSettings(enabled=True, options=options)
    return run(analysis, model, settings)


def linears(model: nn.Module, x: torch.Tensor) -> list:
    return list(compute(netprof.analyze(model.eval(), x)).linears.items())


def test_linear_over_a_channels_last_map_equals_the_1x1_conv_byte_for_byte():
    # nn.Linear(96, 384) over 1 x 56 x 56 x 96 is a 1x1 conv 96 -> 384 over 1 x 96 x 56 x 56:
    # hw = 3136 positions, B = hw*c1*c2 = 3136 * 96 * 384 = 115,605,504 multiply-adds,
    # mac = hw*(c1 + c2) + c1*c2 = 3136 * 480 + 36,864 = 1,542,144 elements,
    # bound = 2*sqrt(hw*B) + B/hw = 2 * 3136 * sqrt(96 * 384) + 36,864 = 2 * 3136 * 192 + 36,864 = 1,241,088,
    # ratio = 1,542,144 / 1,241,088 = 1.242574..., excess (1,542,144 - 1,241,088) * 4 bytes = 1,204,224.
    (linear,) = g1(nn.Sequential(nn.Linear(96, 384)), torch.randn(1, 56, 56, 96))
    (conv,) = g1(nn.Sequential(nn.Conv2d(96, 384, 1)), torch.randn(1, 96, 56, 56))

    assert linear.measured == 1_542_144 / 1_241_088
    assert linear.cost_bytes == 1_204_224
    evidence = dict(linear.evidence)
    assert evidence.pop("operator") == LINEAR and evidence.pop("kernel") == [] and evidence.pop("op_id") == 2
    assert evidence == {
        "c_in": 96,
        "c_out": 384,
        "groups": 1,
        "hw": 3136,
        "mult_adds": 115_605_504,
        "mac_elements": 1_542_144,
        "balanced_mac_elements": 1_241_088,
        "g1_bound_elements": 1_241_088,
        "g1_ratio": 1_542_144 / 1_241_088,
    }
    # Byte for byte the conv's finding, but for the operator's name and its own op id and kernel.
    same = ("rule", "severity", "module", "measured", "threshold", "cost_bytes", "cost_share")
    assert [getattr(linear, f) for f in same] == [getattr(conv, f) for f in same]
    conv_evidence = {k: v for k, v in conv.evidence.items() if k not in ("op_id", "kernel")}
    assert evidence == conv_evidence
    assert linear.message.replace("linear", "1x1 conv") == conv.message
    assert linear.fix.replace("linear", "1x1 conv").startswith(conv.fix)
    assert "transformer MLP" in linear.fix  # and what a transformer designer can change
    assert (linear.module_type, conv.module_type) == ("Linear", "Conv2d")


def test_attention_products_are_not_linear_maps_its_projections_are():
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv, self.proj = nn.Linear(8, 24), nn.Linear(8, 8)

        def forward(self, x):
            q, k, v = self.qkv(x).chunk(3, -1)
            scores = (q @ k.transpose(-2, -1)) * 8**-0.5  # two activations: not a linear map
            return self.proj(scores.softmax(-1) @ v)

    found = linears(Attention(), torch.randn(2, 5, 8))
    # Rows are batch x tokens = 10; the fused q/k/v projection is 8 -> 24.
    assert [(path, [(c.c_in, c.c_out, c.hw) for c in calls]) for path, calls in found] == [
        ("qkv", [(8, 24, 10)]),
        ("proj", [(8, 8, 10)]),
    ]


def test_sdpa_attention_products_are_not_linear_maps_either():
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            return F.scaled_dot_product_attention(self.q(x), self.k(x), self.v(x))

    assert [path for path, _ in linears(Attention(), torch.randn(1, 6, 8))] == ["q", "k", "v"]


def test_weight_on_the_left_is_a_channels_first_pointwise_map():
    class ChannelsFirst(nn.Module):  # W [c_out, c_in] @ x [c_in, hw]
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(64, 16))

        def forward(self, x):
            return self.weight @ x

    ((_, (call,)),) = linears(ChannelsFirst(), torch.randn(16, 100))
    assert (call.c_in, call.c_out, call.hw, call.mult_adds) == (16, 64, 100, 16 * 64 * 100)
    assert call.mac_elements == 100 * 16 + 100 * 64 + 16 * 64


def test_a_batched_product_with_one_broadcast_weight_is_a_linear_map_a_per_batch_weight_is_not():
    class Broadcast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(8, 32))

        def forward(self, x):  # x [4, 10, 8]
            return torch.bmm(x, self.weight.expand(x.shape[0], 8, 32))

    class PerBatch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(4, 8, 32))

        def forward(self, x):
            return torch.bmm(x, self.weight)

    ((_, (call,)),) = linears(Broadcast(), torch.randn(4, 10, 8))
    assert (call.c_in, call.c_out, call.hw) == (8, 32, 40)  # 4 x 10 rows, one 8 x 32 weight
    assert call.mac_elements == 40 * 8 + 40 * 32 + 8 * 32
    assert linears(PerBatch(), torch.randn(4, 10, 8)) == []


def test_a_weight_computed_from_parameters_is_static_a_product_of_constants_is_no_linear_map():
    class CastWeight(nn.Module):  # the weight goes through an op (a cast), still no model input
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(32, 8, dtype=torch.float64))

        def forward(self, x):
            return F.linear(x, self.weight.float())

    class ConstantTable(nn.Module):  # an MLP over a fixed coordinate table, added to the input
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("coords", torch.randn(10, 2))
            self.mlp = nn.Linear(2, 8)

        def forward(self, x):
            return x + self.mlp(self.coords)

    ((_, (call,)),) = linears(CastWeight(), torch.randn(1, 10, 8))
    assert (call.c_in, call.c_out, call.hw) == (8, 32, 10)
    assert linears(ConstantTable(), torch.randn(10, 8)) == []


def test_dataflow_marks_what_depends_on_the_input():
    analysis = netprof.analyze(nn.Sequential(nn.Linear(4, 4)).eval(), torch.randn(3, 4))
    flow = dataflow(analysis)
    (t,) = [n for n in analysis.ops if n.op == "aten.t.default"]
    (addmm,) = [n for n in analysis.ops if n.op == "aten.addmm.default"]
    assert t.id not in flow.dynamic and addmm.id in flow.dynamic
    # addmm(bias, x, W^T): the bias and the weight are static, the input is not.
    assert [flow.is_static(addmm.id, i) for i in range(3)] == [True, False, True]


class MLPBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(16, 64), nn.Linear(64, 16)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(x)))


class Tokens(nn.Module):
    """A patch-embedding linear (stem), one residual MLP block 16 -> 64 -> 16, a classifier (head)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(3, 16)
        self.block = MLPBlock()
        self.head = nn.Linear(16, 10)

    def forward(self, x):  # x [1, 256, 3]: 256 tokens
        return self.head(self.block(self.embed(x)).mean(1))


def test_stem_and_head_linears_are_exempt_as_convs_are():
    positions = {path: calls[0].position for path, calls in linears(Tokens(), torch.randn(1, 256, 3))}
    assert positions == {"embed": STEM, "block.fc1": BODY, "block.fc2": BODY, "head": HEAD}
    # 16 -> 64 over 256 tokens: mac = 256 * 80 + 1024 = 21,504, balanced = 2 * 256 * 32 + 1024 = 17,408.
    found = g1(Tokens(), torch.randn(1, 256, 3))
    assert sorted(f.module for f in found) == ["block.fc1", "block.fc2"]
    assert {f.measured for f in found} == {21_504 / 17_408}
    # 3 -> 16 over 256 tokens: 256 * 19 + 48 = 4,912 against 2 * 256 * sqrt(48) + 48 = 3,595.2.
    unexempt = g1(Tokens(), torch.randn(1, 256, 3), exempt_stem_and_head=False)
    assert sorted(f.module for f in unexempt) == ["block.fc1", "block.fc2", "embed"]


def test_fused_qkv_projection_gets_advice_of_its_own():
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv, self.proj = nn.Linear(16, 48), nn.Linear(16, 16)

        def forward(self, x):
            q, k, v = self.qkv(x).chunk(3, -1)
            return x + self.proj(F.scaled_dot_product_attention(q, k, v))

    # 16 -> 48 over 1024 tokens: (1024 * 64 + 768) / (2 * 1024 * sqrt(768) + 768) = 66,304 / 57,523.8 = 1.1526
    (finding,) = g1(Block(), torch.randn(1, 1024, 16))
    assert finding.module == "qkv" and finding.measured == pytest.approx(1.1526, abs=1e-4)
    assert "fused q/k/v projection" in finding.fix


def test_g2_never_reads_linear_maps():
    model = nn.Sequential(nn.Linear(96, 384))
    analysis = netprof.analyze(model.eval(), torch.randn(1, 56, 56, 96))
    settings = {rule: RuleSettings(enabled=rule == "G2") for rule in BUILTIN}
    assert run(analysis, model, settings) == []
