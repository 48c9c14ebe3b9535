"""``--runtime compile``: torch.compile (Inductor) on the CPU, its kernels timed by torch.profiler and joined
back through Inductor's fusion to the captured ops.

The join is tested first on a hand-written provenance mapping and profiler ranges (fast, nothing
compiles); then end to end, one compile per model, shared by the tests that read it. No assertion reads
a measured time except the kernel sum against the plain latency, which is the issue's bar.
"""

import contextlib
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from test_runtimes_join import _op

from netprof.cli import main
from netprof.runtimes import inductor
from netprof.runtimes.backends import require
from netprof.runtimes.export import OnnxNode
from netprof.runtimes.inductor import EXTERN, GENERATED, OTHER, RUNTIME, absorb, kernel_ranges, match, plan
from netprof.runtimes.join import compose, ops_by_node

ROOT = Path(__file__).parents[1]
MODELS = f"{ROOT}/tests/fixtures/models.py"
SCHEMA = json.loads((ROOT / "netprof/report/analysis.schema.json").read_text())

# Inductor's provenance of the tiny Conv+BN+ReLU+pool+Linear model (the shape of what it writes, trimmed):
# the convolution is an extern kernel, batch-norm and ReLU one C++ kernel, the pool another, the Linear
# an extern addmm. Handles count up in call order; the keys are in no particular order.
MAPPINGS = {
    "cppCodeToPost": {
        "cpp_fused__native_batch_norm_legit_no_training_relu_0:2": ["sub", "add", "sqrt", "mul", "relu"],
        "extern_kernels.convolution:1": ["convolution"],
        "extern_kernels.addmm:4": ["addmm"],
        "cpp_fused_mean_1:3": ["mean"],
    },
    "postToPre": {
        "convolution": ["conv2d"],
        "sub": ["_native_batch_norm_legit_no_training"],
        "add": ["_native_batch_norm_legit_no_training"],
        "sqrt": ["_native_batch_norm_legit_no_training"],
        "mul": ["_native_batch_norm_legit_no_training"],
        "relu": ["relu"],
        "mean": ["adaptive_avg_pool2d"],
        "addmm": ["linear"],
    },
}
# One profiled run as the profiler nests it under the compiled call: Dynamo's guard check, then the graph:
# a C++ kernel's range carries its graph's prefix, an extern kernel is the ATen op it calls, and the
# runtime adds an op of its own.
RANGES = [
    ("TorchDynamo Cache Lookup", 5e-6),
    ("aten::convolution", 40e-6),
    ("graph_0_cpp_fused__native_batch_norm_legit_no_training_relu_0", 8e-6),
    ("graph_0_cpp_fused_mean_1", 2e-6),
    ("aten::detach", 1e-6),
    ("aten::addmm", 3e-6),
]


def test_the_plan_is_inductors_kernels_in_call_order_with_the_nodes_each_computes():
    kernels = plan(MAPPINGS)
    assert [(k.name, k.generated) for k in kernels] == [
        ("extern_kernels.convolution", False),
        ("cpp_fused__native_batch_norm_legit_no_training_relu_0", True),
        ("cpp_fused_mean_1", True),
        ("extern_kernels.addmm", False),
    ]
    # post-grad nodes go back to the nodes of the graph Inductor was given, each once
    assert kernels[1].nodes == ("_native_batch_norm_legit_no_training", "relu")
    assert plan({}) == []


def test_profiler_ranges_are_matched_to_the_plan_by_name_then_by_family_in_order():
    executed = match(plan(MAPPINGS), RANGES)
    assert [(k.name, k.provider, k.nodes) for k in executed] == [
        ("TorchDynamo Cache Lookup #1", RUNTIME, ()),  # the runtime's own work: no node
        ("extern_kernels.convolution", EXTERN, ("conv2d",)),
        (
            "cpp_fused__native_batch_norm_legit_no_training_relu_0",
            GENERATED,
            ("_native_batch_norm_legit_no_training", "relu"),
        ),
        ("cpp_fused_mean_1", GENERATED, ("adaptive_avg_pool2d",)),
        ("aten::detach #1", OTHER, ()),  # not Inductor's: a kernel that computes no node
        ("extern_kernels.addmm", EXTERN, ("linear",)),
    ]
    assert executed[1].op_type == "aten::convolution"
    assert [k.seconds for k in executed] == [s for _, s in RANGES]


def test_a_kernel_called_more_than_once_is_numbered_by_call():
    """Inductor generates one kernel for every layer of the same shape, and calls one extern kernel for
    every convolution: the n-th range of a name is its n-th call, with that call's nodes."""
    mappings = {
        "cppCodeToPost": {
            "extern_kernels.convolution:1": ["c1"],
            "cpp_fused_relu_0:2": ["r1"],
            "extern_kernels.convolution:3": ["c2"],
            "cpp_fused_relu_0:4": ["r2"],
        },
        "postToPre": {"c1": ["conv2d"], "r1": ["relu"], "c2": ["conv2d_1"], "r2": ["relu_1"]},
    }
    ranges = [("aten::convolution", 1e-6), ("graph_0_cpp_fused_relu_0", 1e-6)] * 2
    executed = match(plan(mappings), ranges)
    assert [(k.name, k.nodes) for k in executed] == [
        ("extern_kernels.convolution #1", ("conv2d",)),
        ("cpp_fused_relu_0 #1", ("relu",)),
        ("extern_kernels.convolution #2", ("conv2d_1",)),
        ("cpp_fused_relu_0 #2", ("relu_1",)),
    ]


def test_an_aten_op_between_extern_kernels_does_not_shift_them():
    mappings = {
        "cppCodeToPost": {"extern_kernels.convolution:1": ["c1"], "extern_kernels.addmm:2": ["a"]},
        "postToPre": {"c1": ["conv2d"], "a": ["linear"]},
    }
    ranges = [("aten::convolution", 1e-6), ("aten::copy_", 1e-6), ("aten::addmm", 1e-6)]
    executed = match(plan(mappings), ranges)
    assert [(k.name, k.nodes) for k in executed] == [
        ("extern_kernels.convolution", ("conv2d",)),
        ("aten::copy_ #1", ()),
        ("extern_kernels.addmm", ("linear",)),
    ]


def test_a_node_folded_away_is_computed_by_the_kernel_that_uses_its_result():
    """With freezing, Inductor folds the batch-norm into the convolution's weights and fuses the
    convolution with its ReLU into one oneDNN kernel, whose provenance names the ReLU only."""
    nodes = [
        OnnxNode("conv2d", "conv2d.default", ("x", "w"), ("conv2d",), "0", "conv2d", "conv2d.default"),
        OnnxNode("bn", "batch_norm.default", ("conv2d",), ("bn",), "1", "bn", "batch_norm.default"),
        OnnxNode("relu", "relu.default", ("bn",), ("relu",), "2", "relu", "relu.default"),
        OnnxNode("mean", "mean.dim", ("relu",), ("mean",), "3", "mean", "mean.dim"),
    ]
    # a layout kernel before the convolution also names the ReLU: the last kernel of a node writes it
    covered = {"guards": (), "layout": ("relu",), "conv_pointwise": ("relu",), "cpp_fused_mean_0": ("mean",)}
    assert absorb(nodes, covered) == {
        "guards": (),
        "layout": ("relu",),
        "conv_pointwise": ("relu", "conv2d", "bn"),
        "cpp_fused_mean_0": ("mean",),
    }
    # every node already has its kernel: nothing moves
    assert absorb(nodes, {"k": ("conv2d", "bn"), "j": ("relu", "mean")}) == {
        "k": ("conv2d", "bn"),
        "j": ("relu", "mean"),
    }


def _event(name, start, end, children=()):
    event = SimpleNamespace(
        name=name,
        cpu_parent=None,
        cpu_children=list(children),
        time_range=SimpleNamespace(start=start, elapsed_us=lambda: end - start),
    )
    for child in children:
        child.cpu_parent = event
    return event


def test_kernel_ranges_look_through_dynamos_and_inductors_own_ranges():
    inner = [
        _event("aten::convolution", 10, 50, [_event("aten::mkldnn_convolution", 11, 49)]),
        _event("graph_0_cpp_fused_mean_1", 52, 60),
    ]
    call = _event("## Call CompiledFxGraph fabc ##", 5, 70, inner)
    region = _event("Torch-Compiled Region: 0/0", 3, 75, [call])
    root = _event("netprof: compiled call", 0, 80, [_event("TorchDynamo Cache Lookup", 1, 3), region])
    other = _event("aten::add", 100, 110)  # outside the compiled call
    events = [root, other, *inner]
    ranges = kernel_ranges(events, {"cpp_fused_mean_1"})
    # the guard check is a leaf: a range of the runtime's own; the convolution's children are inside it
    assert [name for name, _ in ranges] == [
        "TorchDynamo Cache Lookup",
        "aten::convolution",
        "graph_0_cpp_fused_mean_1",
    ]
    assert [seconds for _, seconds in ranges] == pytest.approx([2e-6, 40e-6, 8e-6])


def _node(name, target, module):
    return OnnxNode(name, target, (), (name,), module, name, target)


def test_a_fused_kernel_lists_every_captured_op_it_computes():
    """Kernel -> nodes of the compiled graph (Inductor's provenance) -> captured ops (the export join)."""
    ops = [
        _op(0, "aten.convolution.default", "0", category="conv", flops=200),
        _op(1, "aten.empty.memory_format", "1", category="other"),
        _op(2, "aten.native_batch_norm.default", "1", inputs=(0,), category="normalization", flops=8),
        _op(3, "aten.relu.default", "2", inputs=(2,), flops=4),
        _op(4, "aten._adaptive_avg_pool2d.default", "3", inputs=(3,), category="pool", flops=4),
        _op(5, "aten.addmm.default", "5", inputs=(4,), category="matmul", flops=160),
    ]
    nodes = [
        _node("conv2d", "conv2d.default", "0"),
        _node("_native_batch_norm_legit_no_training", "_native_batch_norm_legit_no_training.default", "1"),
        _node("relu", "relu.default", "2"),
        _node("adaptive_avg_pool2d", "adaptive_avg_pool2d.default", "3"),
        _node("linear", "linear.default", "5"),
    ]
    executed = match(plan(MAPPINGS), RANGES)
    kernel_ops = compose({k.name: k.nodes for k in executed}, ops_by_node(nodes, ops))
    assert kernel_ops == {
        "TorchDynamo Cache Lookup #1": (),
        "extern_kernels.convolution": (0,),
        "cpp_fused__native_batch_norm_legit_no_training_relu_0": (1, 2, 3),
        "cpp_fused_mean_1": (4,),
        "aten::detach #1": (),
        "extern_kernels.addmm": (5,),
    }


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_compile_needs_no_package_only_a_cpp_compiler(monkeypatch):
    require("compile")
    monkeypatch.setattr(inductor, "compiler", lambda: None)
    code, out, err = _run("analyze", f"{MODELS}:tiny", "--runtime", "compile")
    assert code == 2 and not out
    expected = "netprof: error: --runtime compile needs a C++ compiler for Inductor's CPU kernels: install g++ or set $CXX"
    assert err.strip().splitlines() == [expected]


def test_a_model_inductor_cannot_compile_is_one_line(monkeypatch):
    import torch._inductor.compile_fx

    def refuse(graph, example_inputs):
        raise RuntimeError("no lowering for this op\n  and a long traceback")

    monkeypatch.setattr(torch._inductor.compile_fx, "compile_fx", refuse)
    code, out, err = _run("analyze", f"{MODELS}:tiny", "--runtime", "compile", "--repeat", "1")
    assert code == 2 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "torch.compile (Inductor) could not compile the model" in lines[0]
    assert "no lowering for this op" in lines[0]


def test_calibrate_and_predict_offer_no_compile_profile():
    calibrate = ["calibrate", "--runtime", "compile"]
    for argv in (calibrate, ["predict", f"{MODELS}:tiny", "--runtime", "compile"]):
        code, _, err = _run(*argv)
        assert code == 2
        assert len(err.strip().splitlines()) == 1 and "invalid choice: 'compile'" in err


# End to end: each compiles once (seconds to a minute), shared by the tests below it.


def _analyze(directory, spec, *more):
    """``netprof analyze SPEC --runtime compile`` run from ``directory``, which it must leave empty."""
    before = Path.cwd()
    os.chdir(directory)
    try:
        argv = ["analyze", spec, "--runtime", "compile", "--threads", "1", "--format", "json", *more]
        code, out, err = _run(*argv)
    finally:
        os.chdir(before)
    assert code == 0, err
    assert not any(Path(directory).iterdir())  # no debug trace, no cache in the user's folder
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    return report, err


def _joined(report):
    working = {op["id"] for op in report["ops"] if op["mult_adds"] > 0}
    joined = {i for kernel in report["timing"]["kernels"] for i in kernel["op_ids"]}
    return working, working & joined


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _analyze(tmp_path_factory.mktemp("cwd"), f"{MODELS}:tiny", "--repeat", "2")


@pytest.mark.slow
def test_tiny_conv_bn_relu_runs_in_compile(tiny):
    """Without freezing (torch.compile's default), Inductor calls ATen's convolution as an extern kernel
    and fuses what follows (batch-norm, ReLU, and here the pool and the small Linear) into one C++ kernel:
    the convolution is a kernel of its own, batch-norm and ReLU share one. Kernel times are not asserted:
    this model runs in a fraction of a millisecond, most of it Dynamo's guards and Python between kernels,
    and ``benchmarks/runtimes.py agreement`` reports the kernel sum against the latency."""
    report, err = tiny
    timing = report["timing"]
    assert timing["runtime"] == "compile"
    assert timing["plain"]["median_s"] > 0
    ops = {op["id"]: op for op in report["ops"]}
    kernels = timing["kernels"]
    computes = [{ops[i]["op"] for i in k["op_ids"]} for k in kernels]
    assert any(k["provider"] == EXTERN and "aten.convolution.default" in c for k, c in zip(kernels, computes))
    fused = [c for k, c in zip(kernels, computes) if k["provider"] == GENERATED and k["fused"]]
    assert any({"aten.native_batch_norm.default", "aten.relu.default"} <= c for c in fused)
    assert any(k["provider"] == RUNTIME and k["name"].startswith("TorchDynamo Cache Lookup") for k in kernels)
    working, joined = _joined(report)
    assert joined == working
    assert "note: no runtime profile for compile yet" in err


@pytest.mark.slow
def test_with_freezing_conv_bn_relu_is_one_onednn_kernel_listing_all_three(tmp_path):
    """TORCHINDUCTOR_FREEZING=1 (set here on Inductor's config) folds the batch-norm into the
    convolution's weights and fuses the ReLU into a oneDNN convolution, whose provenance names the ReLU:
    the folded convolution and batch-norm join the kernel that uses their result."""
    from torch._inductor import config

    with config.patch(freezing=True):
        report, _ = _analyze(tmp_path, f"{MODELS}:tiny", "--repeat", "1")
    ops = {op["id"]: op for op in report["ops"]}
    kernels = report["timing"]["kernels"]
    conv = [k for k in kernels if k["provider"] == EXTERN]
    assert len(conv) == 1 and conv[0]["fused"]
    assert conv[0]["op_type"].startswith("mkldnn::_convolution_pointwise")
    fused = {ops[i]["op"] for i in conv[0]["op_ids"]}
    assert {"aten.convolution.default", "aten.native_batch_norm.default", "aten.relu.default"} <= fused
    working, joined = _joined(report)
    assert joined == working


@pytest.fixture(scope="module")
def mobilenet_v2(tmp_path_factory):
    return _analyze(tmp_path_factory.mktemp("cwd"), "torchvision.models:mobilenet_v2", "--repeat", "3")


@pytest.mark.slow
def test_mobilenet_v2_kernels_join_its_ops_through_inductors_fusion(mobilenet_v2):
    """torch.compile's default (no freezing) keeps every convolution an extern ATen kernel: no kernel
    fuses a convolution with other ops (the issue's ">= 10" holds with TORCHINDUCTOR_FREEZING=1, where
    oneDNN convolutions absorb batch-norm and activation). What Inductor fuses is each batch-norm with
    its ReLU6 or residual add, in generated C++ kernels, one kernel per shape called for every layer."""
    report, _ = mobilenet_v2
    ops = {op["id"]: op for op in report["ops"]}
    kernels = report["timing"]["kernels"]
    working, joined = _joined(report)
    assert len(joined) >= 0.9 * len(working)
    convs = [k for k in kernels if k["provider"] == EXTERN and k["op_type"] == "aten::convolution"]
    assert len(convs) == 52
    # one convolution each (with the views and scratch buffers that feed it)
    assert all(sum("conv" in ops[i]["category"] for i in k["op_ids"]) == 1 for k in convs)
    generated = [k for k in kernels if k["provider"] == GENERATED and k["fused"]]
    norm_fused = [k for k in generated if any(ops[i]["category"] == "normalization" for i in k["op_ids"])]
    assert len(norm_fused) >= 10
    # the module roll-up sums the kernels credited to captured ops (up to medians: an op credited by two
    # kernels, a layout kernel and its convolution, takes the median of their sum)
    root = next(m for m in report["timing"]["modules"] if m["name"] == "")
    credited = sum(k["median_s"] for k in kernels if k["op_ids"])
    assert root["time_s"] == pytest.approx(credited, rel=0.02)
