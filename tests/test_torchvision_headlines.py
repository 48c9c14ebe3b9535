"""Headline numbers against an independent source: torchvision's weight metadata.

``_ops`` (labelled GFLOPS in torchvision's docs) is multiply-adds of conv,
linear, matmul and attention, the convention netprof calls ``mult_adds``;
``num_params`` is the exact parameter count.
"""

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

import netprof

pytestmark = pytest.mark.slow  # whole torchvision networks, captured one by one

MODELS = [
    "shufflenet_v2_x1_0",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "squeezenet1_0",
    "resnet50",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
]


@pytest.mark.parametrize("name", MODELS)
def test_matches_torchvision_metadata(name):
    meta = get_model_weights(name).DEFAULT.meta
    model = torchvision.models.get_model(name, weights=None)
    size = meta.get("min_size", (224, 224))
    analysis = netprof.analyze(model, torch.randn(1, 3, max(224, size[0]), max(224, size[1])))

    assert analysis.params == meta["num_params"]
    published_mult_adds = meta["_ops"] * 1e9
    assert analysis.totals.mult_adds == pytest.approx(published_mult_adds, rel=0.005)
    assert analysis.uncounted == {}


def test_vit_attention_counted_on_the_fast_path():
    """Under no_grad nn.MultiheadAttention takes _native_multi_head_attention; it must not count as zero."""
    model = torchvision.models.vit_b_16(weights=None)
    for mode in ("fake", "meta"):
        analysis = netprof.analyze(model, torch.randn(1, 3, 224, 224), mode=mode)
        attention = analysis.categories["attention"].mult_adds
        # 12 layers x 197 tokens: in-projection 3 x 768^2, out-projection 768^2, scores + values 2 x 197 x 768
        per_layer = 197 * (4 * 768 * 768) + 2 * 197 * 197 * 768
        if mode == "fake":
            assert any(op.op == "aten._native_multi_head_attention.default" for op in analysis.ops)
            assert attention == 12 * per_layer
        else:
            # The meta device has no fast path: projections are gemm, only scores + values are attention.
            assert attention == 12 * 2 * 197 * 197 * 768
        assert analysis.totals.mult_adds == pytest.approx(17.564e9, rel=0.005)


def test_unfused_attention_is_labelled_and_a_classifier_softmax_is_not():
    class Attend(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)
            self.head = torch.nn.Linear(16, 3)

        def forward(self, x):
            out, _ = self.mha(x, x, x, need_weights=True)
            return self.head(out).softmax(-1)

    analysis = netprof.analyze(Attend(), torch.randn(1, 5, 16), mode="meta")
    # scores and weighted values: 2 heads x 5 x 5 x (8 + 8) = 800
    assert analysis.categories["attention"].mult_adds == 2 * 5 * 5 * (8 + 8)
    softmaxes = [op for op in analysis.ops if op.op == "aten._softmax.default"]
    assert [op.category for op in softmaxes] == ["attention", "elementwise"]


def test_what_builds_a_mask_or_a_position_bias_is_not_attention():
    """Swin's shifted-window mask and its bias table's gather feed the scores, but no product reaches
    them: they keep their own categories; the add that applies each is on the scores' path."""

    class MaskedAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = torch.nn.Linear(8, 24)
            self.table = torch.nn.Parameter(torch.zeros(7, 1))
            self.register_buffer("index", torch.arange(16).remainder(7))

        def forward(self, x):
            q, k, v = self.qkv(x).chunk(3, -1)
            bias = self.table[self.index].view(4, 4)  # a gather from the table and a view
            mask = torch.roll(x.new_zeros(4, 4), 1, 0).masked_fill(
                torch.eye(4, dtype=torch.bool, device=x.device), -100.0
            )
            scores = q @ k.transpose(-2, -1) + bias + mask
            return scores.softmax(-1) @ v

    analysis = netprof.analyze(MaskedAttention(), torch.randn(1, 4, 8), mode="meta")
    attention = [op for op in analysis.ops if op.category == "attention"]
    # q @ k^T, the two adds, the softmax and @ v; 4 x 4 x 8 mult_adds in each product
    assert [op.op.split(".")[1] for op in attention] == ["bmm", "add", "add", "_softmax", "bmm"]
    assert analysis.categories["attention"].mult_adds == 2 * 4 * 4 * 8
    for name in ("index", "roll", "masked_fill"):
        (op,) = [op for op in analysis.ops if op.op.split(".")[1] == name]
        assert op.category != "attention", name
