"""The formula registry: one formula per overload packet, and honest reporting of the rest."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.ops import aten

import netprof
from netprof.costs import Category, Cost, lookup
from netprof.costs.registry import formula, registered


def _free(call) -> Cost:
    return Cost(Category.OTHER)


def test_duplicate_registration_raises() -> None:
    assert aten.mm in registered()
    with pytest.raises(ValueError, match="already registered"):
        formula(aten.mm)(_free)


def test_failed_registration_leaves_the_registry_unchanged() -> None:
    # aten.cummax has no formula and no tag that prices it
    assert lookup(aten.cummax.default) is None
    with pytest.raises(ValueError):
        formula(aten.cummax, aten.mm)(_free)
    assert lookup(aten.cummax.default) is None
    with pytest.raises(ValueError):
        formula(aten.cummax, aten.cummax)(_free)
    assert aten.cummax not in registered()


def test_schema_tags_price_ops_without_a_formula() -> None:
    assert aten.add not in registered() and aten.sum not in registered()
    add = lookup(aten.add.Tensor)
    total = lookup(aten.sum.dim_IntList)
    view = lookup(aten.view.default)
    assert add is not None and total is not None and view is not None
    assert add.__name__ == "elementwise_cost"
    assert total.__name__ == "reduction_cost"
    # a view_copy is the copying twin of a view: it moves data
    copy = netprof.analyze(_Call(lambda x: aten.view_copy(x, [12])), torch.randn(3, 4), mode="meta")
    (node,) = copy.ops
    assert (node.category, node.counted) == ("data_movement", True)
    # reads 12 * 4 bytes, writes 12 * 4 bytes: 96
    assert node.mem_access_bytes == 96


class _Call(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


@torch.library.custom_op("netprof_test::double_it", mutates_args=())
def double_it(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@double_it.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@pytest.mark.parametrize("mode", ["meta", "fake", "real"])
def test_custom_op_is_reported_uncounted_with_its_memory(mode: str) -> None:
    model = _Call(lambda x: torch.relu(double_it(double_it(x))))
    analysis = netprof.analyze(model, torch.randn(2, 3, 4), mode=mode)
    custom = [op for op in analysis.ops if op.op == "netprof_test.double_it.default"]
    assert len(custom) == 2
    assert analysis.uncounted == {"netprof_test.double_it.default": 2}
    assert analysis.totals.uncounted_ops == 2
    for node in custom:
        assert (node.counted, node.category, node.mult_adds, node.flops) == (False, "other", 0, 0)
        # still priced for memory: 24 elements read + 24 written, 4 bytes each = 192
        assert node.mem_access_bytes == 192
    # the relu after them is counted as usual: 24 flops
    assert analysis.totals.flops == 24


def test_aten_op_without_formula_is_reported() -> None:
    analysis = netprof.analyze(_Call(lambda x: torch.cummax(x, -1)), torch.randn(2, 5), mode="meta")
    (node,) = analysis.ops
    assert node.op == "aten.cummax.default"
    assert not node.counted
    assert analysis.uncounted == {"aten.cummax.default": 1}
    assert analysis.totals.uncounted_ops == 1
    # reads 10 float32 (40), writes 10 float32 values (40) and 10 int64 indices (80): 160
    assert node.mem_access_bytes == 160


def test_every_registered_packet_is_an_aten_packet() -> None:
    # Not vacuous: the registry holds the formulas every seed model needs, one module of
    # netprof.costs each (matmul, conv, norm, pool, data movement, attention, quantized).
    known = {
        aten.mm, aten.bmm, aten.addmm, aten.baddbmm, aten.mv, aten.dot,
        aten.convolution, aten._convolution,
        aten.native_batch_norm, aten._native_batch_norm_legit_no_training, aten.native_layer_norm,
        aten.native_group_norm,
        aten.max_pool2d_with_indices, aten.avg_pool2d, aten._adaptive_avg_pool2d,
        aten.cat, aten.stack, aten.embedding, aten.upsample_bilinear2d,
        aten._softmax, aten._scaled_dot_product_flash_attention_for_cpu,
        torch.ops.quantized.conv2d, torch.ops.quantized.linear,
    }  # fmt: skip
    assert known <= registered(), sorted(str(p) for p in known - registered())
    # Each registered packet is a real ATen packet (a typo would fail at import, this checks the rest).
    for packet in registered():
        assert isinstance(packet, torch._ops.OpOverloadPacket)
        assert packet.overloads(), packet
