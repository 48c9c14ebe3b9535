"""Selection, ordering, histogram, polar and the scatter/gather routing ops of mixture-of-experts routers.

Convention (``netprof.costs.selection``): comparisons add no multiply-adds; topk, sort
and the like cost one flop per value written; a histogram one flop per element
counted; polar one flop per output element; gathers and scatters move memory only.
Memory access is every distinct input read plus every output written.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from fixtures.wrappers import Fn
from torch import nn

import netprof

F32, I64, C64 = 4, 8, 8


def only(fn: Callable[..., object], *args: torch.Tensor, mode: str = "meta"):
    analysis = netprof.analyze(Fn(fn), args, mode=mode)
    assert analysis.uncounted == {}
    (node,) = [op for op in analysis.ops if op.category != "view"]
    return node


def test_topk_writes_values_and_indices() -> None:
    node = only(lambda x: torch.topk(x, 2, dim=-1), torch.randn(4, 6))
    assert (node.op, node.category, node.mult_adds) == ("aten.topk.default", "reduction", 0)
    # one flop per value written: 4 * 2 = 8
    assert node.flops == 8
    # read 4 * 6 * 4 = 96; write values 8 * 4 = 32 and int64 indices 8 * 8 = 64: 96 + 32 + 64 = 192
    assert node.mem_access_bytes == 192


@pytest.mark.parametrize(
    ("fn", "op"),
    [
        (lambda x: torch.sort(x, dim=-1), "aten.sort.default"),
        (lambda x: torch.sort(x, dim=-1, stable=True), "aten.sort.stable"),
        (lambda x: torch.argsort(x, dim=-1), "aten.sort.default"),
        (torch.msort, "aten.sort.default"),
    ],
)
def test_sort_and_argsort_write_every_value_and_index(fn: Callable[..., object], op: str) -> None:
    node = only(fn, torch.randn(4, 6))
    assert (node.op, node.category, node.mult_adds) == (op, "reduction", 0)
    # one flop per value written: 4 * 6 = 24 (the comparisons are not counted)
    assert node.flops == 24
    # read 24 * 4 = 96; write 24 * 4 = 96 values and 24 * 8 = 192 indices: 96 + 96 + 192 = 384
    assert node.mem_access_bytes == 384


def test_kthvalue_and_median_along_a_dim() -> None:
    for fn, op in ((lambda x: torch.kthvalue(x, 2, dim=-1), "aten.kthvalue.default"),
                   (lambda x: torch.median(x, dim=-1), "aten.median.dim")):  # fmt: skip
        node = only(fn, torch.randn(4, 6), mode="fake")
        assert (node.op, node.mult_adds) == (op, 0)
        # one value per row: 4 flops
        assert node.flops == 4
        # read 96; write 4 * 4 = 16 values and 4 * 8 = 32 indices: 96 + 16 + 32 = 144
        assert node.mem_access_bytes == 144


def test_histc_adds_one_per_element_binned() -> None:
    node = only(lambda x: torch.histc(x, bins=5, min=-1.0, max=1.0), torch.randn(4, 6))
    assert (node.op, node.category, node.mult_adds) == ("aten.histc.default", "reduction", 0)
    # one add per element counted: 4 * 6 = 24
    assert node.flops == 24
    # read 96, write 5 bins * 4 = 20: 116
    assert node.mem_access_bytes == 116


def test_bincount_adds_one_per_element_counted() -> None:
    node = only(torch.bincount, torch.tensor([0, 1, 1, 3, 3, 3]), mode="real")
    assert (node.op, node.mult_adds) == ("aten.bincount.default", 0)
    # 6 elements counted: 6 flops
    assert node.flops == 6
    # read 6 * 8 = 48; write max + 1 = 4 counts * 8 = 32: 80
    assert node.mem_access_bytes == 80


def test_polar_is_one_flop_per_complex_element() -> None:
    node = only(torch.polar, torch.rand(4, 6), torch.randn(4, 6))
    assert (node.op, node.category, node.mult_adds) == ("aten.polar.default", "elementwise", 0)
    # one flop per output element, as exp, sin and cos: 4 * 6 = 24
    assert node.flops == 24
    # read abs and angle, 96 each; write 24 complex64 * 8 = 192: 96 + 96 + 192 = 384
    assert node.mem_access_bytes == 384


INDEX = torch.tensor([[0, 2, 1], [3, 0, 0]])  # [2, 3] int64: 48 bytes


@pytest.mark.parametrize(
    ("fn", "op", "bytes_"),
    [
        # out [2, 3] = gather(x [4, 6], 1, index [2, 3]): 96 + 48 + 6 * 4 = 168
        (lambda x, i: torch.gather(x, 1, i), "aten.gather.default", 96 + 48 + 24),
        # out [4, 6] = scatter(x, 1, index, src [2, 3]): 96 + 48 + 24 + 96 = 264
        (lambda x, i: x.scatter(1, i, x[:2, :3].contiguous()), "aten.scatter.src", 96 + 48 + 24 + 96),
        (
            lambda x, i: x.scatter_add(1, i, x[:2, :3].contiguous()),
            "aten.scatter_add.default",
            96 + 48 + 24 + 96,
        ),
        (
            lambda x, i: x.scatter_reduce(1, i, x[:2, :3].contiguous(), "amax"),
            "aten.scatter_reduce.two",
            96 + 48 + 24 + 96,
        ),
        # out [3, 6] = index_select(x [4, 6], 0, index [3]): 96 + 3 * 8 + 18 * 4 = 192
        (lambda x, i: x.index_select(0, i[0]), "aten.index_select.default", 96 + 24 + 72),
        # out [4, 6] = index_add(x [4, 6], 0, index [3], source [3, 6]): 96 + 24 + 72 + 96 = 288
        (lambda x, i: x.index_add(0, i[0], x[:3] * 1), "aten.index_add.default", 96 + 24 + 72 + 96),
    ],
)
def test_gathers_and_scatters_move_memory_only(fn: Callable[..., object], op: str, bytes_: int) -> None:
    analysis = netprof.analyze(Fn(fn), (torch.randn(4, 6), INDEX), mode="meta")
    assert analysis.uncounted == {}
    (node,) = [n for n in analysis.ops if n.op == op]
    assert (node.category, node.mult_adds, node.flops) == ("data_movement", 0, 0)
    assert node.mem_access_bytes == bytes_


def test_one_hot_counts_as_a_scatter_into_zeros() -> None:
    analysis = netprof.analyze(Fn(lambda i: nn.functional.one_hot(i, 5)), (INDEX,), mode="fake")
    assert analysis.uncounted == {}
    assert analysis.totals.mult_adds == 0


def test_eye_is_a_factory_that_writes_its_output_once() -> None:
    # bailing_hybrid's layers build an identity with torch.eye in every forward
    analysis = netprof.analyze(
        Fn(lambda x: x + torch.eye(6, device=x.device)), (torch.randn(6, 6),), mode="meta"
    )
    assert analysis.uncounted == {}
    (eye,) = [op for op in analysis.ops if op.op == "aten.eye.default"]
    assert (eye.category, eye.mult_adds, eye.flops) == ("other", 0, 0)
    # writes 6 * 6 * 4 = 144 bytes, reads nothing
    assert eye.mem_access_bytes == 144


def test_is_all_true_reduces_the_whole_tensor_to_one_value() -> None:
    # torch._assert on a tensor condition runs aten._is_all_true (Gemma 3n's audio and vision towers)
    node = only(lambda x: torch.ops.aten._is_all_true(x), torch.ones(4, 6, dtype=torch.bool))
    assert (node.op, node.category, node.mult_adds, node.flops) == (
        "aten._is_all_true.default",
        "reduction",
        0,
        1,
    )
    # read 4 * 6 = 24 bools (1 byte each), write one: 24 + 1 = 25
    assert node.mem_access_bytes == 25


def test_nonzero_selects_one_row_per_nonzero_element() -> None:
    x = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    node = only(torch.nonzero, x, mode="real")  # a data-dependent shape: counted on a real run
    assert (node.op, node.category, node.mult_adds) == ("aten.nonzero.default", "reduction", 0)
    # 3 non-zero elements: one flop each
    assert node.flops == 3
    # read 6 * 4 = 24; write 3 rows x 2 int64 indices = 48
    assert node.mem_access_bytes == 24 + 48


def test_unique_writes_each_distinct_value() -> None:
    node = only(torch.unique, torch.tensor([3, 1, 3, 2, 1]), mode="real")
    assert (node.op, node.category, node.mult_adds, node.flops) == (
        "aten._unique2.default",
        "reduction",
        0,
        3,
    )
