"""MobileViT, the zoo's hybrid, against what its paper and timm publish.

Sources: the paper (Mehta and Rastegari, ICLR 2022, arXiv 2110.02178) gives 1.3, 2.3 and 5.6 M
parameters for XXS, XS and S; timm 1.0.31's ``mobilevit_*`` models, built here once from its
wheel, have exactly the counts pinned below (and the same outputs for the same weights).
"""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

import netprof
from netprof.zoo import ZOO, InvertedResidual, MobileViTBlock
from netprof.zoo.mobilevit import TransformerLayer


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "paper_m", "timm"),
    [("mobilevit_xxs", 1.3, 1_272_024), ("mobilevit_xs", 2.3, 2_317_848), ("mobilevit_s", 5.6, 5_578_632)],
)
def test_params_match_the_paper_and_timm(name, paper_m, timm):
    count = params(ZOO[name]())
    assert count == timm
    assert round(count / 1e6, 1) == paper_m


@pytest.mark.parametrize(("name", "layers"), [("mobilevit_xxs", 9), ("mobilevit_xs", 9), ("mobilevit_s", 9)])
def test_three_mobilevit_blocks_of_2_4_3_transformer_layers(name, layers):
    model = ZOO[name]()
    blocks = [m for m in model.modules() if isinstance(m, MobileViTBlock)]
    assert [len(b.transformer) for b in blocks] == [2, 4, 3]
    assert sum(isinstance(m, TransformerLayer) for m in model.modules()) == layers
    assert sum(isinstance(m, InvertedResidual) for m in model.modules()) == 7  # 1 + 3 + 3 x 1


def test_mult_adds_at_256():
    # A regression pin (netprof's own count, 2,000.8 M at the paper's 256 x 256), not an independent
    # figure: the parameter counts above are the check against the sources.
    analysis = netprof.analyze(ZOO["mobilevit_s"](), torch.randn(1, 3, 256, 256))
    assert analysis.totals.mult_adds == pytest.approx(2.0008e9, rel=1e-3)
    assert analysis.params == 5_578_632


def test_sides_that_are_no_multiple_of_the_patch_are_resized():
    model = ZOO["mobilevit_xxs"](num_classes=10).eval()
    with torch.no_grad():  # 224: the last stage's 7 x 7 map is resized to 8 x 8 and back
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 10)


def test_the_family_cites_its_paper():
    doc = importlib.import_module("netprof.zoo.mobilevit").__doc__
    assert "arXiv " in doc and "Paper:" in doc and "leave" in doc
