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
