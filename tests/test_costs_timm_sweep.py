"""Formulas added for the ops the timm sweep (benchmarks/results/sweep_timm.md) found uncounted.

``torch.eye`` (bat_resnext26ts) is a factory: it writes its output once and computes nothing.
``torch._assert_async`` (gemma4_vit_*_enc) reads its one-element condition, as ``.item()`` does.
``//`` on tensors (``aten.floor_divide``, gemma4_vit_*_enc) is element-wise: one flop per output element.
"""

from __future__ import annotations

import torch
from fixtures.wrappers import Fn

import netprof

F32 = 4


def _only(analysis: netprof.Analysis, op: str):
    (node,) = [node for node in analysis.ops if node.op == op]
    return node


def test_eye_is_a_factory() -> None:
    analysis = netprof.analyze(
        Fn(lambda x: x * torch.eye(4, 5, device=x.device)), torch.randn(4, 5), mode="meta"
    )
    assert analysis.uncounted == {}
    node = _only(analysis, "aten.eye.m")
    assert node.category == "other"
    assert (node.mult_adds, node.flops) == (0, 0)
    # writes its 4 * 5 = 20 float32 elements once
    assert node.mem_access_bytes == 20 * F32


def test_assert_async_reads_one_element() -> None:
    def check(x: torch.Tensor) -> torch.Tensor:
        torch._assert_async((x > -1e9).all())
        return x

    analysis = netprof.analyze(Fn(check), torch.randn(2, 3), mode="meta")
    assert analysis.uncounted == {}
    node = _only(analysis, "aten._assert_async.default")
    assert node.category == "other"
    assert (node.mult_adds, node.flops) == (0, 0)
    # reads the one-element bool condition
    assert node.mem_access_bytes == 1


def test_floor_divide_is_elementwise() -> None:
    analysis = netprof.analyze(Fn(lambda x: x // 3), torch.randn(2, 3, 4), mode="meta")
    assert analysis.uncounted == {}
    node = _only(analysis, "aten.floor_divide.default")
    assert node.category == "elementwise"
    # one flop per output element: 2 * 3 * 4 = 24
    assert (node.mult_adds, node.flops) == (0, 24)
    # reads 24 float32 elements, writes 24 (the Python divisor is no tensor read)
    assert node.mem_access_bytes == 2 * 24 * F32
