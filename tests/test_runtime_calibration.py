"""Runtime profiles: the fusion rule, kernels from captured ops, fused pricing, the profile document,
the CLI's refusals and, slow, a pack run without torch and imported back."""

import base64
import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from cli_runner import run
from torch import nn

from netprof import pipeline
from netprof.calibration import runtime as calibration
from netprof.calibration.caches import cache_sizes, measured_pass_cache
from netprof.calibration.microbench import Lambda, MicroBench
from netprof.prediction.kinds import Kind
from netprof.prediction.profile import KindModel, ProfileError
from netprof.runtimes import profile as runtime_profiles
from netprof.runtimes.fusion import FusionOp, FusionPair, fuses, group_kernels, kernel_counts
from netprof.runtimes.predict import FOLDED, FUSED, predict
from netprof.runtimes.profile import RuntimeProfile
from netprof.runtimes.reuse import PassCache, evicted_share

# --- nn-Meter's rule: T1 + T2 - T12 > 0.5 * min(T1, T2) --------------------------------------------


def test_fusion_rule_hand_computed():
    # 100 + 20 - 105 = 15 > 0.5 * 20 = 10: fused
    assert fuses(100e-6, 20e-6, 105e-6)
    # 100 + 20 - 111 = 9, not > 10: two kernels
    assert not fuses(100e-6, 20e-6, 111e-6)
    # 100 + 20 - 110 = 10, not > 10: the rule is strict
    assert not fuses(100.0, 20.0, 110.0)
    # min is the cheaper op either way round: 20 + 100 - 105 = 15 > 10
    assert fuses(20e-6, 100e-6, 105e-6)
    assert FusionPair("conv", "relu", 100e-6, 20e-6, 105e-6).fused
    assert not FusionPair("conv", "silu", 100e-6, 20e-6, 119e-6).fused


# --- grouping captured ops into kernels -------------------------------------------------------------


def _op(op_id, kind, role=None, inputs=(), flops=0, nbytes=0, weights=0):
    return FusionOp(op_id, kind, role, tuple(inputs), flops, nbytes, weights)


# conv(0) -> bn(1) -> relu(2) -> conv(3) -> bn(4) -> add(5, with relu 2) -> relu(6) -> view(7) -> linear(8) -> gelu(9)
BLOCK = [
    _op(0, "conv_kxk", None, (None, None), 1000, 100, 40),
    _op(1, "normalization", "batch_norm", (0,), 10, 50),
    _op(2, "elementwise", "relu", (1,), 5, 40),
    _op(3, "conv_1x1", None, (2, None), 400, 80, 16),
    _op(4, "normalization", "batch_norm", (3,), 10, 50),
    _op(5, "elementwise", "add", (4, 2), 5, 60),
    _op(6, "elementwise", "relu", (5,), 5, 40),
    _op(7, "view", "view", (6,)),
    _op(8, "gemm", None, (None, 7, None), 300, 30, 12),
    _op(9, "transcendental", "gelu", (8,), 7, 20),
]
EVERYTHING = {("conv", f) for f in ("batch_norm", "relu", "add")} | {("linear", "gelu")}


def test_everything_fused_gives_three_kernels():
    kernels = group_kernels(BLOCK, EVERYTHING)
    # relu 2 is read by conv 3 and by add 5, but it is its kernel's last op, so it still fuses;
    # the view after relu 6 passes through conv 3's kernel, so linear 8 starts its own.
    assert [k.ops for k in kernels] == [(0, 1, 2), (3, 4, 5, 6, 7), (8, 9)]
    assert [k.kind for k in kernels] == ["conv_kxk", "conv_1x1", "gemm"]


def test_nothing_fused_gives_a_kernel_per_op():
    kernels = group_kernels(BLOCK, set())
    assert [k.ops for k in kernels] == [(0,), (1,), (2,), (3,), (4,), (5,), (6,), (7,), (8,), (9,)]


def test_a_follower_joins_only_a_pair_the_runtime_fuses_and_in_kernel_order():
    # conv + relu fuse, batch-norm does not: bn 1 is its own kernel; relu 2 reads bn, not conv.
    assert [k.ops for k in group_kernels(BLOCK[:3], {("conv", "relu")})] == [(0,), (1,), (2,)]
    # an add after an activation would come out of order (add before the activation in a fused kernel)
    ops = [_op(0, "conv_1x1"), _op(1, "elementwise", "relu", (0,)), _op(2, "elementwise", "add", (1, None))]
    assert [k.ops for k in group_kernels(ops, {("conv", "relu"), ("conv", "add")})] == [(0, 1), (2,)]


def test_a_result_read_twice_ends_its_kernel():
    # conv 0 is read by relu 1 and by add 2: the runtime must write it out, so relu cannot fuse
    ops = [_op(0, "conv_1x1"), _op(1, "elementwise", "relu", (0,)), _op(2, "elementwise", "add", (1, 0))]
    assert [k.ops for k in group_kernels(ops, {("conv", "relu"), ("conv", "add")})] == [(0,), (1,), (2,)]


def test_kernel_counts_are_the_anchors_counts():
    counts = kernel_counts(BLOCK, EVERYTHING)
    # one kernel per kind, each with its anchor's (flops, bytes, weight bytes) only
    assert counts == {"conv_kxk": (1, 1000, 100, 40), "conv_1x1": (1, 400, 80, 16), "gemm": (1, 300, 30, 12)}
    unfused = kernel_counts(BLOCK, set())
    # 2 bn kernels: 10 + 10 flops, 50 + 50 bytes; 3 plain element-wise: relu, add, relu = 5 * 3 flops
    assert unfused["normalization"] == (2, 20, 100, 0)
    assert unfused["elementwise"] == (3, 15, 140, 0)
    assert unfused["view"] == (1, 0, 0, 0)


# --- pricing -----------------------------------------------------------------------------------


def _profile(runtime="onnxruntime", fusion=()):
    models = {
        Kind.CONV_KXK: KindModel(10e-6, 1e-9, 0.0),
        Kind.NORMALIZATION: KindModel(2e-6, 0.0, 1e-9),
        Kind.ELEMENTWISE: KindModel(1e-6, 0.0, 1e-9),
        Kind.OTHER: KindModel(0.0, 0.0, 0.0),
        Kind.VIEW: KindModel(0.0, 0.0, 0.0),
    }
    return RuntimeProfile(
        device="cpu", processor="test cpu", threads=1, dtype="float32", versions={}, kinds=models,
        per_module_call_s=0.0, per_run_s=5e-6, runtime=runtime, runtime_version="9.9", fusion=fusion,
    )  # fmt: skip


def _conv_bn_relu():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU()).eval()
    return pipeline.analyze(model, torch.empty(1, 2, 8, 8, device="meta"), mode="meta")


def test_a_fused_kernel_is_priced_once_at_its_anchor():
    analysis = _conv_bn_relu()
    conv = analysis.ops[0]
    # conv 2->4, 3x3, 8x8 output: 4 * 64 * 2 * 9 = 4608 mult_adds = 9216 flops
    assert conv.flops == 9216
    both = (FusionPair("conv", "batch_norm", 10, 5, 10), FusionPair("conv", "relu", 10, 5, 10))
    fused = predict(analysis, _profile(fusion=both))
    # 10 us launch + 9216 flops * 1 ns = 19.216 us, + 5 us per run; bn and relu add nothing
    assert fused.latency_s == pytest.approx(10e-6 + 9216e-9 + 5e-6)
    assert [op.bound for op in fused.ops if op.op != conv.op and op.kind != "other"] == [FUSED, FUSED]
    assert fused.framework_s == 5e-6


def test_a_run_pays_per_byte_of_the_models_input():
    analysis = _conv_bn_relu()
    both = (FusionPair("conv", "batch_norm", 10, 5, 10), FusionPair("conv", "relu", 10, 5, 10))
    profile = dataclasses.replace(_profile(fusion=both), per_input_byte_s=1e-9)
    prediction = predict(analysis, profile)
    # the 1x2x8x8 float input is 512 bytes: 5 us + 512 * 1 ns a run, on top of the kernel's 19.216 us
    assert prediction.framework_s == pytest.approx(5e-6 + 512e-9)
    assert prediction.latency_s == pytest.approx(10e-6 + 9216e-9 + 5e-6 + 512e-9)


def test_a_matrix_vector_product_pays_its_streamed_weights():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4)).eval()
    analysis = pipeline.analyze(model, torch.empty(1, 16, 1, 1, device="meta"), mode="meta")
    profile = dataclasses.replace(_profile(), s_per_streamed_byte=1e-9)
    profile.kinds[Kind.GEMM] = KindModel(1e-6, 0.0, 0.0)
    # one kernel: 1 us, and at 1 ns a byte what ``resident_weights`` counts of an addmm (its operands but
    # the first, its bias, and its output): the 16 x 4 weight, 4 biases and the 16 inputs, 320 bytes;
    # + 5 us a run
    assert predict(analysis, profile).latency_s == pytest.approx(1e-6 + 320e-9 + 5e-6)


def test_a_kernels_input_and_output_past_l2_cost_their_price():
    model = nn.Conv2d(8, 8, 3, padding=1, bias=False).eval()
    analysis = pipeline.analyze(model, torch.empty(1, 8, 8, 8, device="meta"), mode="meta")
    hot = predict(analysis, _profile())
    # its 8x8x8 float input and output, 2048 bytes each: an L2 of 3000 bytes holds 1096 bytes fewer,
    # at 1 ns each
    spilled = predict(analysis, dataclasses.replace(_profile(), l2_bytes=3000, s_per_spilled_byte=1e-9))
    assert spilled.latency_s - hot.latency_s == pytest.approx(1096e-9)
    # a view moves nothing: flattening a 16x1024 input (64 KiB in, 64 KiB out) spills none
    model = nn.Sequential(nn.Flatten(), nn.Linear(16384, 1))
    linear = pipeline.analyze(model, torch.empty(1, 16, 1024, device="meta"), mode="meta")
    assert any(op.op == "aten.view.default" and not op.constant for op in linear.ops)
    profile = dataclasses.replace(_profile(), l2_bytes=3000, s_per_spilled_byte=1e-9)
    profile.kinds[Kind.GEMM] = KindModel(1e-6, 0.0, 0.0)
    # the addmm's first input is its one bias and its output one float: 8 bytes, none past L2; the
    # view, had it counted, would have added 2 * 65536 - 3000 bytes at 1 ns each
    assert predict(linear, profile).latency_s == pytest.approx(1e-6 + 5e-6)


def test_a_kind_without_a_model_is_priced_as_its_stand_in():
    # a batch norm as an element-wise kernel (1 us + 1 ns a byte), an average pool as a max pool's:
    # a window's flops are its outputs times its size, which a reduction's price per flop does not fit
    norm = pipeline.analyze(nn.BatchNorm2d(4).eval(), torch.empty(1, 4, 4, 4, device="meta"), mode="meta")
    profile = _profile()
    del profile.kinds[Kind.NORMALIZATION]
    prediction = predict(norm, profile)
    # 1 us + its 64 floats in and out, 4 weights, biases, means and variances, and the 4 means and 4
    # inverse deviations native_batch_norm also returns: 608 bytes at 1 ns
    assert prediction.latency_s == pytest.approx(1e-6 + 608e-9 + 5e-6)
    assert any("normalization kernel(s) priced as elementwise" in note for note in prediction.notes)
    pool = pipeline.analyze(nn.AvgPool2d(2), torch.empty(1, 4, 4, 4, device="meta"), mode="meta")
    profile.kinds[Kind.MAX_POOLING] = KindModel(3e-6, 0.0, 0.0)
    profile.kinds[Kind.REDUCTION] = KindModel(50e-6, 0.0, 0.0)
    assert predict(pool, profile).latency_s == pytest.approx(3e-6 + 5e-6)


class _MaskAdded(nn.Module):
    """The input plus a mask built from a buffer, as a Swin block adds its shifted window's mask."""

    def __init__(self):
        super().__init__()
        self.register_buffer("index", torch.arange(16).view(4, 4))

    def forward(self, x):
        return x + x.new_zeros(4, 4).masked_fill(self.index > 7, -100.0)


def test_a_runtime_folds_what_reads_only_buffers_and_shapes():
    analysis = pipeline.analyze(_MaskAdded(), torch.empty(4, 4, device="meta"), mode="meta")
    prediction = predict(analysis, _profile())
    bounds = {op.op.split(".")[1]: op.bound for op in prediction.ops}
    assert bounds["gt"] == bounds["masked_fill"] == FOLDED
    assert bounds["add"] != FOLDED
    # one element-wise kernel, the add: 1 us + its 192 bytes (x, the mask, its output) at 1 ns, + 5 us a
    # run; the comparison and the fill, 1 us and more each, cost nothing
    assert prediction.latency_s == pytest.approx(1e-6 + 192e-9 + 5e-6)
    assert any("2 constant op(s) folded" in note for note in prediction.notes)


def test_a_fused_follower_adds_its_flops_at_its_fused_price():
    analysis = _conv_bn_relu()
    relu = next(op for op in analysis.ops if "relu" in op.op)
    # a ReLU over 4 x 8 x 8 outputs: 256 flops
    assert relu.flops == 256
    both = (FusionPair("conv", "batch_norm", 10, 5, 10), FusionPair("conv", "relu", 10, 5, 10))
    profile = dataclasses.replace(_profile(fusion=both), fused_s_per_flop={"relu": 2e-9})
    prediction = predict(analysis, profile)
    # as above, plus 256 flops * 2 ns = 0.512 us for the fused relu; the folded batch-norm has no price: 0
    assert prediction.latency_s == pytest.approx(10e-6 + 9216e-9 + 5e-6 + 0.512e-6)
    assert next(op for op in prediction.ops if op.id == relu.id).predicted_s == pytest.approx(0.512e-6)


def test_unfused_followers_are_their_own_kernels():
    analysis = _conv_bn_relu()
    unfused = (FusionPair("conv", "batch_norm", 10, 5, 15), FusionPair("conv", "relu", 10, 5, 15))
    prediction = predict(analysis, _profile(fusion=unfused))
    bn = next(op for op in analysis.ops if "batch_norm" in op.op)
    relu = next(op for op in analysis.ops if "relu" in op.op)
    # each adds its launch and its bytes at 1 ns/byte: bn 2 us, relu 1 us
    expected = (
        10e-6 + 9216e-9 + 2e-6 + bn.mem_access_bytes * 1e-9 + 1e-6 + relu.mem_access_bytes * 1e-9 + 5e-6
    )
    assert prediction.latency_s == pytest.approx(expected)


def test_what_a_pass_cannot_keep_in_the_cache_costs_its_dram_price():
    analysis = _conv_bn_relu()
    conv = analysis.ops[0]
    both = (FusionPair("conv", "batch_norm", 10, 5, 10), FusionPair("conv", "relu", 10, 5, 10))
    hot = predict(analysis, _profile(fusion=both))
    # one kernel: 4x2x3x3 float weights (288 bytes) and its 4x8x8 float output (1024 bytes); a cache that
    # Linux says is 1024 bytes holds a 512-byte pass and loses a 4096-byte one, so of the 1312 bytes the
    # pass touches log(1312 / 512) / log(8) miss it: its weights, the model's 2x8x8 float input (512
    # bytes) and its output buffer, fresh in every pass
    profile = dataclasses.replace(
        _profile(fusion=both), llc_bytes=1024, s_per_cold_weight_byte=1e-9, s_per_cold_buffer_byte=2e-9
    )
    cold = predict(analysis, profile)
    share = math.log(1312 / 512) / math.log(8)
    assert share == pytest.approx(0.4525, abs=1e-4)
    added = (1e-9 * 288 + 2e-9 * (512 + 1024)) * share
    assert cold.latency_s - hot.latency_s == pytest.approx(added)
    assert next(op for op in cold.ops if op.id == conv.id).predicted_s == pytest.approx(
        10e-6 + 9216e-9 + added
    )
    assert any("45% of what it last touched a pass ago" in note for note in cold.notes)
    # a cache measured to hold the pass whole prices the weights hot, whatever Linux's size
    roomy = predict(analysis, dataclasses.replace(profile, cache_holds_bytes=2048, cache_loses_bytes=8192))
    assert roomy.latency_s == pytest.approx(hot.latency_s)


# --- the document --------------------------------------------------------------------------------


def test_profile_round_trips_and_an_eager_reader_keeps_its_schema(tmp_path):
    pair = FusionPair("conv", "relu", 1e-4, 2e-5, 1.05e-4, seen=3, together=2)
    profile = dataclasses.replace(
        _profile(fusion=(pair,)),
        fused_s_per_flop={"relu": 1e-12},
        llc_bytes=2**25,
        s_per_cold_weight_byte=4e-11,
        s_per_cold_buffer_byte=3e-11,
        cache_holds_bytes=2**24,
        cache_loses_bytes=2**27,
    )
    path = tmp_path / "p.json"
    runtime_profiles.save(profile, path)
    document = json.loads(path.read_text())
    assert document["schema"] == "netprof.profile/1" and document["runtime"] == "onnxruntime"
    assert document["fusion"][0]["fused"] is True
    loaded = runtime_profiles.load(path)
    assert isinstance(loaded, RuntimeProfile) and loaded.fusion == profile.fusion
    assert loaded.runtime_version == "9.9" and loaded.fused == {("conv", "relu")}
    assert loaded.fused_s_per_flop == {"relu": 1e-12}
    assert (loaded.llc_bytes, loaded.s_per_cold_weight_byte, loaded.s_per_cold_buffer_byte) == (
        2**25,
        4e-11,
        3e-11,
    )
    assert loaded.pass_cache == PassCache(2**24, 2**27)
    document["s_per_cold_buffer_byte"] = -1.0
    with pytest.raises(
        ProfileError, match="'s_per_streamed_byte', 's_per_spilled_byte' must be non-negative"
    ):
        runtime_profiles.from_dict(document, "p.json")


def test_a_profile_of_another_runtime_is_refused_in_one_line():
    with pytest.raises(ProfileError, match="is a profile of onnxruntime 9.9, not of openvino"):
        runtime_profiles.for_runtime(_profile(), "openvino", "p.json")
    with pytest.raises(ProfileError, match="use it with --runtime onnxruntime"):
        runtime_profiles.for_runtime(_profile(), "eager", "p.json")


# --- the CLI's bad input -------------------------------------------------------------------------


def _one_line(code, err):
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_missing_runtime_package_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    code, _, err = run(capsys, "calibrate", "--runtime", "openvino", "--threads", "1")
    _one_line(code, err)
    assert "pip install 'netprof[openvino]'" in err


def test_a_pack_directory_that_is_not_empty_is_refused(capsys, tmp_path):
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "x").write_text("mine")
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--export-pack", str(tmp_path / "pack")
    )
    _one_line(code, err)
    assert "not an empty directory" in err
    assert (tmp_path / "pack" / "x").read_text() == "mine"


def _relu_graph() -> str:
    """The optimized graph run.py returns, base64: one Relu node reading x and writing y."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )  # fmt: skip
    return base64.b64encode(helper.make_model(graph).SerializeToString()).decode()


def _results(tmp_path, **changes):
    document = {"format": calibration.PACK_FORMAT, "baseline": "b", "benches": [
        {"name": "b", "file": "b.onnx", "input_shape": [1, 8], "group": "op",
         "ops": [[0, "elementwise", "relu", [None], 8, 64, 0, "follows", 32, 32]],
         "nodes": [["relu", "Relu", ["x"], ["y"]]], "constants": ["x"], "node_ops": {"relu": [0]}}],
        "pairs": []}  # fmt: skip
    document["digest"] = calibration._digest(document)
    data = {"format": calibration.RESULTS_FORMAT, "runtime": "onnxruntime", "runtime_version": "1",
            "threads": 1, "manifest": document, "times": {"b": {"median_s": 1e-5, "iqr_s": 0.0}},
            "kernels": {"b": {"kernels": {"relu": ["Relu", "CPUExecutionProvider", 4e-6]},
                              "graph": _relu_graph()}}}  # fmt: skip
    data.update(changes)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    return path, data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "x"}, "not the results of a netprof pack"),
        ({"times": {}}, "no usable time for micro-benchmark 'b'"),
        ({"times": {"b": {"median_s": 0, "iqr_s": 0}}}, "has median 0.0"),
        ({"runtime": "openvino"}, "not in onnxruntime"),
        ({"threads": 0}, "'threads' must be a positive integer"),
        ({"kernels": None}, "no profiled kernels"),
        (
            {"kernels": {"b": {"kernels": {}, "graph": "not base64!"}}},
            "unusable kernels for micro-benchmark 'b'",
        ),
        ({"caches": [[3, "Unified"]]}, "'caches' must be [level, type, size] rows"),
        ({"caches": [["L3", "Unified", "32M"]]}, "'caches' must be [level, type, size] rows"),
        ({"cache_probe": [[1 << 20]]}, "'cache_probe' must be [bytes, seconds per byte] rows"),
        ({"cache_probe": [[1 << 20, -1e-10]]}, "'cache_probe' must be [bytes, seconds per byte] rows"),
        ({"cache_probe": 3}, "'cache_probe' must be [bytes, seconds per byte] rows"),
    ],
)
def test_results_that_do_not_match_are_refused(capsys, tmp_path, change, message):
    path, _ = _results(tmp_path, **change)
    code, _, err = run(capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path))
    _one_line(code, err)
    assert message in err


def test_results_whose_manifest_was_edited_are_refused(capsys, tmp_path):
    path, data = _results(tmp_path)
    data["manifest"]["benches"][0]["ops"][0][4] = 9
    path.write_text(json.dumps(data))
    code, _, err = run(capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path))
    _one_line(code, err)
    assert "does not match its digest" in err


def test_good_results_import(capsys, tmp_path):
    path, _ = _results(tmp_path)
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path), "-o",
        str(tmp_path / "p.json"), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    profile = runtime_profiles.load(tmp_path / "p.json")
    assert profile.runtime == "onnxruntime"
    # the Relu kernel's 4 us, joined through the optimized graph to op 0, is what the fit priced: its one row
    assert math.fsum(profile.kinds[Kind.ELEMENTWISE].terms(8, 64, 0)) == pytest.approx(4e-6)


def test_predict_refuses_a_profile_of_another_runtime(capsys, tmp_path):
    path = tmp_path / "p.json"
    runtime_profiles.save(_profile(), path)
    code, _, err = run(
        capsys, "predict", "netprof.zoo:mobilenet_v2", "--runtime", "openvino", "--profile", str(path)
    )
    _one_line(code, err)
    assert "is a profile of onnxruntime 9.9, not of openvino" in err
    code, _, err = run(capsys, "predict", "netprof.zoo:mobilenet_v2", "--profile", str(path))
    _one_line(code, err)
    assert "use it with --runtime onnxruntime" in err


def test_packs_are_for_onnxruntime_only(capsys, tmp_path):
    code, _, err = run(capsys, "calibrate", "--runtime", "openvino", "--export-pack", str(tmp_path / "p"))
    _one_line(code, err)
    code, _, err = run(capsys, "calibrate", "--export-pack", str(tmp_path / "p"))
    _one_line(code, err)
    assert not (tmp_path / "p").exists()


# --- end to end: a pack timed where torch cannot be imported -------------------------------------

_NO_TORCH = "import sys\nclass _Block:\n    def find_spec(self, name, path=None, target=None):\n" \
    "        if name == 'torch' or name.startswith('torch.') or name == 'netprof':\n" \
    "            raise ImportError(f'{name} is not on this device')\nsys.meta_path.insert(0, _Block())\n"  # fmt: skip


def _small_benches():
    pairs = calibration.pair_benches()[:2]  # conv + batch_norm, conv + relu
    benches = [MicroBench(calibration.BASELINE, nn.ReLU, (1, 8))]
    benches += [MicroBench("conv3x3 8->8 16^2", lambda: nn.Conv2d(8, 8, 3, padding=1), (1, 8, 16, 16))]
    for pair in pairs:
        benches += [
            b for b in (pair.first, pair.second, pair.both) if b.name not in {x.name for x in benches}
        ]
    return benches


@pytest.mark.slow
def test_a_pack_runs_without_torch_and_its_results_predict_a_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    benches = _small_benches()
    monkeypatch.setattr(calibration, "runtime_benches", lambda: benches)
    pairs = calibration.pair_benches()[:2]
    monkeypatch.setattr(calibration, "pair_benches", lambda: pairs)
    pack = tmp_path / "pack"
    code, _, err = run(capsys, "calibrate", "--runtime", "onnxruntime", "--export-pack", str(pack))
    assert code == 0, err
    assert {p.name for p in pack.iterdir()} >= {"manifest.json", "run.py"}
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_NO_TORCH)
    env = {**os.environ, "PYTHONPATH": str(shim)}
    check = subprocess.run(
        [sys.executable, "-c", "import torch"], env=env, capture_output=True, timeout=60, check=False
    )
    assert check.returncode != 0 and b"not on this device" in check.stderr
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(pack / "run.py"), "--threads", "1", "-o", str(results), "--budget", "0.02"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    profile = tmp_path / "profile.json"
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(results), "-o", str(profile)
    )
    assert code == 0, err
    code, out, err = run(
        capsys, "predict", "netprof.zoo:mobilenet_v2", "--runtime", "onnxruntime", "--profile", str(profile),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    prediction = json.loads(out)["prediction"]
    assert prediction["latency_s"] > 0
    # run.py read the device's caches from Linux and probed what the last level keeps of a pass: the
    # probe's sizes (else Linux's) price the weights a pass evicts
    saved = json.loads(profile.read_text())
    assert (saved["caches"]["l2_bytes"], saved["caches"]["llc_bytes"]) == cache_sizes()
    measured = measured_pass_cache(json.loads(results.read_text())["cache_probe"], cache_sizes()[0])
    assert (saved["caches"]["holds_bytes"], saved["cache_loses_bytes"]) == measured[:2]


def test_the_probed_cache_prices_a_pass_and_the_listed_one_is_noted(capsys, tmp_path):
    mib = 2**20
    # a process whose reads of n MiB over and over cost 1 + 2 * log(n / 32) / log(8) between 32 and 256 MiB
    probe = [[n * mib, (1 + 2 * evicted_share(n * mib, PassCache(32 * mib, 256 * mib))) * 1e-10]
             for n in (8, 16, 32, 45, 64, 91, 128, 181, 256, 512, 1024)]  # fmt: skip
    listed = [[2, "Unified", "2048K"], [3, "Unified", "491520K"]]
    path, _ = _results(tmp_path, caches=listed, cache_probe=probe)
    saved = tmp_path / "profile.json"
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path), "-o", str(saved)
    )
    assert code == 0, err
    profile = json.loads(saved.read_text())
    holds = profile["caches"]["holds_bytes"]
    assert profile["caches"] == {"l2_bytes": 2 * mib, "llc_bytes": 480 * mib, "holds_bytes": holds}
    assert "cache_holds_bytes" not in profile  # the size is written once, where the eager profile keeps it
    # the grid's 48 sizes from 8 MiB to 4 GiB are 14% apart
    assert holds == pytest.approx(32 * mib, rel=0.14)
    assert profile["cache_loses_bytes"] == pytest.approx(256 * mib, rel=0.14)
    assert any("(measured; 480 MiB listed)" in note for note in profile["notes"])
    # results from a run.py before the probe: Linux's size says what the cache keeps
    path, _ = _results(tmp_path, caches=listed)
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path), "-o", str(saved)
    )
    assert code == 0, err
    loaded = runtime_profiles.load(saved)
    assert loaded.cache_loses_bytes == 0 and loaded.pass_cache == PassCache(240 * mib, 1920 * mib)


def test_a_runtime_profile_from_before_caches_holds_bytes_keeps_its_top_level_size(capsys, tmp_path):
    mib = 2**20
    path, _ = _results(tmp_path, caches=[[2, "Unified", "2048K"], [3, "Unified", "491520K"]])
    saved = tmp_path / "profile.json"
    code, _, err = run(
        capsys, "calibrate", "--runtime", "onnxruntime", "--import-results", str(path), "-o", str(saved)
    )
    assert code == 0, err
    document = json.loads(saved.read_text())
    del document["caches"]["holds_bytes"]
    document |= {"cache_holds_bytes": 24 * mib, "cache_loses_bytes": 96 * mib}  # as netprof wrote it before
    saved.write_text(json.dumps(document))
    assert runtime_profiles.load(saved).pass_cache == PassCache(24 * mib, 96 * mib)
    document["cache_holds_bytes"] = -1
    saved.write_text(json.dumps(document))
    with pytest.raises(ProfileError, match="'cache_holds_bytes' must be a non-negative integer"):
        runtime_profiles.load(saved)


def test_pair_times_are_net_of_the_baseline_or_of_the_pairs_own_prefix():
    relu = [[0, "elementwise", "relu", [None], 8, 64, 0, "follows", 32, 32]]
    names = ("base", "c", "r", "cr", "p", "pc", "pa", "pca")
    document = {
        "baseline": "base",
        "benches": [{"name": n, "group": "op", "ops": relu} for n in names],
        "pairs": [
            {"anchor": "conv", "follower": "relu", "first": "c", "second": "r", "both": "cr"},
            {"anchor": "conv", "follower": "add", "first": "pc", "second": "pa", "both": "pca", "base": "p"},
        ],
    }
    us = 1e-6
    times = {"base": 10, "c": 110, "r": 30, "cr": 115, "p": 60, "pc": 160, "pa": 90, "pca": 185}
    profile = calibration.build_profile(
        document, {n: (t * us, 0.0) for n, t in times.items()}, {}, runtime="onnxruntime", version="1",
        threads=1, processor_name="x", calibration_s=None,
    )  # fmt: skip
    relu_pair, add_pair = profile.fusion
    # less the 10 us baseline: 100 + 20 - 105 = 15 > 0.5 * 20: fused
    assert (relu_pair.first_s, relu_pair.second_s, relu_pair.both_s) == pytest.approx(
        (100 * us, 20 * us, 105 * us)
    )
    assert relu_pair.fused
    # less the 60 us prefix: 100 + 30 - 125 = 5, not > 0.5 * 30 = 15: not fused
    assert (add_pair.first_s, add_pair.second_s, add_pair.both_s) == pytest.approx(
        (100 * us, 30 * us, 125 * us)
    )
    assert not add_pair.fused


def test_a_slice_is_a_copy_in_a_runtime():
    from netprof.runtimes.fusion import fusion_op

    class Halves(nn.Module):
        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            return a + b

    analysis = pipeline.analyze(Halves(), torch.empty(1, 4, 2, 2, device="meta"), mode="meta")
    split = next(fusion_op(op) for op in analysis.ops if "split" in op.op)
    # two halves of 1x2x2x2 float32 = 2 * 32 bytes out, read and written: 2 * 64 = 128 bytes
    assert (split.kind, split.mem_access_bytes, split.role) == ("data_movement", 128, None)


def test_a_run_outside_its_kernels_is_read_off_the_profiled_runs_where_the_profiler_is_free():
    from netprof.calibration.runtime_fit import KernelTime

    relu = [[0, "elementwise", "relu", [None], 8, 64, 0, "follows", 32, 32]]
    document = {"baseline": "n", "benches": [{"name": "n", "group": "network", "ops": relu}], "pairs": []}
    us = 1e-6
    kernels = {"n": [KernelTime("Eltwise", 50 * us, (0,))]}

    def profile(**walls):
        return calibration.build_profile(
            document, {"n": (100 * us, 0.0)}, kernels, runtime="openvino", version="1", threads=1,
            processor_name="x", calibration_s=None, **walls,
        )  # fmt: skip

    # the plain runs (100 us) drifted from the profiled ones (80 us) whose kernels took 50 us
    assert profile(profiled_walls={"n": 80 * us}).per_run_s == pytest.approx(30 * us)
    unknown = profile()
    assert unknown.per_run_s == 0.0
    assert "a run outside its kernels: not priced (openvino's profiler slows the runs it times" in "".join(
        unknown.notes
    )
    # no L2 size known (caches default to (0, 0)): nothing past it is priced, and the notes say so
    assert unknown.s_per_spilled_byte == 0.0
    assert "a kernel's input or output byte past L2: not priced (L2's size unknown)" in unknown.notes
    with_l2 = profile(caches=(2 << 20, 0))
    assert "a kernel's input or output byte past L2 (2.0 MiB): 0.0 ps" in with_l2.notes


def test_a_one_op_benchmark_is_read_on_as_a_network_reads_a_layer():
    """Its output feeds a mean over all but the batch, so a runtime writes it in the network's precision;
    outputs a mean cannot read (a 1-D or integer tensor, a tuple) stay the model's."""
    conv = calibration._ReadOn(nn.Conv2d(2, 3, 1, bias=False))
    with torch.no_grad():
        conv.op.weight.fill_(1.0)
        # every output pixel sums the two channels: (1 + 2) at each of 4 pixels, 3 times: the mean is 3
        assert torch.equal(
            conv(torch.tensor([[[[1.0, 1.0], [1.0, 1.0]], [[2.0] * 2] * 2]])), torch.tensor([3.0])
        )
    one_dim = calibration._ReadOn(nn.ReLU())
    assert torch.equal(one_dim(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))
    argmax = calibration._ReadOn(Lambda(lambda x: x.argmax(-1)))
    assert argmax(torch.tensor([[0.0, 5.0, 1.0]])).tolist() == [1]
    chains = ("pair ", calibration.BASELINE, "16 add/mul", "64 add/mul")  # many ops each, or a baseline
    one_op = [b for b in calibration.runtime_benches() if b.group == "op" and not b.name.startswith(chains)]
    assert one_op and all(b.name.endswith(", read on") for b in one_op)
    assert all(isinstance(b.build(), calibration._ReadOn) for b in one_op[:5])
