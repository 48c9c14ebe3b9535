"""ONNX Runtime's blocked layout: which captured ops run blocked, where the reorders between blocked and
plain kernels fall (counted by hand here, and against the optimized graphs ONNX Runtime wrote), what
the calibration fits them at and what prediction adds for them."""

import math

import pytest
import torch
from fixtures.wrappers import Fn
from torch import nn

import netprof
from netprof.calibration.runtime_fit import BenchKernels, KernelTime, fit, fit_reorders, group_rows
from netprof.runtimes.fusion import FusionOp, fusion_op
from netprof.runtimes.layout import reorders

US = 1e-6
ORT_REORDERS = frozenset({"ReorderInput", "ReorderOutput"})


def _placed(model: nn.Module, x: torch.Tensor) -> list[tuple[str, int]]:
    analysis = netprof.analyze(model, x)
    names = {node.id: node.op.split(".")[1] for node in analysis.ops}
    return [(names[r.op], r.nbytes) for r in reorders([fusion_op(node) for node in analysis.ops])]


class _Excite(nn.Module):
    """conv -> ReLU -> squeeze-and-excitation (mean, conv, ReLU, conv, hard sigmoid, broadcast multiply) ->
    conv: MobileNetV3's block at 32 channels and 8x8."""

    def __init__(self) -> None:
        super().__init__()
        self.expand, self.fc1 = nn.Conv2d(16, 32, 1), nn.Conv2d(32, 16, 1)
        self.fc2, self.project = nn.Conv2d(16, 32, 1), nn.Conv2d(32, 32, 1)

    def forward(self, x):
        y = torch.relu(self.expand(x))
        gate = nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return self.project(y * gate)


def test_a_squeeze_and_excitation_block_leaves_and_reenters_the_blocked_layout_four_times():
    map_bytes, channel_bytes = 32 * 8 * 8 * 4, 32 * 4
    assert _placed(_Excite(), torch.randn(1, 16, 8, 8)) == [
        ("convolution", 16 * 8 * 8 * 4),  # the model's input into blocks (16 input channels)
        ("mean", map_bytes),  # the feature map out, for the mean and the multiply
        ("convolution", channel_bytes),  # the mean into blocks
        ("mul", channel_bytes),  # the gate out: the multiply broadcasts, so runs plain
        ("convolution", map_bytes),  # the product back into blocks
        ("convolution", map_bytes),  # the model's output, returned plain
    ]


def test_a_grouped_convolution_runs_blocked_only_with_whole_blocks_per_group():
    def net(groups):
        return nn.Sequential(
            nn.Conv2d(32, 48, 1), nn.Conv2d(48, 48, 3, padding=1, groups=groups), nn.Conv2d(48, 32, 1)
        )

    x, map_bytes = torch.randn(1, 32, 8, 8), 48 * 8 * 8 * 4
    edges = [("convolution", 32 * 8 * 8 * 4), ("convolution", 32 * 8 * 8 * 4)]  # input in, output out
    assert _placed(net(3), x) == [edges[0], edges[1]]  # 16-channel groups: all blocked
    assert _placed(net(2), x) == [  # 24-channel groups run plain: out of blocks and back
        edges[0],
        ("convolution", map_bytes),
        ("convolution", map_bytes),
        edges[1],
    ]


def test_a_stem_reads_its_few_channels_plain_and_concatenations_need_whole_blocks():
    stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
    assert _placed(stem, torch.randn(1, 3, 8, 8)) == [("relu", 16 * 64 * 4)]  # only the output, out

    def concat(c):
        a, b, c_out = nn.Conv2d(32, c, 1), nn.Conv2d(32, c, 1), nn.Conv2d(2 * c, 32, 1)
        return Fn(lambda x: c_out(torch.cat([a(x), b(x)], 1)))

    x = torch.randn(1, 32, 8, 8)
    assert len(_placed(concat(32), x)) == 2  # blocked throughout: the input in, the output out
    assert [name for name, _ in _placed(concat(24), x)] == [
        "convolution",
        "cat",
        "cat",
        "convolution",
        "convolution",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    # ONNX Runtime 1.32's optimized graphs of these (one thread, AVX-512), ReorderInput + ReorderOutput nodes
    [("mobilenet_v3_large", 33), ("efficientnet_b0", 71), ("regnet_x_1_6gf", 37), ("shufflenet_v2_x1_0", 32),
     ("googlenet", 1), ("resnet18", 1)],
)  # fmt: skip
def test_reorders_placed_in_torchvision_models_match_onnx_runtimes_graphs(name, expected):
    import torchvision

    model = torchvision.models.get_model(name, weights=None).eval()
    analysis = netprof.analyze(model, torch.empty(1, 3, 224, 224, device="meta"), mode="meta")
    assert len(reorders([fusion_op(node) for node in analysis.ops])) == expected


def _op(op_id, inputs, layout, nbytes=4096):
    return FusionOp(op_id, "conv_1x1", None, inputs, 1000, 3 * nbytes, 0, layout, nbytes, nbytes)


def _network(nbytes):
    """blocked conv -> plain op -> blocked conv, its reorders at 2 us each and 1 ns a byte"""
    ops = (
        _op(0, (None,), "blocked", nbytes),
        _op(1, (0,), "plain", nbytes // 4),
        _op(2, (1,), "blocked", nbytes // 4),
    )

    def cost(moved):
        return (2 + moved * 1e-3) * US

    kernels = [
        ("ReorderInput", cost(nbytes), ()),
        ("Conv", 40 * US, (0,)),
        ("ReorderOutput", cost(nbytes), ()),
        ("Mul", 5 * US, (1,)),
        ("ReorderInput", cost(nbytes // 4), ()),
        ("Conv", 30 * US, (2,)),
        ("ReorderOutput", cost(nbytes // 4), ()),
    ]
    return BenchKernels("b", "network", ops, 100 * US, tuple(KernelTime(*k) for k in kernels))


def test_the_fit_prices_reorders_apart_from_the_kernels_they_sit_between():
    small, large = _network(4096), _network(16384)
    # the input in, out for the plain op, its result in, the output out
    placed = reorders(small.ops)
    assert [(r.op, r.nbytes) for r in placed] == [(0, 4096), (1, 4096), (2, 1024), (2, 1024)]
    layout = fit_reorders([small, large], [placed, reorders(large.ops)], ORT_REORDERS)
    assert layout.per_reorder_s == pytest.approx(2 * US) and layout.s_per_byte == pytest.approx(1e-9)
    assert (layout.seen, layout.placed) == (8, 8)
    assert layout.seconds(placed) == pytest.approx(4 * 2 * US + 10240 * 1e-9)
    # the reorder inside is no longer the next kernel's: the conv after it keeps its own 30 us
    rows = group_rows(small, frozenset(), ORT_REORDERS)
    assert [r.seconds for r in rows] == [
        pytest.approx(40 * US),
        pytest.approx(5 * US),
        pytest.approx(30 * US),
    ]
    assert [r.seconds for r in group_rows(small, frozenset())][2] == pytest.approx(
        30 * US + layout.seconds(placed[2:3])
    )
    fitted = fit([small, large], frozenset(), ORT_REORDERS)
    assert fitted.reorders == layout


def test_prediction_adds_each_reorder_to_the_op_that_needs_it():
    from dataclasses import replace

    from netprof.prediction.profile import KindModel
    from netprof.runtimes.predict import predict
    from netprof.runtimes.profile import RuntimeProfile

    kinds = {
        kind: KindModel(1 * US, 0.0, 0.0)
        for kind in ("conv_1x1", "reduction", "elementwise", "transcendental")
    }
    base = RuntimeProfile(
        device="cpu", processor="test", threads=1, dtype="float32", versions={}, kinds=kinds,
        per_module_call_s=0.0, per_run_s=0.0, runtime="onnxruntime", runtime_version="test",
    )  # fmt: skip
    priced = replace(base, reorder_s=3 * US, reorder_s_per_byte=1e-9)
    analysis = netprof.analyze(_Excite(), torch.randn(1, 16, 8, 8))
    plain, with_layout = predict(analysis, base), predict(analysis, priced)
    placed = reorders([fusion_op(node) for node in analysis.ops])
    added = math.fsum(3 * US + 1e-9 * r.nbytes for r in placed)
    assert with_layout.latency_s - plain.latency_s == pytest.approx(added)
    by_op = {op.id: op.predicted_s for op in plain.ops}
    mean = next(op for op in with_layout.ops if op.op.startswith("aten.mean"))
    assert mean.predicted_s - by_op[mean.id] == pytest.approx(3 * US + 1e-9 * 32 * 64 * 4)
    assert any("6 reorder(s)" in note for note in with_layout.notes)
