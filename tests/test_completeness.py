"""A fast subset of the torchvision sweep (benchmarks/torchvision_sweep.py): every task analyses.

Source of the expected numbers: torchvision's weight metadata, ``_ops`` (multiply-adds,
labelled GFLOPS in its docs) and ``num_params``, at the weights' crop size.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

import netprof

# Whole torchvision networks, captured one by one: seconds each on a small machine.
pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.slow]


def _build(name: str, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, weights=None, **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("resnet18", {}),
        ("inception_v3", {"init_weights": True}),  # its num_params include the auxiliary head
        ("googlenet", {"aux_logits": False, "init_weights": True}),  # as the published weights
        ("regnet_y_400mf", {}),
        ("swin_t", {}),
        ("maxvit_t", {}),
        ("mobilenet_v3_large", {}),
    ],
)
def test_classifier_matches_torchvision_metadata(name, kwargs):
    weights = get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size[0]  # the resolution _ops was measured at (299 for inception_v3)
    analysis = netprof.analyze(_build(name, **kwargs), torch.randn(1, 3, crop, crop))
    assert analysis.mode == "meta"
    assert analysis.params == weights.meta["num_params"]
    assert analysis.totals.mult_adds == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.005)
    assert analysis.uncounted == {}


def test_segmentation():
    model = _build("lraspp_mobilenet_v3_large", weights_backbone=None)
    weights = get_model_weights("lraspp_mobilenet_v3_large").DEFAULT
    # _ops (2.086) is at the weights' resize size, 520 x 520 (the transform resizes, it does not crop)
    size = weights.transforms().resize_size[0]
    assert size == 520
    analysis = netprof.analyze(model, torch.randn(1, 3, size, size))
    assert analysis.uncounted == {}
    assert analysis.params == weights.meta["num_params"]
    assert analysis.totals.mult_adds == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.005)


def test_video():
    # r3d_18's _ops is measured on 16 frames of 112 x 112
    analysis = netprof.analyze(_build("r3d_18"), torch.randn(1, 3, 16, 112, 112))
    assert analysis.totals.mult_adds == pytest.approx(
        get_model_weights("r3d_18").DEFAULT.meta["_ops"] * 1e9, rel=0.005
    )
    assert analysis.uncounted == {}


def test_optical_flow_raft_small():
    # The metadata records no input size and the transform does not resize. _ops (47.655) is
    # reproduced at 512 x 512 (RAFT takes sides that are multiples of 8; 504 x 504 gives 46.113 and
    # 520 x 520 gives 49.226, 3% off either way), so the published figure pins the size.
    weights = get_model_weights("raft_small").DEFAULT
    images = (torch.randn(1, 3, 512, 512), torch.randn(1, 3, 512, 512))
    analysis = netprof.analyze(_build("raft_small"), images)
    assert analysis.uncounted == {}
    assert analysis.params == weights.meta["num_params"]
    assert analysis.totals.mult_adds == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.005)


def test_quantized_resnet18_counts_int8_kernels():
    model = _build("quantized_resnet18", quantize=True)  # calibrated on random data, then converted
    analysis = netprof.analyze(model, torch.randn(1, 3, 224, 224))
    # quantized kernels need real CPU tensors
    assert analysis.mode == "real"
    assert analysis.uncounted == {}
    weights = get_model_weights("quantized_resnet18").DEFAULT
    assert analysis.totals.mult_adds == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.005)
    # The packed int8 weights and biases count as parameters. torchvision's num_params (11,689,512) is
    # the float model's; converting folds each batch norm into its conv. The batch norms have
    # 64 + 4*64 + (4*128 + 128) + (4*256 + 256) + (4*512 + 512) = 4,800 channels: their weights and
    # biases (2 * 4,800) go, and each folded conv gains a bias (4,800): 11,689,512 - 9,600 + 4,800.
    assert analysis.params == weights.meta["num_params"] - 2 * 4_800 + 4_800
