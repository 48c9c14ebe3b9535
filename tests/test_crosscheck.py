"""netprof against fvcore's FlopCountAnalysis: the numbers were measured with fvcore 0.1.5 and
torchvision 0.29, and each is re-derived by hand below so that a change on either side shows."""

from __future__ import annotations

import json
import sys

import pytest
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

import netprof
from netprof.crosscheck import ATTENTION, CONV, FUSED, MATMUL, NORMALIZATION, POOLING, against_fvcore
from netprof.report.crosscheck import crosscheck_to_dict, render_crosscheck, summary_line

torchvision = pytest.importorskip("torchvision")
pytest.importorskip("fvcore")


def crosscheck(model: nn.Module, *inputs: torch.Tensor):
    return against_fvcore(model, inputs, netprof.analyze(model, inputs))


def rows_add_up(check) -> None:
    """Every op lands in exactly one row on each side."""
    assert sum(row.netprof_mult_adds for row in check.rows) == check.netprof_total
    assert sum(row.fvcore_count for row in check.rows) == check.fvcore_total
    for row in check.rows:
        assert row.difference == row.netprof_mult_adds - row.fvcore_count


@pytest.fixture(scope="module")
def resnet18():
    model = torchvision.models.resnet18(weights=None).eval()
    return crosscheck(model, torch.randn(1, 3, 224, 224))


@pytest.mark.slow
def test_resnet18_conv_and_linear_match(resnet18):
    assert resnet18.ok
    rows_add_up(resnet18)
    conv, matmul = resnet18.row(CONV), resnet18.row(MATMUL)
    assert conv.netprof_ops == ("aten.convolution.default",) and conv.fvcore_ops == ("conv",)
    assert conv.netprof_mult_adds == conv.fvcore_count == 1_813_561_344 and conv.difference == 0
    # fvcore's trace sees nn.Linear as aten::linear; netprof's capture as aten.addmm: 512 * 1000 = 512,000
    assert matmul.netprof_ops == ("aten.addmm.default",) and matmul.fvcore_ops == ("linear",)
    assert matmul.netprof_mult_adds == matmul.fvcore_count == 512_000
    assert conv.reason.startswith("equal") and matmul.reason.startswith("equal")


def test_resnet18_totals_differ_only_by_batch_norm_and_pooling(resnet18):
    # On the multiply-add families the two agree exactly (well within 0.1%) ...
    assert resnet18.fvcore_mult_adds == resnet18.netprof_total == 1_814_073_344
    assert abs(resnet18.netprof_total - resnet18.fvcore_mult_adds) <= 0.001 * resnet18.fvcore_mult_adds
    # ... while fvcore's total is 0.27% higher: it adds batch_norm and adaptive_avg_pool2d.
    norm, pool = resnet18.row(NORMALIZATION), resnet18.row(POOLING)
    # 2 per element of the 2,483,712 elements the 20 BN layers read: 4,967,424
    assert norm.fvcore_count == 2 * 2_483_712 and norm.netprof_mult_adds == 0
    assert "batch_norm as 2 per input element" in norm.reason
    # adaptive_avg_pool2d reads 512 x 7 x 7 = 25,088 elements, 1 each; max_pool2d is unsupported (0)
    assert pool.fvcore_count == 512 * 7 * 7
    assert "aten::max_pool2d" in pool.reason
    assert resnet18.fvcore_total - resnet18.netprof_total == norm.fvcore_count + pool.fvcore_count
    assert dict(resnet18.unsupported) == {"aten::add_": 8, "aten::max_pool2d": 1}


class SelfAttention(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(batch, length, dim))


def test_sdpa_is_zero_in_fvcore():
    check = crosscheck(SelfAttention().eval(), torch.randn(2, 16, 64))
    rows_add_up(check)
    attention = check.row(ATTENTION)
    # 2 batch x 4 heads x 16 x 16 x (16 + 16) = 65,536
    assert attention.netprof_mult_adds == 65_536 and attention.fvcore_count == 0
    assert "no handle for scaled_dot_product_attention (1 call(s)): it counts 0" in attention.reason
    # the projections match: 2 x 16 x 64 x (192 + 64) = 524,288
    assert check.row(MATMUL).netprof_mult_adds == check.row(MATMUL).fvcore_count == 524_288
    assert check.netprof_total - check.fvcore_total == 65_536


@pytest.mark.slow
def test_vit_b_16_attention_fast_path_is_zero_in_fvcore():
    model = torchvision.models.vit_b_16(weights=None).eval()
    check = crosscheck(model, torch.randn(1, 3, 224, 224))
    rows_add_up(check)
    fused = check.row(FUSED)
    # 12 layers x (4 projections 197 x 768 x 768 + 2 x 197 x 197 x 768 attention) = 6,292,703,232
    assert fused.netprof_mult_adds == 12 * (4 * 197 * 768 * 768 + 2 * 197 * 197 * 768) == 6_292_703_232
    assert fused.fvcore_count == 0
    assert "aten::_native_multi_head_attention op (12 call(s)" in fused.reason
    assert "nn.MultiheadAttention" in fused.reason
    # The MLPs and the head match: 12 x 2 x 197 x 768 x 3072 + 768 x 1000
    matmul = check.row(MATMUL)
    assert matmul.netprof_mult_adds == matmul.fvcore_count == 12 * 2 * 197 * 768 * 3072 + 768 * 1000
    assert check.row(CONV).difference == 0
    # layer_norm: 25 norms x 197 x 768 elements x 5 = 18,912,000
    assert check.row(NORMALIZATION).fvcore_count == 25 * 197 * 768 * 5
    assert check.netprof_total == 17_563_828_224 and check.fvcore_total == 11_290_036_992
    assert len(check.uncalled_modules) == 12  # every out_proj runs inside the fused op


@pytest.mark.slow
def test_mobilenet_v2_norm_and_pool_explained():
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    check = crosscheck(model, torch.randn(1, 3, 224, 224))
    rows_add_up(check)
    assert check.row(CONV).difference == 0 and check.row(MATMUL).difference == 0
    norm = check.row(NORMALIZATION)
    # 52 affine BN layers read 6,678,112 elements; fvcore counts 2 each
    assert norm.fvcore_count == 13_356_224 == 2 * 6_678_112
    assert "batch_norm as 2 per input element (13,356,224 = 2 x 6,678,112)" in norm.reason
    assert "netprof's mult_adds exclude normalization" in norm.reason
    pool = check.row(POOLING)
    assert (
        pool.fvcore_count == 1280 * 7 * 7
        and "adaptive_avg_pool2d as 62,720 (1 per input element)" in pool.reason
    )
    assert check.fvcore_total - check.netprof_total == norm.fvcore_count + pool.fvcore_count
    assert dict(check.unsupported) == {"aten::hardtanh_": 35, "aten::add": 10}


class BroadcastMatmul(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 16, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


def test_matmul_difference_is_located():
    check = crosscheck(BroadcastMatmul(), torch.randn(8, 16))
    matmul = check.row(MATMUL)
    # [8, 16] @ [4, 16, 32]: 4 x 8 x 16 x 32 = 16,384; fvcore drops the 4: 8 x 16 x 32 = 4,096
    assert (matmul.netprof_mult_adds, matmul.fvcore_count) == (16_384, 4_096)
    assert matmul.modules == (("", 16_384, 4_096),)
    assert "drops batch dimensions that only the second operand has" in matmul.reason


def hooks(model: nn.Module) -> list[tuple[str, list[int], list[int]]]:
    return [(name, list(m._forward_pre_hooks), list(m._forward_hooks)) for name, m in model.named_modules()]


@pytest.mark.slow
def test_model_left_untouched():
    model = torchvision.models.resnet18(weights=None)
    model.train()
    model.layer1[0].bn1.eval()
    model.fc.register_forward_hook(lambda module, args, out: None)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [m.training for m in model.modules()]
    before = hooks(model)
    x = torch.randn(2, 3, 64, 64)
    check = against_fvcore(model, (x,), netprof.analyze(model, x))
    assert check.ok
    # In training mode the trace's forward would update every BN's running stats.
    after = model.state_dict()
    assert state.keys() == after.keys()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert [m.training for m in model.modules()] == flags
    assert hooks(model) == before


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> dict:
        return {"y": self.conv(x), "n": 3}  # the tracer rejects a non-tensor output


def test_fvcore_failure_is_a_note_and_leaves_no_hooks():
    from fvcore.nn import FlopCountAnalysis

    x = torch.randn(1, 3, 8, 8)
    bare = Untraceable().eval()
    with pytest.raises(RuntimeError), torch.no_grad():
        FlopCountAnalysis(bare, (x,)).total()
    assert len(bare.conv._forward_hooks) == 1  # fvcore on its own leaves its scope hooks behind

    model = Untraceable().train()
    check = against_fvcore(model, (x,), netprof.analyze(model, x))
    assert not check.ok and check.rows == () and check.fvcore_total is None
    assert check.netprof_total == 4 * 6 * 6 * 3 * 3 * 3  # 3,888: the capture itself works
    assert check.notes[0].startswith(
        "fvcore could not analyse the model: its jit trace or an op handle raised"
    )
    assert "\n" not in check.notes[0]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert model.training and model.conv.training
    assert crosscheck_to_dict(check)["fvcore_total"] is None
    assert "did not run" in summary_line(check)


def test_fvcore_missing_is_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "fvcore", None)
    monkeypatch.setitem(sys.modules, "fvcore.nn", None)
    model = nn.Linear(3, 4)
    x = torch.randn(2, 3)
    check = against_fvcore(model, (x,), netprof.analyze(model, x))
    assert not check.ok and "fvcore is not installed" in check.notes[0]


def test_fvcore_messages_are_counted_not_printed(capfd):
    check = crosscheck(SelfAttention().eval(), torch.randn(2, 16, 64))
    out, err = capfd.readouterr()
    assert "Unsupported operator" not in out + err
    # fvcore logs one line per unsupported op type: here aten::scaled_dot_product_attention
    assert check.log_records >= 1
    assert any("suppressed while fvcore ran" in note for note in check.notes)


def test_render_and_dict(resnet18):
    console = Console(width=200, color_system=None, record=True)
    console.print(render_crosscheck(resnet18))
    text = console.export_text()
    assert "netprof vs fvcore" in text
    assert "1,813,561,344" in text and "aten.convolution.default" in text
    assert "fvcore on conv/matmul/attention only 1,814,073,344 (+0.00%)" in text
    data = crosscheck_to_dict(resnet18)
    assert json.loads(json.dumps(data)) == data
    assert type(data["fvcore_total"]) is int and data["fvcore_total"] == 1_819_065_856
    assert all(type(row["fvcore_count"]) is int for row in data["rows"])
    assert [row["family"] for row in data["rows"]][:2] == [CONV, MATMUL]
    assert data["unsupported"] == {"aten::add_": 8, "aten::max_pool2d": 1}
