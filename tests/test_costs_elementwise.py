"""Element-wise, normalization, pooling, reduction, data-movement and view ops.

Convention: one flop per output element and no multiply-adds for element-wise,
normalization, pooling and reduction ops; data movement costs memory, not flops;
views cost nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from fixtures.wrappers import Fn
from torch import nn

import netprof

F32 = 4
SHAPE = (2, 3, 4, 5)  # 2 * 3 * 4 * 5 = 120 elements, 480 bytes in float32


def only(analysis: netprof.Analysis):
    (node,) = [op for op in analysis.ops if op.category != "view"]
    return node


@pytest.mark.parametrize(
    ("fn", "op"),
    [
        (torch.relu, "aten.relu.default"),
        (F.hardswish, "aten.hardswish.default"),
        (F.gelu, "aten.gelu.default"),
        (torch.sigmoid, "aten.sigmoid.default"),
        (F.silu, "aten.silu.default"),
        (lambda x: F.relu(x, inplace=True), "aten.relu_.default"),
        (lambda x: torch.softmax(x, -1), "aten._softmax.default"),
    ],
)
def test_unary_elementwise(fn: Callable[..., torch.Tensor], op: str) -> None:
    node = only(netprof.analyze(Fn(fn), torch.randn(SHAPE), mode="meta"))
    assert node.op == op
    assert node.category == "elementwise"
    assert node.mult_adds == 0
    # one flop per output element: 2 * 3 * 4 * 5 = 120
    assert node.flops == 120
    # read 480 bytes, write 480 bytes
    assert node.mem_access_bytes == 960


def test_binary_elementwise() -> None:
    analysis = netprof.analyze(
        Fn(lambda x, y: (x + y, x * y, x * x)), (torch.randn(SHAPE), torch.randn(SHAPE)), mode="meta"
    )
    add, mul, square = analysis.ops
    assert (add.op, mul.op, square.op) == ("aten.add.Tensor", "aten.mul.Tensor", "aten.mul.Tensor")
    for node in (add, mul, square):
        assert (node.category, node.mult_adds, node.flops) == ("elementwise", 0, 120)
    # two inputs and one output of 480 bytes: 1440
    assert add.mem_access_bytes == mul.mem_access_bytes == 1440
    # x * x reads x once: 480 + 480 = 960
    assert square.mem_access_bytes == 960


def test_broadcast_bias_add_reads_the_bias_at_its_size() -> None:
    node = only(netprof.analyze(Fn(torch.add), (torch.randn(SHAPE), torch.randn(3, 1, 1)), mode="meta"))
    # 120 flops, one per output element
    assert node.flops == 120
    # 480 (x) + 3 * 4 (bias) + 480 (out) = 972
    assert node.mem_access_bytes == 972


@pytest.mark.parametrize(
    ("module", "op"),
    [
        (nn.BatchNorm2d(3), "aten.native_batch_norm.default"),
        (nn.LayerNorm(5), "aten.native_layer_norm.default"),
        (nn.GroupNorm(3, 3), "aten.native_group_norm.default"),
    ],
)
@pytest.mark.parametrize("mode", ["meta", "real"])
def test_normalization(module: nn.Module, op: str, mode: str) -> None:
    analysis = netprof.analyze(module, torch.randn(SHAPE), mode=mode)
    nodes = [node for node in analysis.ops if node.category == "normalization"]
    assert [node.op for node in nodes] == [op]
    # no multiply-adds; one flop per output element: 120
    assert (nodes[0].mult_adds, nodes[0].flops) == (0, 120)
    assert analysis.totals.flops == 120


@pytest.mark.parametrize(
    ("module", "flops"),
    [
        # [1, 2, 4, 6] -> [1, 2, 2, 3] = 12 outputs
        (nn.MaxPool2d(2), 12),
        (nn.AvgPool2d(2), 12),
        # [1, 2, 4, 6] -> [1, 2, 2, 2] = 8 outputs
        (nn.AdaptiveAvgPool2d(2), 8),
        # [1, 2, 4, 6] -> [1, 2, 2, 3] with 3x3 windows, stride 2, padding 1: 12 outputs
        (nn.MaxPool2d(3, stride=2, padding=1), 12),
    ],
)
def test_pooling(module: nn.Module, flops: int) -> None:
    node = only(netprof.analyze(module, torch.randn(1, 2, 4, 6), mode="meta"))
    assert node.category == "pooling"
    assert (node.mult_adds, node.flops) == (0, flops)


def test_global_average_pool_is_a_mean() -> None:
    node = only(netprof.analyze(nn.AdaptiveAvgPool2d(1), torch.randn(1, 2, 4, 6), mode="meta"))
    # PyTorch runs a 1x1 adaptive pool as mean over H, W: [1, 2, 1, 1] = 2 outputs
    assert node.op == "aten.mean.dim"
    assert (node.category, node.flops) == ("reduction", 2)


def test_reductions() -> None:
    fn = Fn(lambda x: (x.sum(1), x.mean(), x.amax(-1), x.cumsum(1)))
    analysis = netprof.analyze(fn, torch.randn(2, 3, 4), mode="meta")
    ops = {node.op: node for node in analysis.ops}
    # one flop per output element: sum over dim 1 -> [2, 4] = 8; mean of all -> 1; amax -> [2, 3] = 6
    assert ops["aten.sum.dim_IntList"].flops == 8
    assert ops["aten.mean.default"].flops == 1
    assert ops["aten.amax.default"].flops == 6
    # a scan writes every element: 2 * 3 * 4 = 24
    assert ops["aten.cumsum.default"].flops == 24
    assert {node.category for node in analysis.ops} == {"reduction"}
    assert analysis.totals.mult_adds == 0
    # sum: read 24 * 4 = 96, write 8 * 4 = 32: 128
    assert ops["aten.sum.dim_IntList"].mem_access_bytes == 128


def test_cat_is_data_movement() -> None:
    node = only(
        netprof.analyze(
            Fn(lambda a, b: torch.cat([a, b], 1)),
            (torch.randn(1, 4, 6, 6), torch.randn(1, 2, 6, 6)),
            mode="meta",
        )
    )
    assert node.op == "aten.cat.default"
    assert (node.category, node.mult_adds, node.flops) == ("data_movement", 0, 0)
    # inputs 144 + 72 elements, output 216: (144 + 72 + 216) * 4 = 1728
    assert node.mem_access_bytes == 1728


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.view(6, 20),
        lambda x: x.reshape(2, 60),
        lambda x: x.transpose(1, 2),
        lambda x: x.permute(0, 2, 3, 1),
        lambda x: x.expand(3, 2, 3, 4, 5),
        lambda x: x.split(1, 1),
        lambda x: x.chunk(3, 1),
        lambda x: x[:, :2],
        lambda x: x.flatten(1),
        lambda x: x.unsqueeze(0),
    ],
)
def test_views_move_nothing(fn: Callable[[torch.Tensor], object]) -> None:
    analysis = netprof.analyze(Fn(fn), torch.randn(SHAPE), mode="meta")
    assert analysis.ops
    assert {node.category for node in analysis.ops} == {"view"}
    assert analysis.totals.mem_access_bytes == 0
    assert analysis.totals.flops == 0


def test_reshape_of_a_transpose_copies_once() -> None:
    analysis = netprof.analyze(
        Fn(lambda x: x.transpose(1, 2).reshape(2, 4, 15)), torch.randn(SHAPE), mode="meta"
    )
    copies = [node for node in analysis.ops if node.category != "view"]
    # a non-contiguous reshape is a clone: read 480 bytes, write 480 bytes
    assert [(node.op, node.category, node.mem_access_bytes) for node in copies] == [
        ("aten.clone.default", "data_movement", 960)
    ]
    assert analysis.totals.mem_access_bytes == 960


def test_unsafe_split_of_rnn_gates_is_a_view() -> None:
    node = netprof.analyze(
        Fn(lambda x: torch.ops.aten.unsafe_split(x, 5, -1)), torch.randn(SHAPE), mode="meta"
    )
    assert [(op.op, op.category, op.mem_access_bytes) for op in node.ops] == [
        ("aten.unsafe_split.Tensor", "view", 0)
    ]
    assert node.uncounted == {}
