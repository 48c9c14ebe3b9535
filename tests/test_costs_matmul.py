"""Matrix-product formulas, each value computed by hand.

An ``[n, m] @ [m, p]`` product is ``n * m * p`` multiply-adds and twice as many
flops; a bias adds one flop per output element.
"""

from __future__ import annotations

import pytest
import torch
from fixtures.wrappers import Fn
from torch import nn

import netprof

F32 = 4


def computing(analysis: netprof.Analysis):
    """Every op that is not a view."""
    return [op for op in analysis.ops if op.category != "view"]


@pytest.mark.parametrize("mode", ["meta", "real"])
def test_linear_2d(mode: str) -> None:
    analysis = netprof.analyze(nn.Linear(6, 3), torch.randn(5, 6), mode=mode)
    (node,) = computing(analysis)
    assert node.op == "aten.addmm.default"
    assert node.category == "gemm"
    # 5 * 6 * 3 = 90
    assert node.mult_adds == 90
    # 2 * 90 + 5 * 3 bias adds = 195
    assert node.flops == 195
    # bias 3, input 30, weight 18, output 15: (3 + 30 + 18 + 15) * 4 = 264
    assert node.mem_access_bytes == 264


@pytest.mark.parametrize("mode", ["meta", "real"])
def test_linear_3d_goes_through_view_and_addmm(mode: str) -> None:
    analysis = netprof.analyze(nn.Linear(6, 3), torch.randn(2, 5, 6), mode=mode)
    (node,) = computing(analysis)
    assert node.op == "aten.addmm.default"
    assert {op.op for op in analysis.ops if op.category == "view"} >= {"aten.view.default"}
    # [2 * 5, 6] @ [6, 3]: 10 * 6 * 3 = 180
    assert analysis.totals.mult_adds == 180
    # 2 * 180 + 10 * 3 = 390
    assert analysis.totals.flops == 390
    # views move nothing: (3 + 60 + 18 + 30) * 4 = 444 for the whole model
    assert analysis.totals.mem_access_bytes == 444


def test_linear_3d_without_bias_is_mm() -> None:
    analysis = netprof.analyze(nn.Linear(6, 3, bias=False), torch.randn(2, 5, 6), mode="meta")
    (node,) = computing(analysis)
    assert node.op == "aten.mm.default"
    # 10 * 6 * 3 = 180
    assert node.mult_adds == 180
    assert node.flops == 360


def test_bmm() -> None:
    analysis = netprof.analyze(Fn(torch.bmm), (torch.randn(4, 2, 3), torch.randn(4, 3, 5)), mode="meta")
    (node,) = computing(analysis)
    assert node.op == "aten.bmm.default"
    # 4 * 2 * 3 * 5 = 120
    assert node.mult_adds == 120
    assert node.flops == 240
    # (24 + 60 + 40) * 4 = 496
    assert node.mem_access_bytes == 496


@pytest.mark.parametrize("mode", ["meta", "real"])
def test_matmul_of_batched_tensors(mode: str) -> None:
    analysis = netprof.analyze(
        Fn(torch.matmul), (torch.randn(2, 3, 4, 5), torch.randn(2, 3, 5, 6)), mode=mode
    )
    # 2 * 3 batches of [4, 5] @ [5, 6]: 2 * 3 * 4 * 5 * 6 = 720
    assert analysis.totals.mult_adds == 720
    assert [op.op for op in computing(analysis)] == ["aten.bmm.default"]


def test_matmul_broadcasting_a_matrix() -> None:
    analysis = netprof.analyze(Fn(torch.matmul), (torch.randn(2, 4, 5), torch.randn(5, 6)), mode="meta")
    # folded into one [8, 5] @ [5, 6]: 8 * 5 * 6 = 240
    assert analysis.totals.mult_adds == 240


def test_einsum_batched_matmul() -> None:
    fn = Fn(lambda a, b: torch.einsum("bij,bjk->bik", a, b))
    analysis = netprof.analyze(fn, (torch.randn(3, 4, 5), torch.randn(3, 5, 2)), mode="meta")
    # 3 * 4 * 5 * 2 = 120
    assert analysis.totals.mult_adds == 120
    assert analysis.categories["gemm"].mult_adds == 120


def test_einsum_attention_scores() -> None:
    fn = Fn(lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k))
    analysis = netprof.analyze(fn, (torch.randn(2, 3, 4, 5), torch.randn(2, 3, 6, 5)), mode="real")
    # b * h * q * k * d = 2 * 3 * 4 * 6 * 5 = 720
    assert analysis.totals.mult_adds == 720


@pytest.mark.parametrize(("beta", "bias_adds"), [(1, 40), (0, 0)])
def test_baddbmm_bias_add_unless_beta_is_zero(beta: float, bias_adds: int) -> None:
    fn = Fn(lambda c, a, b: torch.baddbmm(c, a, b, beta=beta))
    analysis = netprof.analyze(
        fn, (torch.randn(4, 2, 5), torch.randn(4, 2, 3), torch.randn(4, 3, 5)), mode="meta"
    )
    (node,) = computing(analysis)
    assert node.op == "aten.baddbmm.default"
    # 4 * 2 * 3 * 5 = 120
    assert node.mult_adds == 120
    # 2 * 120 + 4 * 2 * 5 = 280 with beta = 1; 240 when beta = 0 drops the bias
    assert node.flops == 240 + bias_adds


def test_addmm_with_beta_zero_adds_no_bias() -> None:
    fn = Fn(lambda c, a, b: torch.addmm(c, a, b, beta=0))
    analysis = netprof.analyze(fn, (torch.randn(2, 3), torch.randn(2, 4), torch.randn(4, 3)), mode="meta")
    (node,) = computing(analysis)
    # 2 * 4 * 3 = 24 multiply-adds, 48 flops, no bias add
    assert (node.mult_adds, node.flops) == (24, 48)


def test_addmm_activation_counts_bias_and_activation() -> None:
    fn = Fn(lambda c, a, b: torch._addmm_activation(c, a, b, use_gelu=True))
    analysis = netprof.analyze(fn, (torch.randn(3), torch.randn(2, 4), torch.randn(4, 3)), mode="meta")
    (node,) = computing(analysis)
    assert node.op == "aten._addmm_activation.default"
    assert node.category == "gemm"
    # 2 * 4 * 3 = 24
    assert node.mult_adds == 24
    # 2 * 24 + 6 bias adds + 6 activations = 60
    assert node.flops == 60


def test_mv_and_dot() -> None:
    fn = Fn(lambda m, v: (torch.mv(m, v), torch.dot(v, v)))
    analysis = netprof.analyze(fn, (torch.randn(4, 5), torch.randn(5)), mode="meta")
    mv, dot = computing(analysis)
    # [4, 5] @ [5]: 4 * 5 = 20
    assert (mv.op, mv.mult_adds, mv.flops) == ("aten.mv.default", 20, 40)
    # [5] . [5] = 5
    assert (dot.op, dot.mult_adds, dot.flops) == ("aten.dot.default", 5, 10)
    # v read once although passed twice: (5 + 1) * 4 = 24
    assert dot.mem_access_bytes == 24


def test_addmv_addbmm_addr() -> None:
    fn = Fn(
        lambda: (
            torch.addmv(torch.randn(4), torch.randn(4, 5), torch.randn(5)),
            torch.addbmm(torch.randn(2, 5), torch.randn(3, 2, 4), torch.randn(3, 4, 5)),
            torch.addr(torch.randn(3, 4), torch.randn(3), torch.randn(4)),
        )
    )
    ops = {op.op: op for op in netprof.analyze(fn, (), mode="real").ops}
    addmv = ops["aten.addmv.default"]
    # 4 * 5 = 20; flops 2 * 20 + 4 = 44
    assert (addmv.mult_adds, addmv.flops) == (20, 44)
    addbmm = ops["aten.addbmm.default"]
    # 3 * 2 * 4 * 5 = 120 (the sum over the 3 batches is part of the multiply-adds); 2 * 120 + 10 = 250
    assert (addbmm.mult_adds, addbmm.flops) == (120, 250)
    addr = ops["aten.addr.default"]
    # outer product 3 * 4 = 12, each added to the bias: 12 multiply-adds, 24 flops
    assert (addr.mult_adds, addr.flops) == (12, 24)
    assert {addmv.category, addbmm.category, addr.category} == {"gemm"}


LSTMS = pytest.mark.parametrize(
    ("lstm", "mult_adds"),
    [
        # every token goes through w_ih [4H, I] and w_hh [4H, H] once per layer and direction
        # 2 * 5 tokens * (12 * 4 + 12 * 3) = 10 * 84 = 840
        (nn.LSTM(4, 3, batch_first=True), 840),
        # layer 0: 2 directions * 10 * (12 * 4 + 12 * 3) = 1680
        # layer 1 reads both directions (6 features): 2 * 10 * (12 * 6 + 12 * 3) = 2160; 1680 + 2160 = 3840
        (nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True), 3840),
    ],
    ids=["one_layer", "two_layers_bidirectional"],
)


@LSTMS
def test_lstm_on_meta_matches_the_hand_count(lstm: nn.LSTM, mult_adds: int) -> None:
    """The meta device runs the unfused cell (addmm + gates) on every build: always checked."""
    meta = netprof.analyze(lstm, torch.randn(2, 5, 4), mode="meta")
    assert meta.mode == "meta"
    assert meta.totals.mult_adds == mult_adds
    assert meta.uncounted == {}
    if lstm.num_layers == 1:
        # 2 * 840 + 10 tokens * (2 biases * 12 + 12 sums + 12 activations + 5 * 3 cell update) = 2310
        assert meta.totals.flops == 2310


@LSTMS
def test_lstm_on_cpu_matches_its_unfused_cell(lstm: nn.LSTM, mult_adds: int) -> None:
    """Only the fused CPU kernel (mkldnn_rnn_layer) depends on the build; the meta count does not."""
    x = torch.randn(2, 5, 4)
    real = netprof.analyze(lstm, x, mode="real")
    if not any(op.op == "aten.mkldnn_rnn_layer.default" for op in real.ops):
        pytest.skip("this CPU build runs nn.LSTM without mkldnn_rnn_layer")
    meta = netprof.analyze(lstm, x, mode="meta")  # the unfused cell: addmm + gates
    assert real.totals.mult_adds == meta.totals.mult_adds == mult_adds
    assert real.uncounted == meta.uncounted == {}
    if lstm.num_layers == 1:
        # 2 * 840 + 10 tokens * (2 biases * 12 + 12 sums + 12 activations + 5 * 3 cell update) = 2310
        assert real.totals.flops == meta.totals.flops == 2310


@pytest.mark.parametrize(("unitriangular", "divisions"), [(False, 2 * 3 * 5), (True, 0)])
def test_linalg_solve_triangular_is_substitution(unitriangular, divisions):
    # A [2, 5, 5] lower-triangular, B [2, 5, 3]: 2 batches x 3 right-hand sides of 5 rows;
    # row i takes i multiply-adds: 0 + 1 + 2 + 3 + 4 = 10 = 5 * 4 / 2 per system, 2 * 3 * 10 = 60
    a, b = torch.randn(2, 5, 5).tril() + 5 * torch.eye(5), torch.randn(2, 5, 3)
    analysis = netprof.analyze(
        Fn(lambda a, b: torch.linalg.solve_triangular(a, b, upper=False, unitriangular=unitriangular)), (a, b)
    )
    (node,) = [op for op in analysis.ops if op.op == "aten.linalg_solve_triangular.default"]
    assert node.mult_adds == 60
    # each multiply-add is two flops, and one division per row of each system unless the diagonal is 1
    assert node.flops == 2 * 60 + divisions
    # read 2*5*5 + 2*5*3 = 80 floats, write 2*5*3 = 30: 110 * 4 = 440 bytes
    assert node.mem_access_bytes == 440
