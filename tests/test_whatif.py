"""netprof whatif on small models priced by hand: the variants' parsing, low-rank factorization, parameter
bytes of quantized weights, the findings diff, the reports and the command line."""

import json

import pytest
import torch
from cli_runner import run as run_cli
from torch import nn

import netprof
from netprof.analysis import parameter_bytes
from netprof.compression import lowrank
from netprof.compression.quantize import quantize
from netprof.compression.variants import Variant, VariantError, variants
from netprof.compression.whatif import findings_diff, scaled_inputs, whatif
from netprof.prediction import Kind, KindModel
from netprof.prediction.profile import DeviceProfile
from netprof.report import formats
from netprof.rules.base import Finding, Severity

pytest.importorskip("torch_pruning", reason="pip install 'netprof[compression]'")

TINY = "tests/fixtures/models.py:tiny"


def small() -> nn.Sequential:
    # conv 3->8 (3x3, padding 1), bn, relu, conv 8->16 (1x1), pool, flatten, linear 16->10
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def flat_profile() -> DeviceProfile:
    """Every kind priced by a GEMM-like line and element-wise one (the rest are their stand-ins)."""
    return DeviceProfile(
        device="cpu",
        processor="a test CPU",
        threads=1,
        dtype="float32",
        versions={"netprof": netprof.__version__},
        kinds={
            Kind.GEMM: KindModel(overhead_s=1e-6, s_per_flop=1e-9, s_per_byte=1e-9),
            Kind.CONV_KXK: KindModel(overhead_s=1e-6, s_per_flop=1e-9, s_per_byte=1e-9),
            Kind.ELEMENTWISE: KindModel(overhead_s=1e-6, s_per_flop=0.0, s_per_byte=1e-9),
            Kind.VIEW: KindModel(overhead_s=1e-7, s_per_flop=0.0, s_per_byte=0.0),
        },
        per_module_call_s=1e-6,
        per_run_s=1e-5,
    )


def test_variants_take_repeated_flags_and_comma_lists_in_move_order():
    found = variants({"quantize": ["int8"], "width": ["0.5,0.75", "0.5"], "prune": ["0"]})
    assert [v.name for v in found] == ["width=0.5", "width=0.75", "prune=0", "quantize=int8"]


@pytest.mark.parametrize(
    "move, text, message",
    [
        ("width", "1.5", r"--width 1.5: the share of every layer's channels kept is in \(0, 1\]"),
        ("width", "0", r"is in \(0, 1\]"),
        ("prune", "1", r"--prune 1: the share of all channels removed is in \[0, 1\)"),
        ("rank", "half", "--rank half: expected a number"),
        ("quantize", "int2", "--quantize int2: one of int8, int4w"),
    ],
)
def test_a_value_out_of_range_is_one_line(move, text, message):
    with pytest.raises(VariantError, match=message):
        variants({move: [text]})


def test_rank_factorizes_only_where_it_saves_compute():
    # 3x3 conv 8->16 as [16, 72]: rank 8 costs 8 * (72 + 16) = 704 < 16 * 72 = 1152 per position.
    assert lowrank.saves_compute(16, 72, 8)
    # 1x1 conv 16->16: rank 8 costs 8 * 32 = 256, not less than 16 * 16 = 256.
    assert not lowrank.saves_compute(16, 16, 8)
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 1))
    factorized, paths = lowrank.factorize(model, 0.5)
    assert paths == ["0"] and isinstance(model[0], nn.Conv2d)  # the model given is untouched
    x = torch.randn(1, 8, 4, 4)
    # 16 positions. Before: 16*72*16 + 16*16*16 = 18432 + 4096 = 22528.
    assert netprof.analyze(model, x).totals.mult_adds == 22528
    # After: thin 8*72*16 = 9216, back 16*8*16 = 2048, the 1x1 conv 4096: 15360.
    assert netprof.analyze(factorized, x).totals.mult_adds == 15360


def test_a_full_rank_factorization_computes_the_same_function():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1)
    x = torch.randn(2, 4, 9, 9)
    assert torch.allclose(lowrank.factorize_conv(conv, 6)(x), conv(x), atol=1e-5)
    linear = nn.Linear(5, 3)
    y = torch.randn(7, 5)
    assert torch.allclose(lowrank.factorize_linear(linear, 3)(y), linear(y), atol=1e-5)


def test_parameter_bytes_of_float_and_int8_weights():
    model = nn.Sequential(nn.Linear(16, 8))
    assert parameter_bytes(model) == (16 * 8 + 8) * 4  # 136 float32 parameters: 544
    quantized = quantize(model, (torch.randn(2, 16),), "int8")
    # 128 int8 weights, 8 per-channel float64 scales and 8 int64 zero points, 8 float32 biases:
    # 128 + 64 + 64 + 32 = 288
    assert parameter_bytes(quantized) == 288
    assert isinstance(model[0], nn.Linear) and model[0].weight.dtype == torch.float32


def test_parameter_bytes_count_int4_weights_packed_two_per_byte():
    pytest.importorskip("torchao")
    model = nn.Sequential(nn.Linear(64, 8, bias=False))
    quantized = quantize(model, (torch.randn(1, 64),), "int4w")
    weight = quantized[0].weight
    assert weight.qdata.dtype == torch.int8  # torchao keeps one int4 value per byte
    # 512 int4 values packed: 256 bytes; one scale and one zero point per output channel as stored.
    expected = 512 // 2 + weight.scale.numel() * weight.scale.element_size()
    expected += weight.zero_point.numel() * weight.zero_point.element_size()
    assert weight.scale.numel() == weight.zero_point.numel() == 8
    assert parameter_bytes(quantized) == expected


def _finding(rule: str, module: str) -> Finding:
    return Finding(rule, Severity.WARNING, module, "Conv2d", None, "m", 1.0, 1.0, 0, 0.0, "fix")


def test_findings_are_diffed_by_rule_and_module_not_by_numbers():
    base = [_finding("G1", "a"), _finding("G3", "")]
    variant = [_finding("G1", "a"), _finding("G2", "b")]
    added, removed = findings_diff(base, variant)
    assert [f.fingerprint for f in added] == ["G2:b"]
    assert [f.fingerprint for f in removed] == ["G3:"]
    # A factorized conv "a" became "a.0" and "a.1": a G1 on "a.1" is the base's G1 on "a", renamed.
    added, removed = findings_diff([_finding("G1", "a")], [_finding("G1", "a.1")], replaced=["a"])
    assert added == [] and removed == []
    added, removed = findings_diff([_finding("G1", "a")], [_finding("G1", "a.1")])
    assert [f.fingerprint for f in added] == ["G1:a.1"] and [f.fingerprint for f in removed] == ["G1:a"]


def test_resolution_scales_every_spatial_dimension():
    (x,) = scaled_inputs((torch.randn(1, 3, 224, 160),), 0.5)
    assert x.shape == (1, 3, 112, 80)
    with pytest.raises(VariantError, match="image-like"):
        scaled_inputs((torch.randn(4, 16),), 0.5)


@pytest.fixture(scope="module")
def small_report():
    torch.manual_seed(0)
    model = small()
    x = torch.randn(1, 3, 8, 8)
    return model, whatif(model, x, ["width=0.5", "resolution=0.5", "quantize=int8"], profile=flat_profile())


def test_whatif_counts_each_variant_by_hand(small_report):
    model, report = small_report
    base, width, resolution, _ = report.base, *report.variants
    # Base, 64 positions: conv 8*27*64 = 13824, conv 16*8*64 = 8192, linear 16*10 = 160: 22176.
    assert base.totals["mult_adds"] == 22176
    # width 0.5: conv 4*27*64 = 6912, conv 8*4*64 = 2048, linear 8*10 = 80: 9040.
    assert width.totals["mult_adds"] == 9040
    assert report.ratio(width, "mult_adds") == pytest.approx(9040 / 22176)
    # resolution 0.5, 16 positions: 8*27*16 = 3456, 16*8*16 = 2048, linear 160: 5664.
    assert resolution.totals["mult_adds"] == 5664
    # width params: conv 4*27 = 108, bn 8, conv 8*4 + 8 = 40, linear 8*10 + 10 = 90: 246.
    assert width.totals["params"] == 246
    assert width.totals["param_bytes"] == 246 * 4
    assert model[0].out_channels == 8  # the model given is untouched


def test_every_float_variant_is_priced_and_int8_on_a_float_only_profile_says_why_not(small_report):
    _, report = small_report
    base, width, resolution, int8 = report.base, *report.variants
    assert all(p.predicted_s is not None and p.predicted_s > 0 for p in (base, width, resolution))
    assert width.predicted_s < base.predicted_s
    # flat_profile has no int8 kinds, as a profile calibrated before them: no float kind stands in.
    assert int8.predicted_s is None
    (note,) = [note for note in int8.notes if note.startswith("latency not predicted")]
    assert "cannot price int8 kernels: it has no int8_conv_1x1, int8_conv_kxk, int8_gemm" in note
    assert "netprof calibrate --force --threads 1" in note


def test_the_json_report_holds_totals_ratios_prediction_and_findings(small_report):
    _, report = small_report
    document = json.loads(formats.render("whatif", "json", report))
    assert document["schema"] == "netprof.whatif/1"
    assert document["base"]["totals"]["mult_adds"] == 22176
    width = document["variants"][0]
    assert width["name"] == "width=0.5" and width["move"] == "width" and width["value"] == 0.5
    assert set(width["totals"]) == {"mult_adds", "flops", "params", "param_bytes", "mem_access_bytes"}
    assert width["ratios"]["mult_adds"] == pytest.approx(9040 / 22176)
    assert width["prediction"]["latency_s"] > 0
    assert isinstance(width["findings_added"], list) and isinstance(width["findings_removed"], list)
    markdown = formats.render("whatif", "markdown", report)
    assert "| width=0.5 |" in markdown and "x0.41" in markdown  # 9040 / 22176 = 0.408


def test_the_command_prints_one_loud_line_without_a_profile(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, out, err = run_cli(
        capsys, "whatif", TINY, "--width", "0.5", "--format", "json", "--plot", str(tmp_path)
    )
    assert code == 0, err
    assert "no device profile: run `netprof calibrate --threads" in err
    assert "no chart: no model has a predicted or measured latency" in err
    document = json.loads(out)
    assert document["variants"][0]["prediction"]["latency_s"] is None
    assert document["notes"][0].startswith("no device profile")


def test_the_command_writes_the_chart_with_a_profile(capsys, tmp_path):
    from netprof.prediction import profile as profiles

    path = tmp_path / "profile.json"
    profiles.save(flat_profile(), path)
    code, out, err = run_cli(
        capsys,
        "whatif",
        TINY,
        "--width",
        "0.5",
        "--resolution",
        "0.5",
        "--profile",
        str(path),
        "--plot",
        str(tmp_path),
    )
    assert code == 0, err
    assert "width=0.5" in out and (tmp_path / "whatif_latency.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["whatif", TINY], "name at least one variant"),
        (
            ["whatif", TINY, "--width", "2"],
            "--width 2: the share of every layer's channels kept is in (0, 1]",
        ),
        (["whatif", "tests/fixtures/nowhere.py:tiny", "--width", "0.5"], "model file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_variant_names():
    assert Variant("width", 0.5).name == "width=0.5" and Variant("quantize", "int8").name == "quantize=int8"


def test_a_torchao_int8_linear_is_counted_at_its_int8_byte_sizes():
    # torchao's int8 dynamic quantization runs the product as aten._int_mm on int8 tensors, and
    # netprof sees that kernel (the subclass's own ops): x [4, 256] and w [256, 128] in int8 read
    # 1024 + 32768 bytes, the int32 product [4, 128] writes 2048: 35840 bytes; 4*256*128 = 131072 mult_adds.
    torchao = pytest.importorskip("torchao.quantization")
    model = nn.Sequential(nn.Linear(256, 128, bias=False))
    torchao.quantize_(model, torchao.Int8DynamicActivationInt8WeightConfig())
    analysis = netprof.analyze(model, torch.randn(4, 256))
    (product,) = [op for op in analysis.ops if op.op == "aten._int_mm.default"]
    assert product.mult_adds == 131072 and product.mem_access_bytes == 35840
    assert analysis.totals.mult_adds == 131072 and analysis.params == 256 * 128
    # As stored: 32768 int8 weights, 128 float32 per-row scales and 128 int8 zero points: 32768 + 512 + 128
    assert parameter_bytes(model) == 32768 + 128 * 4 + 128
