"""The seed zoo against the numbers its sources publish.

Sources, named in each parametrize id or comment:
- torchvision weight metadata: ``num_params`` and ``_ops`` (labelled "GFLOPS", in fact
  multiply-adds of conv / linear only), and a freshly built torchvision model;
- the papers' tables, as collected in shared/REFERENCE.md;
- REFERENCE.md's note on what an implementation from the architecture tables lands on.
"""

from __future__ import annotations

import importlib
from functools import cache

import pytest
import torch
import torchvision
from torch import nn

import netprof
from netprof.zoo import (
    ZOO,
    DepthwiseSeparable,
    FireModule,
    InvertedResidual,
    ShuffleV1Unit,
    ShuffleV2Unit,
    SqueezeExcite,
    channel_shuffle,
    make_divisible,
    mobilenet_v1,
    shufflenet_v1,
)
from netprof.zoo.shufflenetv1 import widths

TORCHVISION_NAMES = [
    "squeezenet1_0",
    "squeezenet1_1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@cache
def measured(name: str, resolution: int = 224) -> tuple[int, int]:
    """(mult_adds, params) of ZOO[name] as netprof measures it."""
    analysis = netprof.analyze(ZOO[name](), torch.randn(1, 3, resolution, resolution))
    return analysis.totals.mult_adds, analysis.params


def tv_meta(name: str) -> dict:
    return torchvision.models.get_model_weights(name).DEFAULT.meta


# --- networks torchvision also has ---------------------------------------------------------


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_params_equal_torchvision_metadata_and_model(name):
    model = ZOO[name]()
    tv_model = torchvision.models.get_model(name, weights=None)
    assert params(model) == tv_meta(name)["num_params"]
    assert params(model) == params(tv_model)
    assert measured(name)[1] == params(model)


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_mult_adds_match_torchvision_ops(name):
    # torchvision `_ops` is rounded to 3 decimals of a G, so the tolerance is 0.5% or half
    # of that last digit, whichever is larger: 0.040 stands for anything in [0.0395, 0.0405).
    ops = tv_meta(name)["_ops"]
    mult_adds_g = measured(name)[0] / 1e9
    assert abs(mult_adds_g - ops) <= max(0.005 * ops, 0.0005), (mult_adds_g, ops)


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_mult_adds_equal_torchvision_model(name):
    # Same architecture, same counter: every conv and linear layer must agree.
    tv_model = torchvision.models.get_model(name, weights=None)
    tv_mult_adds = netprof.analyze(tv_model, torch.randn(1, 3, 224, 224)).totals.mult_adds
    assert measured(name)[0] == tv_mult_adds


@pytest.mark.parametrize(
    ("name", "paper_mult_adds_m"),
    [
        pytest.param("mobilenet_v2", 300, id="MobileNetV2-paper-Table4-300M"),
        pytest.param("mobilenet_v3_large", 219, id="MobileNetV3-paper-Table3-large-219M"),
        pytest.param("mobilenet_v3_small", 56, id="MobileNetV3-paper-Table3-small-56M"),
        pytest.param("shufflenet_v2_x0_5", 41, id="ShuffleNetV2-paper-Table8-0.5x-41M"),
        pytest.param("shufflenet_v2_x1_0", 146, id="ShuffleNetV2-paper-Table8-1x-146M"),
        pytest.param("shufflenet_v2_x1_5", 299, id="ShuffleNetV2-paper-Table8-1.5x-299M"),
        pytest.param("shufflenet_v2_x2_0", 591, id="ShuffleNetV2-paper-Table8-2x-591M"),
    ],
)
def test_mult_adds_near_paper(name, paper_mult_adds_m):
    # The papers round to 1M and measure their own TensorFlow / Caffe builds, which differ in
    # small ways (e.g. the SE and classifier head); 1.5% covers the largest gap, 2x at -1.3%.
    mult_adds_m = measured(name)[0] / 1e6
    assert abs(mult_adds_m / paper_mult_adds_m - 1) <= 0.015, mult_adds_m


# --- MobileNet V1 (not in torchvision) -----------------------------------------------------


def test_mobilenet_v1_reference_implementation():
    # REFERENCE.md: "MobileNet V1 1.0 = 568.7M mult-adds, 4,231,976 params (BN included)".
    mult_adds, n_params = measured("mobilenet_v1_1.0")
    assert round(mult_adds / 1e6, 1) == 568.7
    assert n_params == 4_231_976


@pytest.mark.parametrize(
    ("name", "paper_mult_adds_m", "paper_params_m"),
    [
        pytest.param("mobilenet_v1_1.0", 569, 4.2, id="MobileNets-paper-Table6-alpha1.0"),
        pytest.param("mobilenet_v1_0.75", 325, 2.6, id="MobileNets-paper-Table6-alpha0.75"),
        pytest.param("mobilenet_v1_0.5", 149, 1.3, id="MobileNets-paper-Table6-alpha0.5"),
        pytest.param("mobilenet_v1_0.25", 41, 0.5, id="MobileNets-paper-Table6-alpha0.25"),
    ],
)
def test_mobilenet_v1_width_multiplier(name, paper_mult_adds_m, paper_params_m):
    mult_adds, n_params = measured(name)
    assert abs(mult_adds / 1e6 / paper_mult_adds_m - 1) <= 0.01, mult_adds
    assert round(n_params / 1e6, 1) == paper_params_m


@pytest.mark.parametrize(
    ("resolution", "paper_mult_adds_m"),
    [
        pytest.param(192, 418, id="MobileNets-paper-Table7-192"),
        pytest.param(160, 290, id="MobileNets-paper-Table7-160"),
        pytest.param(128, 186, id="MobileNets-paper-Table7-128"),
    ],
)
def test_mobilenet_v1_resolution(resolution, paper_mult_adds_m):
    mult_adds, n_params = measured("mobilenet_v1_1.0", resolution)
    assert abs(mult_adds / 1e6 / paper_mult_adds_m - 1) <= 0.01, mult_adds
    assert n_params == 4_231_976  # the resolution multiplier leaves the parameters alone


def test_mobilenet_v1_last_depthwise_has_stride_1():
    # Table 1's "Conv dw / s2" on the last block is a typo: the map stays 7x7.
    blocks = [m for m in mobilenet_v1().modules() if isinstance(m, DepthwiseSeparable)]
    assert blocks[-1].depthwise[0].stride == (1, 1)
    assert [b.depthwise[0].stride[0] for b in blocks].count(2) == 4


# --- ShuffleNet V1 (not in torchvision) ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mult_adds_m", "n_params"),
    [
        pytest.param("shufflenet_v1_g3", 137.5, 1_865_728, id="REFERENCE-impl-1x-g3"),
        pytest.param("shufflenet_v1_g8", 138.4, 2_434_768, id="REFERENCE-impl-1x-g8"),
    ],
)
def test_shufflenet_v1_reference_implementation(name, mult_adds_m, n_params):
    mult_adds, measured_params = measured(name)
    assert round(mult_adds / 1e6, 1) == mult_adds_m
    assert measured_params == n_params


@pytest.mark.parametrize(
    ("groups", "paper_mult_adds_m"),
    [
        pytest.param(1, 143, id="ShuffleNet-paper-Table1-g1-143M"),
        pytest.param(2, 140, id="ShuffleNet-paper-Table1-g2-140M"),
        pytest.param(3, 137, id="ShuffleNet-paper-Table1-g3-137M"),
        pytest.param(4, 133, id="ShuffleNet-paper-Table1-g4-133M"),
        pytest.param(8, 137, id="ShuffleNet-paper-Table1-g8-137M"),
    ],
)
def test_shufflenet_v1_groups(groups, paper_mult_adds_m):
    mult_adds = measured(f"shufflenet_v1_g{groups}")[0]
    assert abs(mult_adds / 1e6 / paper_mult_adds_m - 1) <= 0.02, mult_adds


@pytest.mark.parametrize(
    ("groups", "stage2"), [(1, 144), (2, 200), (3, 240), (4, 272), (8, 384)], ids=lambda v: str(v)
)
def test_shufflenet_v1_widths_at_1x_are_table_1(groups, stage2):
    # ShuffleNet paper Table 1: conv1 24, stages 2-4 double from the stage 2 width.
    assert widths(groups, 1.0) == (24, [stage2, 2 * stage2, 4 * stage2])


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8])
def test_shufflenet_v1_first_pointwise_of_stage_2_is_not_grouped(groups):
    model = shufflenet_v1(groups=groups)
    assert model.stage2[0].compress[0].groups == 1
    assert model.stage2[1].compress[0].groups == groups
    assert model.stage3[0].compress[0].groups == groups
    assert all(unit.expand[0].groups == groups for unit in model.modules() if isinstance(unit, ShuffleV1Unit))


@pytest.mark.slow
@pytest.mark.parametrize("scale", [0.25, 0.5, 1.5, 2.0])
@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8])
def test_shufflenet_v1_every_scale_builds_and_runs(groups, scale):
    # A width that does not split into g groups makes nn.Conv2d raise here.
    model = shufflenet_v1(groups=groups, scale=scale, num_classes=10).eval()
    stem, stages = widths(groups, scale)
    assert model.conv1[0].out_channels == stem
    assert model.fc.in_features == stages[-1] == 4 * stages[0]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_shufflenet_v1_stride_2_unit_concats_a_pooled_shortcut():
    unit = ShuffleV1Unit(240, 480, groups=3, stride=2).eval()
    assert unit.expand[0].out_channels == 480 - 240
    assert isinstance(unit.shortcut, nn.AvgPool2d)
    with torch.no_grad():
        assert unit(torch.randn(1, 240, 28, 28)).shape == (1, 480, 14, 14)


# --- shared helpers -------------------------------------------------------------------------


def test_channel_shuffle_interleaves_groups():
    # 6 channels in 2 groups [0 1 2 | 3 4 5] -> take one from each group in turn: 0 3 1 4 2 5.
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    # 3 groups [0 1 | 2 3 | 4 5] -> 0 2 4 1 3 5.
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (32 * 0.75, 24),  # already a multiple of 8
        (1280 * 1.3, 1664),  # 1664.0 is 208 * 8
        (16 * 0.35, 8),  # 5.6 rounds up to the floor of one divisor
        (72 / 4, 24),  # 18 + 4 = 22 -> 16, but 16 < 0.9 * 18, so one more divisor: 24
        (120 / 4, 32),  # 30 + 4 = 34 -> 32
    ],
)
def test_make_divisible(value, expected):
    assert make_divisible(value) == expected


# --- the zoo as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "block", "count"),
    [
        pytest.param("squeezenet1_0", FireModule, 8, id="SqueezeNet-Table1-fire2-9"),
        pytest.param("squeezenet1_1", FireModule, 8, id="SqueezeNet1.1-fire2-9"),
        pytest.param("mobilenet_v1_1.0", DepthwiseSeparable, 13, id="MobileNets-Table1"),
        pytest.param("mobilenet_v2", InvertedResidual, 17, id="MobileNetV2-Table2"),
        pytest.param("mobilenet_v3_large", InvertedResidual, 15, id="MobileNetV3-Table1"),
        pytest.param("mobilenet_v3_large", SqueezeExcite, 8, id="MobileNetV3-Table1-SE"),
        pytest.param("mobilenet_v3_small", InvertedResidual, 11, id="MobileNetV3-Table2"),
        pytest.param("mobilenet_v3_small", SqueezeExcite, 9, id="MobileNetV3-Table2-SE"),
        pytest.param("shufflenet_v1_g3", ShuffleV1Unit, 16, id="ShuffleNet-Table1"),
        pytest.param("shufflenet_v2_x1_0", ShuffleV2Unit, 16, id="ShuffleNetV2-Table5"),
    ],
)
def test_blocks_are_their_own_modules(name, block, count):
    assert sum(isinstance(m, block) for m in ZOO[name]().modules()) == count


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_entry_builds_with_no_arguments_and_runs(name):
    model = ZOO[name]()
    assert isinstance(model, nn.Module)
    small = ZOO[name](num_classes=10).eval()
    with torch.no_grad():
        assert small(torch.randn(2, 3, 64, 64)).shape == (2, 10)


@pytest.mark.parametrize(
    "spec",
    [
        "netprof.zoo:squeezenet1_0",
        "netprof.zoo:squeezenet1_1",
        "netprof.zoo:mobilenet_v1",
        "netprof.zoo:mobilenet_v2",
        "netprof.zoo:mobilenet_v3_large",
        "netprof.zoo:mobilenet_v3_small",
        "netprof.zoo:shufflenet_v1",
        "netprof.zoo:shufflenet_v1_g8",
        "netprof.zoo:shufflenet_v2",
        "netprof.zoo:shufflenet_v2_x0_5",
    ],
)
def test_cli_specs_resolve_to_callables_without_required_arguments(spec):
    module_name, attr = spec.split(":")
    assert isinstance(getattr(importlib.import_module(module_name), attr)(), nn.Module)


def test_plain_builders_are_the_default_variants():
    # shufflenet_v1() is 1x g=3 and mobilenet_v1() is alpha = 1.0, as the papers' headline models.
    assert params(shufflenet_v1()) == measured("shufflenet_v1_g3")[1]
    assert params(mobilenet_v1()) == measured("mobilenet_v1_1.0")[1]


@pytest.mark.parametrize(
    "module",
    ["squeezenet", "mobilenetv1", "mobilenetv2", "mobilenetv3", "shufflenetv1", "shufflenetv2"],
)
def test_each_family_cites_its_paper(module):
    doc = importlib.import_module(f"netprof.zoo.{module}").__doc__
    assert "arXiv " in doc and "Paper:" in doc and "leave" in doc
