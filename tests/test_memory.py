"""Memory at the peak, by kind, worked out by hand for an MLP and a small CNN: inference, SGD and AdamW.

float32 throughout: 4 bytes an element. A storage is live from the op that makes it
to the last op before its last tensor dies (``netprof.capture.lifetimes``); the
training step is a steady-state one (the optimizer's state exists before it).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch
from cli_runner import run
from torch import nn

from netprof import pipeline
from netprof.capture.workload import TrainingError, TrainStep

F32 = 4
SCHEMA = Path(__file__).resolve().parents[1] / "netprof" / "report" / "analysis.schema.json"


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    )


MLP_PARAMS = (8 * 16 + 16 + 16 * 4 + 4) * F32  # 848
MLP_INPUT = 2 * 8 * F32  # 64
CNN_PARAMS = (4 * 3 * 3 * 3 + 4 + 4 * 2 + 2) * F32  # 488
CNN_INPUT = 2 * 3 * 8 * 8 * F32  # 1536
CNN_MAP = 2 * 4 * 8 * 8 * F32  # one 2x4x8x8 feature map: 2048


def memory(model: nn.Module, workload, mode: str = "meta"):
    analysis = pipeline.analyze(model, workload, mode=mode, memory=True)
    return analysis, analysis.memory


def test_mlp_inference_peaks_at_the_relu_with_its_input_and_output_live():
    analysis, peak = memory(mlp(), (torch.randn(2, 8),))
    # At the ReLU both the first Linear's output [2, 16] and the ReLU's output [2, 16] are live.
    assert analysis.ops[peak.peak_op].op == "aten.relu.default"
    assert peak.at_peak == {
        "parameters": MLP_PARAMS,
        "buffers": 0,
        "gradients": 0,
        "optimizer_state": 0,
        "inputs": MLP_INPUT,
        "activations": 2 * (2 * 16 * F32),
        "temporaries": 0,
    }
    assert peak.peak_bytes == 848 + 64 + 256
    assert peak.activations_by_module == {"0": 128, "1": 128}


def test_mlp_sgd_step_peaks_when_the_last_gradient_is_made():
    analysis, peak = memory(mlp(), TrainStep((torch.randn(2, 8),), optimizer="sgd"))
    # The first layer's bias gradient is the last one backward makes: every gradient is live then, with
    # SGD's momentum (one buffer per parameter), the loss (a 4-byte scalar), the loss's seed gradient (4 B)
    # and the ReLU's input gradient [2, 16] (128 B), which the first layer's weight and bias gradients read.
    assert analysis.phase_of(peak.peak_op) == "backward"
    assert peak.at_peak == {
        "parameters": MLP_PARAMS,
        "buffers": 0,
        "gradients": MLP_PARAMS,
        "optimizer_state": MLP_PARAMS,
        "inputs": MLP_INPUT,
        "activations": 4,
        "temporaries": 128 + 4,
    }


def test_mlp_adamw_step_peaks_in_the_update_of_the_largest_parameter():
    analysis, peak = memory(mlp(), TrainStep((torch.randn(2, 8),), optimizer="adamw"))
    # AdamW keeps two moments per parameter and a 4-byte step count per parameter tensor (4 tensors).
    # Updating the first weight [16, 8] (512 B), the single-tensor AdamW holds sqrt(exp_avg_sq) and its
    # quotient by the bias correction: two 512-byte temporaries.
    assert analysis.phase_of(peak.peak_op) == "optimizer"
    assert peak.at_peak == {
        "parameters": MLP_PARAMS,
        "buffers": 0,
        "gradients": MLP_PARAMS,
        "optimizer_state": 2 * MLP_PARAMS + 4 * 4,
        "inputs": MLP_INPUT,
        "activations": 4,
        "temporaries": 2 * 16 * 8 * F32,
    }


def test_cnn_inference_peaks_with_two_feature_maps_live():
    analysis, peak = memory(cnn(), (torch.randn(2, 3, 8, 8),))
    assert analysis.ops[peak.peak_op].op == "aten.relu.default"
    assert peak.at_peak["activations"] == 2 * CNN_MAP
    assert peak.peak_bytes == CNN_PARAMS + CNN_INPUT + 2 * CNN_MAP


@pytest.mark.parametrize(("optimizer", "state"), [("sgd", CNN_PARAMS), ("adamw", 2 * CNN_PARAMS + 4 * 4)])
def test_cnn_training_step_peaks_in_the_relu_backward(optimizer, state):
    analysis, peak = memory(cnn(), TrainStep((torch.randn(2, 3, 8, 8),), optimizer=optimizer))
    # At threshold_backward: the ReLU output saved for it (2048 B) and the loss (4 B) are activations; the
    # pooling's gradient spread back over the map (2048 B), the ReLU's input gradient it makes (2048 B)
    # and the seed gradient (4 B) are temporaries; only the Linear's gradients (8 + 2 floats) exist yet.
    assert analysis.ops[peak.peak_op].op == "aten.threshold_backward.default"
    assert peak.at_peak == {
        "parameters": CNN_PARAMS,
        "buffers": 0,
        "gradients": (4 * 2 + 2) * F32,
        "optimizer_state": state,
        "inputs": CNN_INPUT,
        "activations": CNN_MAP + 4,
        "temporaries": 2 * CNN_MAP + 4,
    }
    assert peak.peak_module == "1"


def test_fake_and_real_runs_see_the_same_lifetimes_as_meta():
    step = TrainStep((torch.randn(2, 3, 8, 8),), optimizer="adamw")
    peaks = {mode: memory(cnn(), step, mode)[1] for mode in ("meta", "fake", "real")}
    assert peaks["meta"].at_peak == peaks["fake"].at_peak == peaks["real"].at_peak


def test_phases_split_the_step_and_backward_ops_belong_to_their_module():
    analysis, _ = memory(mlp(), TrainStep((torch.randn(2, 8),)))
    assert [name for name, _ in analysis.phases] == ["forward", "backward", "optimizer"]
    backward = [op for op in analysis.ops if analysis.phase_of(op.id) == "backward"]
    # The weight gradients: [4, 16] = grad_out^T [4, 2] @ relu [2, 16]; [16, 8] = [16, 2] @ x [2, 8].
    products = {op.module: op.mult_adds for op in backward if op.op == "aten.mm.default" and op.module != "2"}
    assert products == {"0": 16 * 2 * 8}
    assert {op.module for op in backward if op.op == "aten.threshold_backward.default"} == {"1"}
    totals = analysis.phase_totals()
    # Forward: 2x8x16 + 2x16x4 = 384; backward: grad input 2x4x16 and grad weights 4x2x16 + 16x2x8 = 640.
    assert totals["forward"].mult_adds == 384
    assert totals["backward"].mult_adds == 128 + 128 + 256
    assert totals["optimizer"].mult_adds == 0


def test_the_user_model_keeps_its_gradients_and_weights():
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    memory(model, TrainStep((torch.randn(2, 8),), optimizer="adamw"), mode="real")
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert model.training


def test_training_errors_are_one_clear_line(capsys):
    with pytest.raises(TrainingError, match="^unknown optimizer 'lion'"):
        TrainStep(optimizer="lion")
    frozen = mlp().requires_grad_(False)
    with pytest.raises(TrainingError, match="^Sequential has no trainable parameter: nothing to train$"):
        pipeline.analyze(frozen, TrainStep((torch.randn(2, 8),)), mode="meta")
    models = "tests/fixtures/models.py"
    for argv, message in (
        ([f"{models}:frozen", "--train"], "Sequential has no trainable parameter: nothing to train"),
        (
            [f"{models}:tiny", "--train", "--time"],
            "--time and --crosscheck run one forward pass: they do not combine with --train",
        ),
    ):
        code, out, err = run(capsys, "analyze", *argv)
        assert (code, out, err.splitlines()) == (2, "", [f"netprof: error: {message}"])


def test_analyze_train_memory_json(capsys, tmp_path):
    source = tmp_path / "net.py"
    source.write_text(
        "import torch\nfrom torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), torch.randn(2, 8)\n"
    )
    code, out, _ = run(capsys, "analyze", f"{source}:build", "--train", "--memory", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert set(document["phases"]) == {"forward", "backward", "optimizer"}
    assert document["phases"]["forward"]["mult_adds"] == 384
    assert {op["phase"] for op in document["ops"]} == {"forward", "backward", "optimizer"}
    assert document["memory"]["at_peak"]["optimizer_state"] == MLP_PARAMS
    assert document["memory"]["peak_bytes"] == sum(document["memory"]["at_peak"].values())
    assert len(document["memory"]["timeline"]["activations"]) == len(document["ops"])
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_unsafe_view_shares_its_input_storage_on_meta_every_time():
    # [4, 100, 256] in, the same out: the input (102,400 floats), the weight (65,536) and the mm's output
    # (102,400), whose _unsafe_view back to 3-D is the same storage. Captured twice: the second capture
    # must not cache the view as a fresh tensor.
    model, x = nn.Linear(256, 256, bias=False), torch.randn(4, 100, 256)
    expected = (4 * 100 * 256 + 256 * 256 + 4 * 100 * 256) * F32
    assert [memory(model, (x,))[1].peak_bytes for _ in range(2)] == [expected, expected]


def test_a_module_that_returns_its_input_takes_no_backward_ops():
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Dropout(0.0), nn.Linear(32, 4), nn.Dropout(0.0))
    analysis, _ = memory(model, TrainStep((torch.randn(8, 16),)))
    backward = [op for op in analysis.ops if analysis.phase_of(op.id) == "backward"]
    assert {op.module for op in backward if op.op == "aten.mm.default"} == {"0", "3"}
    assert {op.module for op in backward if op.op == "aten.gelu_backward.default"} == {"1"}
