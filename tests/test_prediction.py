"""Latency prediction: the fit, a hand-priced model, the profile file and its errors, and that nothing runs."""

import json
import math
import operator
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
from cli_runner import run as run_cli
from fixtures.wrappers import Fn
from torch import nn

import netprof
from netprof import pipeline
from netprof.calibration.microbench import MicroBench, micro_benchmarks, synthetic_networks
from netprof.calibration.profile import calibrate, fit
from netprof.prediction import Kind, KindModel, predict
from netprof.prediction import profile as profiles
from netprof.prediction.fit import fit_relative, nnls
from netprof.prediction.profile import BenchPoint, DeviceProfile

SCHEMA = json.loads((Path(netprof.__file__).parent / "prediction" / "profile.schema.json").read_text())


def hand_profile(device: str = "cpu") -> DeviceProfile:
    return DeviceProfile(
        device=device,
        processor="a hand-written test CPU",
        threads=1,
        dtype="float32",
        versions={"netprof": netprof.__version__},
        kinds={
            Kind.GEMM: KindModel(overhead_s=1e-6, s_per_flop=1e-9, s_per_byte=1e-8),
            Kind.ELEMENTWISE: KindModel(overhead_s=2e-6, s_per_flop=0.0, s_per_byte=1e-9),
            Kind.VIEW: KindModel(overhead_s=5e-7, s_per_flop=0.0, s_per_byte=0.0),
            Kind.CONV_KXK: KindModel(overhead_s=3e-6, s_per_flop=2e-12, s_per_byte=1e-10),
        },
        per_module_call_s=1e-6,
        per_run_s=1e-5,
    )


def three_op_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Flatten(0))


def test_nnls_keeps_coefficients_non_negative_by_hand():
    # b = 1*col0 - 1*col1: the unconstrained answer (1, -1) is not allowed. With col1 at 0, the best
    # multiple of col0 = (1, 0, 1) for b = (1, -1, 1) is x0 = (1 + 1) / (1 + 1) = 1; col1 = (0, 1, 0)
    # only adds to the residual at row 1, whose sign is wrong, so it stays 0.
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert nnls(a, np.array([1.0, -1.0, 1.0])) == pytest.approx([1.0, 0.0])
    # Unconstrained and non-negative agree when the exact answer is non-negative.
    assert nnls(a, np.array([2.0, 3.0, 2.0])) == pytest.approx([2.0, 3.0])


def test_theil_sens_line_ignores_an_outlier_by_hand():
    from netprof.prediction.fit import theil_sen

    # y = 2 + 3x at x = 0, 1, 2, 3 and one wild point at x = 4; of the 10 pairwise slopes, the 6 among the
    # first four are 3 and the 4 with the outlier are (-50 - y_i) / (4 - x_i) < 0: the median is 3, and
    # y - 3x is 2, 2, 2, 2, -62: median 2
    assert theil_sen([0, 1, 2, 3, 4], [2, 5, 8, 11, -50]) == pytest.approx((2.0, 3.0))
    # every x equal: no slope, the median
    assert theil_sen([1, 1, 1], [4, 9, 5]) == (5.0, 0.0)


def test_a_coefficient_over_its_ceiling_is_held_there_and_the_rest_fitted_again_by_hand():
    design = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    seconds = np.array([2.0, 3.0, 5.0])  # exactly 2 * col0 + 3 * col1
    groups = ["op"] * 3
    assert fit_relative(design, seconds, groups) == pytest.approx([2.0, 3.0])
    assert fit_relative(design, seconds, groups, [0.0, 5.0]) == pytest.approx([2.0, 3.0])  # under it
    # col1 held at 2; in relative error row 0 asks 0.5 x = 1, row 2 asks 0.2 x = 1 - 2/5 (row 1 has no
    # col0): x = (0.5 + 0.12) / (0.25 + 0.04)
    assert fit_relative(design, seconds, groups, [0.0, 2.0]) == pytest.approx([0.62 / 0.29, 2.0])


def test_a_group_with_emphasis_weighs_more_by_hand():
    # one op row saying x = 1, one network row saying x = 2; in relative error, equal groups minimise
    # (x - 1)^2 + (x / 2 - 1)^2: x = 1.5 / 1.25; the network three times over, (x - 1)^2 + (1.5 x - 3)^2
    design, seconds, groups = np.array([[1.0], [1.0]]), np.array([1.0, 2.0]), ["op", "network"]
    assert fit_relative(design, seconds, groups) == pytest.approx([1.2])
    assert fit_relative(design, seconds, groups, emphasis={"network": 3.0}) == pytest.approx([5.5 / 3.25])


def test_a_three_op_model_priced_by_hand():
    prediction = predict(netprof.analyze(three_op_model(), torch.randn(1, 4), mode="meta"), hand_profile())
    # t (view): 0.5 us. mm 1x4 @ 4x8: 32 mult_adds = 64 flops; (4 + 32 + 8) floats = 176 bytes:
    #   1 us + 64 * 1 ns + 176 * 10 ns = 1 + 0.064 + 1.76 = 2.824 us, memory-bound.
    # relu on 8 floats: 2 us + 64 bytes * 1 ns = 2.064 us, overhead-bound. view: 0.5 us.
    assert [op.predicted_s for op in prediction.ops] == pytest.approx([0.5e-6, 2.824e-6, 2.064e-6, 0.5e-6])
    assert [op.bound for op in prediction.ops] == ["overhead", "memory", "overhead", "overhead"]
    # Framework: 4 module calls (Sequential, Linear, ReLU, Flatten) x 1 us + 10 us per run = 14 us.
    assert prediction.framework_s == pytest.approx(14e-6)
    assert prediction.ops_s == pytest.approx(5.888e-6)
    assert prediction.latency_s == pytest.approx(19.888e-6)
    assert prediction.categories == pytest.approx({"gemm": 2.824e-6, "elementwise": 2.064e-6, "view": 1e-6})
    assert prediction.modules == pytest.approx({"": 5.888e-6, "0": 3.324e-6, "1": 2.064e-6, "2": 0.5e-6})
    assert prediction.notes == ()


def test_a_kind_without_a_model_uses_its_stand_in_and_says_so():
    model = nn.Sequential(nn.Linear(4, 8), nn.Unflatten(1, (2, 2, 2)), nn.MaxPool2d(2))
    prediction = predict(netprof.analyze(model, torch.randn(1, 4), mode="meta"), hand_profile())
    (pooled,) = [op for op in prediction.ops if op.kind == "max_pooling"]
    # [1, 2, 1, 1] values and indices = max_pool2d_with_indices([1, 2, 2, 2], 2): 8 floats read, 2 floats
    # and 2 int64 indices written, 8 * 4 + 2 * 4 + 2 * 8 = 56 bytes. On the elementwise stand-in (no flop term):
    # 2e-6 + 56 * 1e-9 = 2.056e-6 s.
    assert pooled.predicted_s == pytest.approx(2e-6 + 56 * 1e-9, rel=1e-12)
    assert prediction.notes == (
        "1 max_pooling op(s) priced as elementwise: the profile has no max_pooling micro-benchmark",
    )


def test_fit_recovers_a_profile_from_its_own_noise_free_points():
    # (launch, per flop, per byte, per weight byte) of two kinds; the convolution's weight term is its own.
    truth = {"conv_kxk": (2e-6, 1e-11, 2e-11, 3e-10), "elementwise": (1e-6, 0.0, 5e-11, 0.0)}
    per_call, per_run = 1e-6, 3e-6
    # the cache-aware terms, shared by every kind: per byte past the LLC, of fresh pages, per op in a
    # network and per byte of a network's op that fits in L2
    shared = {
        "s_per_byte_past_llc": 4e-11,
        "s_per_transient_byte": 3e-10,
        "network_op_s": 5e-6,
        "s_per_loop_cached_byte": 6e-11,
    }
    rng = np.random.default_rng(0)
    points = []
    for index in range(40):
        kinds = {
            kind: (
                int(rng.integers(1, 20)),
                int(rng.integers(1e6, 1e9)),
                int(rng.integers(1e4, 1e8)),
                int(rng.integers(1e3, 1e7)) if kind == "conv_kxk" else 0,
            )
            for kind in truth
            if rng.random() < 0.8 or kind == "conv_kxk"
        }
        calls = int(rng.integers(1, 50))
        group = "network" if index % 3 else "op"
        network = group == "network"
        features = (
            int(rng.integers(0, 1e8)) if index % 2 else 0,
            int(rng.integers(1e5, 1e7)) if network else 0,
            sum(counts[0] for counts in kinds.values()) if network else 0,  # every op, as in a network
            int(rng.integers(1e4, 1e7)) if network else 0,
        )
        seconds = per_run + per_call * calls + sum(map(operator.mul, shared.values(), features))
        for kind, counts in kinds.items():
            seconds += sum(count * cost for count, cost in zip(counts, truth[kind]))
        points.append(BenchPoint(f"p{index}", kinds, calls, seconds, 0.0, group, *features))
    models, fitted_shared, call, run, mape = fit(points)
    assert fitted_shared == pytest.approx(shared, rel=1e-5)
    for kind, costs in truth.items():
        fitted = models[Kind(kind)]
        found = (fitted.overhead_s, fitted.s_per_flop, fitted.s_per_byte, fitted.s_per_weight_byte)
        assert found == pytest.approx(costs, rel=1e-5, abs=1e-15)
    assert (call, run) == pytest.approx((per_call, per_run), rel=1e-5)
    assert mape < 1e-6
    # What page faults cost here holds the fresh-pages price: above it, at it; below it, untouched.
    held = fit(points, page_fault_s_per_byte=1e-10)
    assert held[1]["s_per_transient_byte"] == 1e-10
    assert held[4] > 1e-3  # the points paid 3e-10 a byte: the rest cannot fit them all now
    assert fit(points, page_fault_s_per_byte=1e-9)[1] == pytest.approx(shared, rel=1e-5)


def test_the_profile_schema_names_every_kind():
    assert SCHEMA["definitions"]["kind"]["enum"] == [str(kind) for kind in Kind]


def test_a_profile_round_trips_through_its_file_and_matches_its_schema(tmp_path):
    profile = calibrate("cpu", threads=1, budget_s=1.0, benches=micro_benchmarks()[::40])
    path = tmp_path / "profile.json"
    profiles.save(profile, path)
    document = json.loads(path.read_text())
    jsonschema.validate(document, SCHEMA)
    again = profiles.load(path)
    assert profiles.to_dict(again) == document
    assert again.kinds == profile.kinds and again.points == profile.points
    assert len(again.points) == len(micro_benchmarks()[::40])


def test_every_micro_benchmark_is_synthetic_and_captures_on_meta():
    benches = micro_benchmarks()
    assert len({bench.name for bench in benches}) == len(benches)
    assert not any("resnet" in b.name or "mobilenet" in b.name or "vit" in b.name for b in benches)
    for bench in synthetic_networks(count=8):
        analysis = pipeline.analyze(bench.build(), torch.empty(bench.input_shape, device="meta"), mode="meta")
        assert analysis.totals.uncounted_ops == 0 and analysis.totals.mult_adds > 0


class OnlyMeta(nn.Module):
    """Fails loudly on any real tensor: a prediction must never run the model."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 8, bias=False)

    def forward(self, x):
        if not x.is_meta:
            raise AssertionError("the model ran on real data")
        return torch.relu(self.linear(x))


def test_predicting_never_runs_the_model():
    model = OnlyMeta()
    before = model.linear.weight.clone()
    result = netprof.pipeline.predict(model, torch.randn(1, 4), hand_profile())
    assert result.analysis.mode == "meta" and result.prediction is not None
    assert result.prediction.latency_s > 0
    assert torch.equal(model.linear.weight, before) and not model.linear.weight.is_meta


def test_a_model_built_on_meta_is_predicted_at_any_size():
    with torch.device("meta"):
        huge = nn.Sequential(*(nn.Linear(20_000, 20_000, bias=False) for _ in range(20)))  # 32 GB in float32
    result = netprof.pipeline.predict(huge, torch.empty(1, 20_000, device="meta"), hand_profile())
    # 20 mm of 1 x 20000 x 20000: 400 M mult_adds = 800 M flops each, at 1 ns per flop: 0.8 s each at least.
    assert result.prediction.latency_s > 20 * 0.8


@pytest.fixture
def saved(tmp_path):
    def write(document) -> Path:
        path = tmp_path / "profile.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        return path

    return write


def test_predict_cli_errors_are_one_line_exit_2(capsys, saved, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    code, _, err = run_cli(capsys, "predict", "--threads", "1")
    assert code == 2 and "no device profile for cpu with 1 thread(s)" in err and "netprof calibrate" in err
    document = profiles.to_dict(hand_profile())
    cases = [
        ({**document, "schema": "netprof.profile/0"}, "schema 'netprof.profile/0', this netprof reads"),
        ("{not json", "invalid JSON"),
        (
            {**document, "kinds": {"gemm": {"overhead_s": -1, "s_per_flop": 0, "s_per_byte": 0}}},
            "non-negative",
        ),
        (profiles.to_dict(hand_profile("cuda")), "is a profile of cuda"),
    ]
    for bad, message in cases:
        code, out, err = run_cli(capsys, "predict", "--profile", str(saved(bad)))
        assert code == 2, err
        assert message in err and len(err.strip().splitlines()) == 1 and out == ""
    code, _, err = run_cli(capsys, "predict", "--profile", str(tmp_path / "missing.json"))
    assert code == 2 and "profile file not found" in err


def test_predict_cli_json_carries_the_prediction(capsys, saved):
    code, out, _ = run_cli(
        capsys,
        "predict",
        "netprof.zoo:squeezenet1_1",
        "--profile",
        str(saved(profiles.to_dict(hand_profile()))),
        "--format",
        "json",
    )
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(
        document, json.loads((Path(netprof.__file__).parent / "report" / "analysis.schema.json").read_text())
    )
    prediction = document["prediction"]
    assert prediction["profile"]["processor"] == "a hand-written test CPU"
    assert len(prediction["ops"]) == len(document["ops"])
    assert math.isclose(prediction["latency_s"], prediction["ops_s"] + prediction["framework_s"])
    assert math.isclose(sum(op["predicted_s"] for op in prediction["ops"]), prediction["ops_s"])
    assert math.isclose(sum(prediction["categories"].values()), prediction["ops_s"])
    assert document["mode"] == "meta"


def test_micro_benchmark_point_counts_come_from_the_meta_capture():
    bench = MicroBench("conv1x1 16->32 8^2", lambda: nn.Conv2d(16, 32, 1, bias=False), (1, 16, 8, 8))
    from netprof.calibration.profile import measure

    point = measure(bench, torch.device("cpu"), torch.float32, budget_s=0.01)
    # 16 x 32 x 64 = 32,768 mult_adds = 65,536 flops; bytes (16*64 + 16*32 + 32*64) * 4 = 14,336;
    # the weight alone 16 * 32 * 4 = 2,048 bytes.
    assert point.kinds == {"conv_1x1": (1, 65_536, 14_336, 2_048)}
    assert point.module_calls == 1 and point.seconds > 0


def test_a_timed_analysis_shows_predicted_next_to_measured(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = "netprof.zoo:squeezenet1_1"
    code, _, err = run_cli(capsys, "analyze", spec, "--time", "--repeat", "2", "--threads", "1")
    assert code == 0 and "run `netprof calibrate` to see predicted next to measured" in err
    profiles.save(hand_profile(), profiles.cache_path("cpu", 1))
    code, out, _ = run_cli(
        capsys, "analyze", spec, "--time", "--repeat", "2", "--threads", "1", "--format", "json"
    )
    assert code == 0
    document = json.loads(out)
    assert document["prediction"]["profile"]["processor"] == "a hand-written test CPU"
    assert {op["id"] for op in document["prediction"]["ops"]} == {op["id"] for op in document["ops"]}
    code, out, _ = run_cli(
        capsys, "analyze", spec, "--time", "--repeat", "2", "--threads", "1", "--format", "markdown"
    )
    assert code == 0 and "vs measured" in out and "| end to end |" in out


def test_g4_findings_carry_the_predicted_time_of_their_ops(capsys, saved):
    from netprof.rules import run as run_rules
    from netprof.rules.g4_elementwise import elementwise_op_ids
    from netprof.zoo import shufflenet_v1_g3

    result = netprof.pipeline.predict(shufflenet_v1_g3(), torch.randn(1, 3, 224, 224), hand_profile())
    findings = run_rules(result.analysis, op_predicted_s=result.op_predicted_s)
    (g4,) = [f for f in findings if f.rule == "G4"]
    # The definition: the predicted seconds of the element-wise ops G4 counts, summed.
    from netprof.metrics import compute
    from netprof.rules.base import RuleContext

    context = RuleContext(result.analysis, compute(result.analysis))
    wanted = set(elementwise_op_ids(context, ""))
    expected = math.fsum(op.predicted_s for op in result.prediction.ops if op.id in wanted)
    assert g4.evidence["predicted_s"] == pytest.approx(expected) and expected > 0
    assert "predicted:" in g4.message and "time_share" not in g4.evidence
    code, out, _ = run_cli(
        capsys, "check", "netprof.zoo:shufflenet_v1_g3", "--select", "G4", "--format", "json", "--exit-zero",
        "--predict", str(saved(profiles.to_dict(hand_profile()))),
    )  # fmt: skip
    assert code == 0
    (finding,) = json.loads(out)["findings"]
    assert finding["evidence"]["predicted_s"] == pytest.approx(expected)


def test_compare_and_plot_predict_with_a_profile(capsys, saved, tmp_path):
    profile = str(saved(profiles.to_dict(hand_profile())))
    specs = ["netprof.zoo:squeezenet1_1", "netprof.zoo:shufflenet_v2_x0_5"]
    code, _, _ = run_cli(
        capsys, "compare", *specs, "--repeat", "2", "--threads", "1", "--format", "json", "--predict", profile,
        "-o", str(tmp_path / "charts"),
    )  # fmt: skip
    assert code == 0
    document = json.loads((tmp_path / "charts" / "compare.json").read_text())
    expected = {
        name.split(":")[1]: netprof.pipeline.predict(*_built(name), hand_profile()).prediction.latency_s
        for name in specs
    }
    # compare predicts on the timed (real) capture, here on meta: the two differ by a few allocations
    # (the meta batch norm allocates its outputs), each 0.5 us on the hand profile, a 0.02% difference.
    assert {m["name"]: m["predicted_s"] for m in document["models"]} == pytest.approx(expected, rel=1e-3)
    # The premise: SqueezeNet 1.1 (about 350 M mult_adds) against ShuffleNet V2 0.5x (about 41 M) is slower
    # predicted and measured, by ratios no noise reverses. Both rank them [2, 1]: rho = 1 - 0 = 1.
    measured = {m["name"]: m["latency"]["median_s"] for m in document["models"]}
    assert expected["squeezenet1_1"] > 2 * expected["shufflenet_v2_x0_5"], expected
    assert measured["squeezenet1_1"] > measured["shufflenet_v2_x0_5"], measured
    assert document["spearman_latency_vs_predicted"] == 1.0
    assert (tmp_path / "charts" / "predicted_vs_measured.png").is_file()
    code, _, _ = run_cli(
        capsys, "plot", specs[0], "--repeat", "2", "--predict", profile, "-o", str(tmp_path / "one")
    )
    assert code == 0 and (tmp_path / "one" / "predicted.svg").is_file()


def _built(spec: str):
    from netprof.capture.loader import load

    loaded = load(spec)
    return loaded.model, loaded.inputs


def test_nms_micro_benchmarks_are_counted_on_a_real_run_as_the_nms_kind():
    from netprof.calibration.profile import measure

    benches = [bench for bench in micro_benchmarks() if bench.name.startswith("nms")]
    # 10 to 3,000 boxes, in one class and in 90 (torchvision is a test dependency: they must be there)
    assert len(benches) == 12 and {bench.capture for bench in benches} == {"real"}
    point = measure(benches[2], torch.device("cpu"), torch.float32, budget_s=0.01)
    # 100 boxes: 4,950 pairs x 12 flops + 100 x 3 (netprof.costs.vision); nothing else runs
    assert point.kinds.keys() == {"nms"} and point.kinds["nms"][:2] == (1, 59_700)


def test_a_profile_without_nms_benchmarks_prices_it_as_a_stand_in_and_says_so():
    from torchvision.ops import nms

    class Suppress(nn.Module):
        def forward(self, boxes, scores):
            return nms(boxes, scores, 0.5)

    corners = torch.rand(50, 2) * 100
    analysis = netprof.analyze(Suppress(), (torch.cat([corners, corners + 20], 1), torch.rand(50)))
    prediction = predict(analysis, hand_profile())
    assert [op.kind for op in prediction.ops if op.op == "torchvision.nms.default"] == ["nms"]
    # nms -> other -> view, the hand profile's nearest kind (a reduction would price its pairs as values)
    assert "1 nms op(s) priced as view: the profile has no nms micro-benchmark" in prediction.notes


def test_indexing_by_a_boolean_mask_is_its_own_kind():
    from netprof.prediction.kinds import kind_of

    class Filter(nn.Module):
        def forward(self, boxes, scores):
            return boxes[scores > 0.5], boxes[torch.tensor([0, 2])]

    analysis = netprof.analyze(Filter(), (torch.rand(8, 4), torch.rand(8)))
    kinds = [str(kind_of(node)) for node in analysis.ops if node.op == "aten.index.Tensor"]
    assert kinds == ["masked_index", "data_movement"]  # a mask, then integer indices


def test_a_copy_that_reads_its_input_out_of_order_is_a_permuted_copy():
    from netprof.prediction.kinds import kind_of

    def shuffle(x):  # ShuffleNet's idiom, then NCHW -> NHWC, then a copy already in order
        n, c, h, w = x.shape
        shuffled = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return shuffled.permute(0, 2, 3, 1).contiguous(), x.clone(), torch.channel_shuffle(x, 2)

    analysis = netprof.analyze(Fn(shuffle), torch.randn(1, 4, 3, 3))
    kinds = [str(kind_of(node)) for node in analysis.ops if node.category == "data_movement"]
    assert kinds == ["permuted_copy", "permuted_copy", "data_movement", "permuted_copy"]


def test_a_depthwise_convolution_of_channels_not_a_multiple_of_4_is_unaligned():
    from netprof.prediction.kinds import kind_of

    def depthwise(c):
        return nn.Conv2d(c, c, 3, padding=1, groups=c)

    model = nn.Sequential(
        depthwise(60), nn.Conv2d(60, 58, 1), depthwise(58), nn.Conv2d(58, 64, 1), depthwise(64)
    )
    kinds = [str(kind_of(node)) for node in netprof.analyze(model, torch.randn(1, 60, 8, 8)).ops]
    assert kinds == ["depthwise_conv", "conv_1x1", "depthwise_unaligned", "conv_1x1", "depthwise_conv"]


def test_a_dense_convolution_on_an_images_few_channels_is_a_stem():
    from netprof.prediction.kinds import kind_of

    # 3x3 on RGB, 1x1 on RGB, 7x7 on RGBA, 3x3 on 5 channels, and a depthwise one on 4
    model = nn.Sequential(
        nn.Conv2d(3, 3, 3, padding=1),
        nn.Conv2d(3, 4, 1),
        nn.Conv2d(4, 5, 7, padding=3),
        nn.Conv2d(5, 4, 3, padding=1),
        nn.Conv2d(4, 4, 3, padding=1, groups=4),
    )
    kinds = [str(kind_of(node)) for node in netprof.analyze(model, torch.randn(1, 3, 8, 8)).ops]
    assert kinds == ["conv_stem", "conv_1x1", "conv_stem", "conv_kxk", "depthwise_conv"]


def test_a_profile_without_stem_benchmarks_prices_a_stem_as_a_larger_kernel_and_says_so():
    model = nn.Conv2d(3, 8, 3, bias=False)
    prediction = predict(netprof.analyze(model, torch.randn(1, 3, 6, 6), mode="meta"), hand_profile())
    (stem,) = prediction.ops
    # 8 x 4 x 4 outputs x 27 mult-adds = 3456 mult_adds, 6912 flops; 108 + 216 floats read (input, weight)
    # and 128 written, 1808 bytes; on conv_kxk's model: 3e-6 + 6912 * 2e-12 + 1808 * 1e-10
    assert stem.kind == "conv_stem"
    assert stem.predicted_s == pytest.approx(3e-6 + 6912 * 2e-12 + 1808 * 1e-10, rel=1e-12)
    assert prediction.notes == (
        "1 conv_stem op(s) priced as conv_kxk: the profile has no conv_stem micro-benchmark",
    )


def test_a_grouped_convolution_of_groups_not_a_multiple_of_16_channels_is_unaligned():
    from netprof.prediction.kinds import kind_of

    # groups of 16 in and out (RegNetX-400MF), 24 (RegNetX-1.6GF), 16 in and 8 out, and depthwise
    model = nn.Sequential(
        nn.Conv2d(48, 48, 3, padding=1, groups=3),
        nn.Conv2d(48, 48, 3, padding=1, groups=2),
        nn.Conv2d(48, 24, 3, padding=1, groups=3),
        nn.Conv2d(24, 24, 3, padding=1, groups=24),
    )
    kinds = [str(kind_of(node)) for node in netprof.analyze(model, torch.randn(1, 48, 8, 8)).ops]
    assert kinds == ["group_conv", "group_conv_unaligned", "group_conv_unaligned", "depthwise_conv"]


def test_filtering_and_allocation_micro_benchmarks_capture_their_kinds():
    from netprof.calibration.profile import measure

    benches = {bench.name: bench for bench in micro_benchmarks()}
    masked = measure(benches["masked rows 100x4"], torch.device("cpu"), torch.float32, budget_s=0.01)
    # scores > 0 (one flop per score), then the rows the mask keeps
    assert masked.kinds.keys() == {"elementwise", "masked_index"}
    assert masked.kinds["elementwise"][:2] == (1, 100)
    # the mask index is priced by its mask's 100 elements and the rows it writes (4 floats each)
    ops, mask, written, _ = masked.kinds["masked_index"]
    assert (ops, mask) == (1, 100) and written % 16 == 0 and 0 < written <= 100 * 16
    filled = measure(benches["full_like 100"], torch.device("cpu"), torch.float32, budget_s=0.01)
    assert filled.kinds.keys() == {"other"}


def test_top_k_and_sorts_are_their_own_kind():
    from netprof.prediction.kinds import kind_of

    model = Fn(lambda x: (x.topk(3).values, x.sort().values, x.amax(-1)))
    kinds = [str(kind_of(node)) for node in netprof.analyze(model, torch.randn(2, 50)).ops]
    assert kinds == ["topk", "topk", "reduction"]  # selections read every value; a max reduces them


def test_roi_align_is_its_own_kind_and_benchmarked():
    from netprof.calibration.profile import measure

    benches = {bench.name: bench for bench in micro_benchmarks()}
    point = measure(
        benches["roi_align 10 regions 256x10^2"], torch.device("cpu"), torch.float32, budget_s=0.01
    )
    # 10 regions x 256 channels x 7 x 7 bins x (4 samples x 8 + 1) flops (netprof.costs.vision)
    assert point.kinds.keys() == {"roi_align"} and point.kinds["roi_align"][:2] == (1, 10 * 256 * 49 * 33)
