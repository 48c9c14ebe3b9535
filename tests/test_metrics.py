"""Graph metrics on tiny hand-built blocks, each value computed by hand in a comment."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn

import netprof
from netprof.metrics import CHAIN, PARALLEL, compute, conv_metrics, dataflow, find_blocks


def analyze(model: nn.Module, shape: tuple[int, ...]):
    return netprof.analyze(model.eval(), torch.randn(*shape))


class Residual(nn.Module):
    """x + conv(relu(conv(x))): the smallest residual unit."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x)))


class Fire(nn.Module):
    """Squeeze 1x1, then expand 1x1 and 3x3 in parallel, concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(8, 4, 1)
        self.relu = nn.ReLU()
        self.e1 = nn.Conv2d(4, 4, 1)
        self.e3 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        s = self.relu(self.squeeze(x))
        return torch.cat([self.e1(s), self.e3(s)], 1)


class Parallel(nn.Module):
    """``n`` 1x1 convs reading the same input, summed (the paper's Table 3 parallel block)."""

    def __init__(self, n: int, c: int = 8) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(n))

    def forward(self, x):
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out


class Concat4(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(8, 2, 1)
        self.b2 = nn.Sequential(nn.Conv2d(8, 2, 1), nn.Conv2d(2, 2, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(8, 2, 1), nn.Conv2d(2, 2, 3, padding=1))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(8, 2, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Split(nn.Module):
    """ShuffleNet V2's stride-1 unit without the shuffle: channel split, one conv branch."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())

    def forward(self, x):
        kept, x = x.chunk(2, dim=1)
        return torch.cat([kept, self.branch(x)], 1)


def wrapped(block: nn.Module) -> nn.Module:
    """A stem conv, the block, a head conv: the block is then a named child, not the model."""
    return nn.Sequential(nn.Conv2d(8, 8, 1), block, nn.Conv2d(8, 8, 1))


def only_block(model: nn.Module, shape=(1, 8, 8, 8)):
    blocks = find_blocks(analyze(model, shape))
    assert list(blocks) == ["1"]
    return blocks["1"]


def test_residual_block_has_an_identity_branch():
    block = only_block(wrapped(Residual()))
    assert block.kind == PARALLEL and block.type == "Residual"
    assert block.fragments == 2  # conv1, conv2
    assert block.longest_chain == 2  # conv1 -> conv2
    assert block.parallel_branches == 2  # conv branch + shortcut
    assert (block.compute_branches, block.identity_branches) == (1, 1)
    (join,) = block.joins
    assert join.fork == block.entry  # the block input forks
    assert [b.fragments for b in join.branches] == [0, 2]  # in the add's argument order: x, then conv2


def test_fire_block_forks_inside():
    block = only_block(wrapped(Fire()))
    assert block.fragments == 3  # squeeze, e1, e3
    assert block.longest_chain == 2  # squeeze -> e3
    assert (block.parallel_branches, block.compute_branches, block.identity_branches) == (2, 2, 0)
    (join,) = block.joins
    analysis = analyze(wrapped(Fire()), (1, 8, 8, 8))
    fork = next(op for op in analysis.ops if op.id == join.fork)
    assert fork.module == "1.relu"  # the squeeze output forks, not the block input


@pytest.mark.parametrize("n", [2, 4])
def test_parallel_block(n):
    block = only_block(wrapped(Parallel(n)))
    assert block.fragments == n  # one 1x1 conv per branch
    assert block.longest_chain == 1
    # the adds chain up (n - 1 two-input adds), but every branch forks from the block input:
    # the last add merges all n, as the paper's n-fragment-parallel block (Table 3) has n branches
    assert block.compute_branches == n
    assert [len(join.branches) for join in block.joins] == list(range(2, n + 1))
    assert len(block.joins) == n - 1
    assert all(join.fork == block.entry for join in block.joins)


def test_four_branch_concat():
    block = only_block(wrapped(Concat4()))
    assert block.fragments == 7  # 1 + 2 + 2 + (pool + conv)
    assert block.longest_chain == 2
    (join,) = block.joins
    assert [b.fragments for b in join.branches] == [1, 2, 2, 2]
    assert (block.parallel_branches, block.compute_branches) == (4, 4)


def test_channel_split_is_a_fork_and_the_kept_half_an_identity_branch():
    block = only_block(wrapped(Split()))
    assert (block.parallel_branches, block.compute_branches, block.identity_branches) == (2, 1, 1)
    analysis = analyze(wrapped(Split()), (1, 8, 8, 8))
    (join,) = block.joins
    fork = next(op for op in analysis.ops if op.id == join.fork)
    assert fork.category == "view" and fork.module == "1"  # the split


def test_chain_block_and_outermost_name_of_a_wrapper():
    class Separable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 1))

        def forward(self, x):
            return self.inner(x)

    model = nn.Sequential(nn.Conv2d(8, 8, 1), Separable(), nn.Conv2d(16, 8, 1))
    block = only_block(model)
    assert block.kind == CHAIN and block.type == "Separable"  # not "1.inner", which has the same ops
    assert (block.fragments, block.longest_chain, block.parallel_branches) == (2, 2, 1)


def test_block_reading_the_model_input_and_parameters_are_not_entries():
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 1)
            self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))

        def forward(self, x):
            return x + self.conv(x) * self.scale

    blocks = find_blocks(analyze(Scaled(), (1, 8, 4, 4)))
    assert list(blocks) == [""]
    assert blocks[""].entry == -1  # the first model input
    assert blocks[""].compute_branches == 1 and blocks[""].identity_branches == 1


def test_two_input_module_is_not_a_block():
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.left, self.right, self.mix = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1), TwoInputs()

        def forward(self, x):
            return self.mix(self.left(x), self.right(x))

    assert "mix" not in find_blocks(analyze(Model(), (1, 8, 4, 4)))


def test_g1_bound_of_a_1x1_conv_by_hand():
    analysis = analyze(nn.Conv2d(16, 64, 1, bias=False), (1, 16, 8, 8))
    (conv,) = conv_metrics(analysis)[""]
    assert (conv.c_in, conv.c_out, conv.groups, conv.kernel, conv.hw) == (16, 64, 1, (1, 1), 64)
    assert conv.mult_adds == 65536  # B = hw*c1*c2 = 64 * 16 * 64
    assert conv.mac_elements == 6144  # hw*c1 + hw*c2 + c1*c2 = 1024 + 4096 + 1024
    assert conv.g1_bound == pytest.approx(5120)  # 2*sqrt(64 * 65536) + 65536/64 = 4096 + 1024
    assert conv.g1_ratio == pytest.approx(1.2)  # 6144 / 5120
    assert conv.balanced_mac_elements == pytest.approx(5120)  # stride-1 dense 1x1: the paper's bound
    assert conv.width_excess_bytes == 4096  # (6144 - 5120) * 4 bytes
    assert conv.dense_mac_elements is None


def test_group_conv_dense_equivalent_by_hand():
    analysis = analyze(nn.Conv2d(12, 24, 1, groups=3, bias=False), (1, 12, 4, 4))
    (conv,) = conv_metrics(analysis)[""]
    assert conv.groups == 3 and not conv.depthwise
    assert conv.mult_adds == 1536  # B = hw*c1*c2/g = 16 * 12 * 24 / 3
    assert conv.mac_elements == 672  # 16*12 + 16*24 + 12*24/3 = 192 + 384 + 96
    assert conv.dense_mac_elements == 416  # same input, c2/g = 8 outputs: 192 + 16*8 + 96
    assert conv.group_excess_bytes == 1024  # (672 - 416) * 4
    assert conv.g1_bound == pytest.approx(2 * math.sqrt(16 * 1536) + 1536 / 16)  # 409.5
    assert conv.balanced_mac_elements == pytest.approx(2 * 16 * math.sqrt(12 * 24) + 96)  # 639.1


def test_depthwise_conv_is_neither_grouped_nor_dense():
    analysis = analyze(nn.Conv2d(8, 8, 3, groups=8), (1, 8, 4, 4))
    (conv,) = conv_metrics(analysis)[""]
    assert conv.depthwise and conv.dense_mac_elements is None and conv.g1_bound is None


def test_elementwise_share_by_hand():
    model = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.ReLU())
    share = compute(analyze(model, (1, 4, 2, 2))).elementwise[""]
    assert share.total_mem_access_bytes == 320  # conv (16 in + 16 w + 16 out) * 4 + relu (16 + 16) * 4
    assert share.mem_access_bytes == 128  # relu only
    assert share.share == pytest.approx(0.4)  # 128 / 320
    assert share.mult_adds_share == 0  # 64 multiply-adds, all in the conv


def test_positions_stem_body_head():
    convs = conv_metrics(a := analyze(wrapped(Residual()), (1, 8, 8, 8)), find_blocks(a))
    assert {path: c[0].position for path, c in convs.items()} == {
        "0": "stem",
        "1.conv1": "body",
        "1.conv2": "body",
        "2": "head",
    }


def test_metrics_do_not_change_the_analysis():
    analysis = analyze(wrapped(Fire()), (1, 8, 8, 8))
    # A deep copy shares nothing with the analysis, so an in-place change to any field (the
    # categories and uncounted dicts included) shows up as a difference.
    before = copy.deepcopy(analysis)
    compute(analysis)
    dataflow(analysis)
    for f in dataclasses.fields(analysis):
        assert getattr(analysis, f.name) == getattr(before, f.name), f.name
