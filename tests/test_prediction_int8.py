"""Int8 latency: the kinds of a quantized network's ops, their features by hand, a hand-priced int8 model,
a calibrated profile that prices an int8 what-if variant, and a profile without int8 kinds refusing to."""

import dataclasses
import json
import math

import pytest
import torch
from cli_runner import run as run_cli
from torch import nn

import netprof
from netprof import pipeline
from netprof.analysis import OpNode
from netprof.calibration.microbench import int8_benchmarks, micro_benchmarks, quantized_fx
from netprof.calibration.profile import calibrate
from netprof.calibration.runtime import runtime_benches
from netprof.capture.ir import TensorMeta
from netprof.compression.quantize import quantize
from netprof.compression.whatif import whatif
from netprof.prediction import Kind, KindModel, MissingInt8Kinds, kind_of, predict
from netprof.prediction import profile as profiles
from netprof.prediction.kinds import (
    INT8_KINDS,
    features,
    int8_kernel_volume,
    int8_relayout_bytes,
    unaligned_depthwise,
)
from netprof.prediction.profile import DeviceProfile

TINY = "tests/fixtures/models.py:tiny"


class Block(nn.Module):
    """A stem, an inverted residual (1x1, depthwise 3x3, ReLU6, 1x1, residual add), pooling, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.expand = nn.Conv2d(8, 16, 1)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.act = nn.ReLU6(inplace=True)
        self.project = nn.Conv2d(16, 8, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.project(self.act(self.depthwise(self.expand(x))))
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture(scope="module")
def int8_block():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 8, 8)
    return quantize(Block().eval(), (x,), "int8"), x


def test_each_op_of_an_int8_network_gets_its_int8_kind(int8_block):
    model, x = int8_block
    analysis = pipeline.analyze(model, x)
    kinds = [(node.op, node.module, str(kind_of(node))) for node in analysis.ops]
    assert kinds == [
        ("aten.quantize_per_tensor.tensor_qparams", "", "quantize"),
        ("quantized.conv2d_relu.new", "stem.0", "int8_conv_kxk"),  # 3x3 stem, bn folded, ReLU fused
        ("quantized.conv2d.new", "expand", "int8_conv_1x1"),
        ("quantized.conv2d.new", "depthwise", "int8_depthwise_conv"),
        ("aten.hardtanh_.default", "act", "int8_elementwise"),  # ReLU6 on quint8: integer compares
        ("quantized.conv2d.new", "project", "int8_conv_1x1"),
        # the add's scale and zero point read back with .item(): a dispatch each, priced as a view
        ("aten._local_scalar_dense.default", "", "view"),
        ("aten._local_scalar_dense.default", "", "view"),
        ("quantized.add.default", "", "int8_requantize"),
        ("aten._adaptive_avg_pool2d.default", "pool", "int8_pooling"),
        # FX leaves flatten in float: back to float and to int8 again around it
        ("aten.dequantize.self", "", "quantize"),
        ("aten.view.default", "", "view"),
        ("aten.quantize_per_tensor.tensor_qparams", "", "quantize"),
        ("quantized.linear.default", "fc", "int8_gemm"),
        ("aten.dequantize.self", "", "quantize"),
    ]


def _conv_node(c_in, c_out, side, mult_adds, *, stride=None, dtype=torch.quint8, category="conv"):
    shape = (1, c_in, side, side)
    stride = stride or (c_in * side * side, 1, side * c_in, c_in)  # channels-last, as int8 layers pass it
    out = (1, c_out, side, side)
    return OpNode(
        id=0,
        op="quantized.conv2d.new",
        module="conv",
        inputs=(None,),
        input_metas=(TensorMeta(shape, dtype, stride),),
        output_metas=(TensorMeta(out, dtype, (c_out * side * side, 1, side * c_out, c_out)),),
        category=category,
        mult_adds=mult_adds,
        flops=2 * mult_adds,
        mem_access_bytes=0,
        counted=True,
    )


def test_an_int8_conv_kernel_volume_comes_from_its_counts():
    # 4 -> 16 channels, 3x3, 8x8 output: mult_adds = 16 * 64 outputs * 4 inputs * 9 taps = 36,864;
    # 36,864 / (1,024 outputs * 4 input channels) = 9.
    node = _conv_node(4, 16, 8, 36_864)
    assert int8_kernel_volume(node) == 9 and kind_of(node) is Kind.INT8_CONV_KXK
    # 1x1: 16 * 64 * 4 = 4,096 mult_adds, / (1,024 * 4) = 1.
    assert kind_of(_conv_node(4, 16, 8, 4_096)) is Kind.INT8_CONV_1X1


def test_unaligned_depthwise_is_more_than_100_channels_not_a_multiple_of_8():
    def depthwise(channels):
        return _conv_node(channels, channels, 14, channels * 196 * 9, category="depthwise_conv")

    assert [unaligned_depthwise(depthwise(c)) for c in (58, 99, 100, 101, 104, 116, 232, 236)] == [
        False, False, False, True, False, True, False, True,
    ]  # fmt: skip
    assert kind_of(depthwise(116)) is Kind.INT8_DEPTHWISE_UNALIGNED
    assert kind_of(depthwise(96)) is Kind.INT8_DEPTHWISE_CONV


def test_an_int8_conv_input_not_channels_last_is_laid_out_again_by_hand():
    # 58 channels, 28x28, quint8: 58 * 784 = 45,472 bytes.
    plain = _conv_node(58, 58, 28, 58 * 58 * 784, stride=(45_472, 784, 28, 1))
    assert int8_relayout_bytes(plain) == 45_472
    assert features(plain, kind_of(plain)) == (2 * 58 * 58 * 784, 0, 45_472)
    assert int8_relayout_bytes(_conv_node(58, 58, 28, 58 * 58 * 784)) == 0
    # half the channels of a 116-channel channels-last map (ShuffleNet's split): strides of 116 channels
    half = _conv_node(58, 58, 28, 58 * 58 * 784, stride=(90_944, 1, 3_248, 116))
    assert int8_relayout_bytes(half) == 45_472


def test_a_float_op_keeps_its_float_kind_and_a_view_is_launch_only():
    node = _conv_node(4, 16, 8, 4_096, dtype=torch.float32)
    weight = TensorMeta((16, 4, 1, 1), torch.float32, (4, 1, 1, 1))
    node = dataclasses.replace(node, input_metas=(*node.input_metas, weight))
    assert kind_of(node) is Kind.CONV_1X1
    scalar = OpNode(0, "aten._local_scalar_dense.default", "", (None,), (TensorMeta((), torch.float32, ()),),
                    (), "other", 0, 0, 4, True)  # fmt: skip
    assert kind_of(scalar) is Kind.VIEW and features(scalar, kind_of(scalar)) == (0, 0, 0)


def int8_profile(**kinds: KindModel) -> DeviceProfile:
    return DeviceProfile(
        device="cpu",
        processor="a hand-written test CPU",
        threads=1,
        dtype="float32",
        versions={"netprof": netprof.__version__},
        kinds={Kind.VIEW: KindModel(overhead_s=1e-6, s_per_flop=0.0, s_per_byte=0.0), **kinds},
        per_module_call_s=1e-6,
        per_run_s=1e-5,
    )


def test_an_int8_linear_priced_by_hand():
    torch.manual_seed(0)
    x = torch.randn(2, 16)
    model = quantize(nn.Sequential(nn.Linear(16, 10)), (x,), "int8")
    profile = int8_profile(
        quantize=KindModel(overhead_s=1e-6, s_per_flop=0.0, s_per_byte=1e-9),
        int8_gemm=KindModel(overhead_s=2e-6, s_per_flop=1e-9, s_per_byte=0.0),
    )
    analysis = pipeline.analyze(model, x)
    prediction = predict(analysis, profile)
    # quantize_per_tensor: reads 2x16 float (128 B), its scale (4 B) and zero point (8 B), writes 32 B: 172 B.
    # linear: 2 x 16 x 10 = 320 mult_adds = 640 flops, + bias and requantization 2 x 20 = 40: 680 flops.
    # dequantize: reads 20 B, writes 80 B: 100 B.
    seconds = [(1e-6 + 172e-9), (2e-6 + 680e-9), (1e-6 + 100e-9)]
    assert [op.kind for op in prediction.ops] == ["quantize", "int8_gemm", "quantize"]
    assert [op.predicted_s for op in prediction.ops] == pytest.approx(seconds)
    calls = sum(module.calls for module in analysis.modules)  # the GraphModule and its linear: 2
    assert calls == 2
    assert prediction.latency_s == pytest.approx(math.fsum(seconds) + 2e-6 + 1e-5)


def test_a_profile_without_int8_kinds_refuses_an_int8_model_naming_what_it_lacks(int8_block):
    model, x = int8_block
    float_only = int8_profile(gemm=KindModel(overhead_s=1e-6, s_per_flop=1e-9, s_per_byte=0.0),
                              elementwise=KindModel(overhead_s=1e-6, s_per_flop=0.0, s_per_byte=1e-9))  # fmt: skip
    with pytest.raises(MissingInt8Kinds) as error:
        predict(pipeline.analyze(model, x), float_only)
    message = str(error.value)
    assert (
        "cannot price int8 kernels: it has no int8_conv_1x1, int8_conv_kxk, int8_depthwise_conv," in message
    )
    assert "refit it with `netprof calibrate --force --threads 1`" in message
    # Pooling falls back on int8 element-wise, the int8 kind of nearest cost, never on a float kind.
    int8_pooling_missing = int8_profile(**{str(kind): KindModel(1e-6, 0.0, 0.0) for kind in INT8_KINDS
                                           if kind is not Kind.INT8_POOLING})  # fmt: skip
    prediction = predict(pipeline.analyze(model, x), int8_pooling_missing)
    assert "1 int8_pooling op(s) priced as int8_elementwise" in prediction.notes[0]


def test_int8_micro_benchmarks_run_the_kernels_whatif_runs():
    torch.manual_seed(0)
    shape = (1, 8, 6, 6)

    def layer():
        return nn.Sequential(nn.Conv2d(8, 16, 1), nn.ReLU())

    bench = quantized_fx(layer, shape)()
    whatif_model = quantize(layer(), (torch.randn(shape),), "int8")
    ops = [
        [node.op for node in pipeline.analyze(model, torch.randn(shape)).ops]
        for model in (bench, whatif_model)
    ]
    assert ops[0] == ops[1] == ["aten.quantize_per_tensor.tensor_qparams", "quantized.conv2d_relu.new",
                                "aten.dequantize.self"]  # fmt: skip
    benches = int8_benchmarks()
    assert all(b.name.startswith("int8 ") and b.capture == "real" for b in benches)
    assert [b.name for b in benches] == [b.name for b in micro_benchmarks()[-len(benches) :]]
    assert not any(b.name.startswith("int8") for b in runtime_benches())  # ONNX runtimes do not run them


@pytest.fixture(scope="module")
def calibrated():
    """A profile from a few float and int8 micro-benchmarks: every kind the int8 block runs, fitted."""
    names = {
        "int8 conv3x3 32->64 28^2 s1", "int8 conv3x3 3->32 224^2 s2", "int8 conv1x1 64->384 14^2",
        "int8 conv1x1 24->144 56^2", "int8 depthwise3x3 64 56^2 s1", "int8 depthwise3x3 384 14^2 s1",
        "int8 linear 1x512->1000", "int8 linear 1x1280->1000", "int8 relu6 x4 384x14^2",
        "int8 add x4 96x14^2", "int8 global avgpool 512x7^2", "int8 quantize+dequantize 160x14^2",
        "int8 quantize+dequantize 3x224^2",
    }  # fmt: skip
    benches = [b for b in micro_benchmarks() if b.name in names or (b.capture == "meta" and b.group == "op")]
    chosen = [b for b in benches if b.capture == "real"] + [b for b in benches if b.capture == "meta"][::6]
    assert len([b for b in chosen if b.capture == "real"]) == len(names)
    return calibrate("cpu", threads=1, budget_s=2.0, benches=chosen, rounds=1)


def test_a_calibrated_profile_prices_the_int8_whatif_variant(calibrated):
    assert {Kind.QUANTIZE, Kind.INT8_CONV_1X1, Kind.INT8_GEMM, Kind.INT8_ELEMENTWISE} <= set(calibrated.kinds)
    torch.manual_seed(0)
    report = whatif(Block().eval(), torch.randn(1, 3, 16, 16), ["quantize=int8"], profile=calibrated)
    (int8,) = report.variants
    assert int8.predicted_s is not None and int8.predicted_s > 0
    assert not any(note.startswith("latency not predicted") for note in int8.notes)
    kinds = set(int8.result.prediction.kinds)
    assert {"quantize", "int8_conv_kxk", "int8_conv_1x1", "int8_depthwise_conv", "int8_gemm"} <= kinds


def test_the_command_says_in_red_that_an_old_profile_cannot_price_int8(capsys, tmp_path):
    path = tmp_path / "old.json"
    document = profiles.to_dict(int8_profile(gemm=KindModel(1e-6, 1e-9, 0.0), conv_kxk=KindModel(1e-6, 1e-9, 0.0),
                                             elementwise=KindModel(1e-6, 0.0, 1e-9)))  # fmt: skip
    path.write_text(json.dumps(document))
    code, out, err = run_cli(
        capsys, "whatif", TINY, "--quantize", "int8", "--profile", str(path), "--format", "json"
    )
    assert code == 0, err
    assert "netprof: quantize=int8: latency not predicted: profile cpu|a hand-written test CPU" in err
    (variant,) = json.loads(out)["variants"]
    assert variant["prediction"]["latency_s"] is None
    assert any("netprof calibrate --force --threads 1" in note for note in variant["notes"])


def test_int4_weights_run_float_kernels_and_are_priced_by_the_float_kinds():
    pytest.importorskip("torchao.quantization")
    torch.manual_seed(0)
    profile = int8_profile(gemm=KindModel(1e-6, 1e-9, 0.0), elementwise=KindModel(1e-6, 0.0, 1e-9))
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    report = whatif(model, torch.randn(2, 64), ["quantize=int4w"], profile=profile)
    (int4,) = report.variants
    assert int4.predicted_s is not None and int4.predicted_s > report.base.predicted_s  # dequantizes weights
    assert not set(int4.result.prediction.kinds) & {str(kind) for kind in INT8_KINDS}
