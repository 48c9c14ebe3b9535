"""The joins from a runtime's kernels back to captured ops, on hand-built graphs (fast, no runtime)."""

import pytest
import torch

from netprof.analysis import OpNode
from netprof.capture.ir import TensorMeta
from netprof.rules import Fusion
from netprof.runtimes.export import OnnxNode, _fx_target
from netprof.runtimes.join import KernelNode, compose, covered_nodes, family, ops_by_node
from netprof.timing.attribution import KernelTiming
from netprof.timing.measurement import Measurement

_META = TensorMeta((1,), torch.float32, (1,))


def _op(i, op, module, inputs=(), category="elementwise", flops=0):
    return OpNode(i, op, module, tuple(inputs), (_META,), (_META,), category, flops // 2, flops, 0, True)


def _onnx(name, op_type, inputs, outputs, module=None, fx=None, target=None):
    return OnnxNode(name, op_type, tuple(inputs), tuple(outputs), module, fx, target)


@pytest.mark.parametrize(
    ("exported", "captured"),
    [
        ("aten.conv2d.default", "aten.convolution.default"),
        ("aten._native_batch_norm_legit_no_training.default", "aten.native_batch_norm.default"),
        ("aten.hardtanh.default", "aten.hardtanh_.default"),
        ("aten.linear.default", "aten.addmm.default"),
        ("aten.max_pool2d.default", "aten.max_pool2d_with_indices.default"),
        ("aten.adaptive_avg_pool2d.default", "aten._adaptive_avg_pool2d.default"),
        ("aten.flatten.using_ints", "aten.view.default"),
        ("aten.add.Tensor", "aten.add_.Tensor"),
    ],
)
def test_exporter_and_dispatcher_names_meet_in_one_family(exported, captured):
    assert family(exported) == family(captured)


def test_families_keep_unlike_ops_apart():
    assert family("aten.relu.default") != family("aten.sigmoid.default")
    assert family("aten.conv2d.default") != family("aten.linear.default")


def test_fx_target_is_read_from_the_exporters_node_text():
    text = "%hardtanh : [num_users=1] = call_function[target=torch.ops.aten.hardtanh.default](args = (%x,))"
    assert _fx_target(text) == "aten.hardtanh.default"
    assert _fx_target(None) is None


def _conv_bn_relu_block():
    """A Conv2dNormActivation as netprof captures it (conv, scratch buffer, batch-norm, in-place ReLU)
    and as the exporter writes it: batch-norm folded into one Conv carrying the batch-norm's FX node."""
    ops = [
        _op(0, "aten.convolution.default", "block.0", category="conv", flops=200),
        _op(1, "aten.empty.memory_format", "block.1", category="other"),
        _op(2, "aten.native_batch_norm.default", "block.1", inputs=(0,), category="normalization", flops=8),
        _op(3, "aten.relu_.default", "block.2", inputs=(2,), flops=4),
        _op(4, "aten.mean.dim", "pool", inputs=(3,), category="reduction", flops=4),
    ]
    nodes = [
        _onnx("node_Conv_1", "Conv", ["x", "w"], ["bn"], "block.1", "bn", "aten._native_batch_norm_legit_no_training.default"),
        _onnx("node_relu", "Relu", ["bn"], ["relu"], "block.2", "relu", "aten.relu.default"),
        _onnx("node_mean", "ReduceMean", ["relu", "axes"], ["mean"], "pool", "mean", "aten.mean.dim"),
    ]  # fmt: skip
    return ops, nodes


def test_a_folded_op_joins_the_node_that_consumes_its_result():
    ops, nodes = _conv_bn_relu_block()
    joined = ops_by_node(nodes, ops)
    # The convolution has no FX partner (folded into the batch-norm's Conv); the scratch buffer is
    # consumed by nobody and joins its module's node.
    assert joined == {"node_Conv_1": (0, 1, 2), "node_relu": (3,), "node_mean": (4,)}


def test_every_node_of_one_fx_node_computes_its_ops():
    """A linear on tokens is exported as ``MatMul`` + ``Add`` from one FX node; OpenVINO's
    FullyConnected kernel names only the ``Add`` among its original layers."""
    ops = [
        _op(0, "aten.view.default", "fc", category="view"),
        _op(1, "aten.mm.default", "fc", inputs=(0,), category="matmul", flops=64),
        _op(2, "aten._unsafe_view.default", "fc", inputs=(1,), category="view"),
    ]
    linear = {"module": "fc", "fx": "linear", "target": "aten.linear.default"}
    nodes = [
        _onnx("node_MatMul_1", "MatMul", ["x", "w"], ["mm"], **linear),
        _onnx("node_linear", "Add", ["mm", "b"], ["linear"], **linear),
    ]
    joined = ops_by_node(nodes, ops)
    assert joined["node_MatMul_1"] == joined["node_linear"] == (0, 1, 2)
    assert compose({"node_linear": ("node_linear",)}, joined) == {"node_linear": (0, 1, 2)}


def _nchwc_residual_graph():
    """relu(conv2(relu(conv1(x))) + relu(conv1(x))), and ONNX Runtime's NCHWc kernels of it: conv1 with
    its ReLU, conv2 with the residual add as its sum input and the ReLU after it, a layout reorder."""
    original = [
        _onnx("n_conv1", "Conv", ["x", "w1"], ["c1"]),
        _onnx("n_relu1", "Relu", ["c1"], ["r1"]),
        _onnx("n_conv2", "Conv", ["r1", "w2"], ["c2"]),
        _onnx("n_add", "Add", ["c2", "r1"], ["a"]),
        _onnx("n_relu2", "Relu", ["a"], ["r2"]),
    ]
    kernels = [
        KernelNode("ReorderInput", "ReorderInput", ("x",), ("t_x",)),
        KernelNode("r1_nchwc", "Conv", ("t_x", "w1_reordered"), ("t0",), "Relu"),
        KernelNode("c2_nchwc", "Conv", ("t0", "w2_reordered", "", "t0"), ("t1",), "Relu"),
        KernelNode("ReorderOutput_1", "ReorderOutput", ("t1",), ("r2",)),
    ]
    return original, kernels


def test_runtime_kernels_cover_the_nodes_between_what_they_read_and_write():
    original, kernels = _nchwc_residual_graph()
    covered = covered_nodes(original, kernels, {"x", "w1", "w2"})
    assert covered == {
        "ReorderInput": (),
        "r1_nchwc": ("n_conv1", "n_relu1"),
        # named after c2, it also adds the residual (its sum input) and applies the ReLU after the add
        "c2_nchwc": ("n_conv2", "n_add", "n_relu2"),
        "ReorderOutput_1": (),
    }


def test_a_kernel_named_after_a_node_covers_what_that_node_computes():
    original = [
        _onnx("n_conv", "Conv", ["x", "w"], ["c"]),
        _onnx("n_sigmoid", "Sigmoid", ["c"], ["s"]),
        _onnx("node_silu", "Mul", ["c", "s"], ["silu"]),
    ]
    kernels = [
        KernelNode("c_nchwc", "Conv", ("x", "w"), ("t0",)),
        KernelNode("node_silu/QuickGeluFusion/", "QuickGelu", ("t0",), ("silu",)),
    ]
    covered = covered_nodes(original, kernels, {"x", "w"})
    assert covered == {"c_nchwc": ("n_conv",), "node_silu/QuickGeluFusion/": ("n_sigmoid", "node_silu")}


def test_compose_goes_from_kernels_through_nodes_to_ops():
    assert compose({"k": ("a", "b"), "empty": ()}, {"a": (3, 1), "b": (2,)}) == {"k": (1, 2, 3), "empty": ()}


def _kernel(name, op_ids, worker, fused=True):
    return KernelTiming(name, "Conv", "cpu", Measurement.of([1e-3], 1), op_ids, fused, worker)


def test_fusion_says_whether_a_findings_ops_vanish():
    fusion = Fusion("onnxruntime", {2: "k1", 3: "k1", 7: "k2"})
    said, evidence = fusion.describe([2, 3])
    assert said == "; on onnxruntime: vanishes into fused kernels (k1)"
    assert evidence == {"runtime": "onnxruntime", "fused_ops": 2, "ops": 2, "fused_into": ["k1"]}
    assert fusion.describe([2, 5])[0] == "; on onnxruntime: 1 of its 2 ops fused away"
    assert fusion.describe([5])[0] == "; on onnxruntime: still runs as kernels of its own"


def test_fused_into_lists_every_op_but_the_worker_of_fused_kernels_only():
    from netprof.timing.attribution import Timing

    kernels = (
        _kernel("k1", (0, 1, 2), 0),
        _kernel("k2", (3,), 3, fused=False),
        _kernel("reorder", (), None, False),
    )
    timing = Timing.__new__(Timing)
    object.__setattr__(timing, "kernels", kernels)
    assert timing.fused_into == {1: "k1", 2: "k1"}


class _Precision:
    def __init__(self, name):
        self.name = name

    def get_type_name(self):
        return self.name


class _CompiledModel:
    def __init__(self, precision):
        self.precision = precision

    def get_property(self, key):
        assert key == "INFERENCE_PRECISION_HINT"
        return _Precision(self.precision)


@pytest.mark.parametrize(("precision", "said"), [("f32", False), ("bf16", True), ("f16", True)])
def test_openvino_says_when_it_computed_in_a_lower_precision_than_float32(precision, said):
    from netprof.runtimes.openvino import OpenVino

    backend = object.__new__(OpenVino)  # no OpenVINO session: only the compiled model's property is read
    backend._profiled_model = _CompiledModel(precision)
    notes = backend.notes()
    assert bool(notes) == said
    if said:
        assert f"in {precision}" in notes[0] and "not in float32" in notes[0]
