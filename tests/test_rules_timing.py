"""When the analysis was timed, G3 and G4 findings carry the measured time share."""

import pytest
import torch
from fixtures.models import FourBranches
from torch import nn

import netprof
from netprof import rules
from netprof.rules.base import RuleSettings
from netprof.zoo import mobilenet_v2


@pytest.mark.slow
def test_g4_finding_reports_time_share():
    result = netprof.run(mobilenet_v2(), torch.randn(1, 3, 224, 224), timing=netprof.TimingOptions(repeat=3))
    (g4,) = [f for f in rules.run(result.analysis, op_seconds=result.op_seconds) if f.rule == "G4"]
    share = g4.evidence["time_share"]
    timing = result.timing
    elementwise = {"elementwise", "normalization", "depthwise_conv"}
    expected = sum(op.time.median for op in timing.ops if op.category in elementwise) / timing.attributed_s
    assert abs(share - expected) < 1e-12
    assert 0 < share < 1
    assert f"{share:.1%} of op time" in g4.message


def test_g3_finding_reports_time_share_and_untimed_does_not():
    model = nn.Sequential(FourBranches(), nn.ReLU())
    settings = {"G3": RuleSettings(options={"max_parallel_branches": 2})}
    untimed = rules.run(netprof.analyze(model, torch.randn(1, 8, 16, 16)), settings=settings)
    result = netprof.run(model, torch.randn(1, 8, 16, 16), timing=netprof.TimingOptions(repeat=3))
    timed = rules.run(result.analysis, settings=settings, op_seconds=result.op_seconds)

    (before,) = [f for f in untimed if f.rule == "G3"]
    (after,) = [f for f in timed if f.rule == "G3"]
    assert "time_share" not in before.evidence and "op time" not in before.message
    assert 0 < after.evidence["time_share"] <= 1
    assert "of op time" in after.message
    # The definition, from the module paths alone: the ops that run inside the flagged block (module
    # "0": its four convs and the cat), over all attributed op time (the ReLU of module "1" is out).
    timing = result.timing
    assert after.module == "0"
    inside = [op for op in timing.ops if op.module == "0" or op.module.startswith("0.")]
    assert [op.op_type for op in inside] == ["convolution"] * 4 + ["cat"]
    expected = sum(op.time.median for op in inside) / timing.attributed_s
    assert abs(after.evidence["time_share"] - expected) < 1e-12
    assert expected < 1  # the ReLU took some time
    assert f"{expected:.1%} of op time" in after.message
