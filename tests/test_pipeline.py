"""The pipeline (workloads, Result) and the CLI's one error family: NetprofError -> exit 2, else 3."""

import contextlib
import textwrap

import pytest
import torch
from cli_runner import run as run_cli
from torch import nn

import netprof
from netprof import pipeline
from netprof.capture.workload import Forward, as_workload
from netprof.errors import NetprofError


class Scaled(nn.Module):
    """``linear(x) * scale``: ``scale`` only reaches the model as a keyword argument."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x, *, scale=None):
        y = self.linear(x)
        return y if scale is None else y * scale


def test_a_tuple_and_a_tensor_are_forward_workloads():
    x = torch.randn(2, 8)
    assert as_workload(x) == Forward((x,))
    assert as_workload((x, x)) == Forward((x, x))
    workload = Forward((x,), {"scale": x})
    assert as_workload(workload) is workload


@pytest.mark.parametrize("mode", ["meta", "fake", "real"])
def test_keyword_arguments_reach_the_model_in_every_capture_mode(mode):
    x = torch.randn(2, 8)
    plain = pipeline.analyze(Scaled(), Forward((x,)), mode=mode)
    scaled = pipeline.analyze(Scaled(), Forward((x,), {"scale": torch.randn(2, 4)}), mode=mode)
    # The keyword adds one mul of 2x4 outputs: 8 flops, and 3 tensors of 2*4*4 bytes = 96 bytes moved.
    assert scaled.totals.flops - plain.totals.flops == 8
    assert scaled.totals.mem_access_bytes - plain.totals.mem_access_bytes == 3 * 2 * 4 * 4
    # linear: 2 rows x 8 in x 4 out = 64 mult_adds, with or without the keyword.
    assert scaled.totals.mult_adds == plain.totals.mult_adds == 64
    assert len(scaled.inputs) == 2  # both tensors, positional and keyword, are the analysis's inputs


class TwoPasses:
    """A workload other than Forward: two forward passes, the second on the first's output."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    @property
    def inputs(self):
        return self.x

    @contextlib.contextmanager
    def mode(self, model):
        with torch.no_grad():
            model.eval()
            yield

    def run(self, model, inputs):
        return model(model(inputs))

    def to(self, device):
        return TwoPasses(self.x.to(device))


def test_any_workload_is_captured_and_timed_as_given():
    model = nn.Linear(8, 8)
    once = pipeline.analyze(model, torch.randn(3, 8))
    result = pipeline.run(model, TwoPasses(torch.randn(3, 8)), timing=netprof.TimingOptions(repeat=2))
    assert result.analysis.totals.mult_adds == 2 * once.totals.mult_adds == 2 * 3 * 8 * 8
    assert result.timing is not None and len(result.timing.ops) == len(result.analysis.ops)
    assert set(result.op_seconds) == {op.id for op in result.analysis.ops}
    assert all(seconds >= 0 for seconds in result.op_seconds.values())


def test_an_untimed_result_has_no_op_seconds_and_the_model_is_unchanged():
    model = Scaled()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = netprof.run(model, torch.randn(2, 8), crosscheck=True)
    assert result.timing is None and result.op_seconds is None
    assert result.crosscheck is not None and result.crosscheck.rows
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert model.training  # the capture's eval() was undone


def test_crosscheck_refuses_keyword_arguments_loudly():
    with pytest.raises(NetprofError, match="positional arguments only"):
        netprof.run(Scaled(), Forward((torch.randn(2, 8),), {"scale": 2.0}), crosscheck=True)


def test_timing_refuses_a_capture_mode_without_data():
    with pytest.raises(netprof.CaptureError, match="cannot be timed"):
        netprof.run(Scaled(), torch.randn(2, 8), mode="meta", timing=netprof.TimingOptions(repeat=1))


BROKEN_PLUGIN = """
class Broken:
    id = "X900"
    title = "broken"
    default_severity = "warning"
    default_options = {}

    def check(self, context, options):
        raise ValueError("a bug in the plugin")

RULE = Broken()
"""


def test_a_rule_that_raises_is_a_user_error_naming_the_rule(tmp_path, monkeypatch, capsys):
    (tmp_path / "np_broken_plugin.py").write_text(textwrap.dedent(BROKEN_PLUGIN))
    (tmp_path / "pyproject.toml").write_text('[tool.netprof]\nplugins = ["np_broken_plugin:RULE"]\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "check", "netprof.zoo:squeezenet1_1")
    assert code == 2
    assert err.strip() == (
        "netprof: error: rule X900 (np_broken_plugin:RULE) raised ValueError: a bug in the plugin; "
        "disable it with --ignore-rules X900"
    )


def test_an_unknown_plugin_is_a_user_error(capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.netprof]\nplugins = ["no_such_module_xyz:RULE"]\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "check", "netprof.zoo:squeezenet1_1")
    assert code == 2 and "rule plugin 'no_such_module_xyz:RULE'" in err
    assert "Traceback" not in err


def test_an_error_outside_the_family_is_an_internal_error(capsys, monkeypatch):
    def crash(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(pipeline, "run_loaded", crash)
    code, _, err = run_cli(capsys, "analyze")
    assert code == 3
    assert (
        err.strip() == "netprof: internal error: ZeroDivisionError: boom (rerun with --debug and report it)"
    )


class MaskedScores(nn.Module):
    """A Swin-like block: a mask built from a buffer and the input's shape, added to scores of the input."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.register_buffer("index", torch.arange(16).view(4, 4))

    def forward(self, x):
        mask = x.new_zeros(4, 4).masked_fill(self.index > 7, -100.0)
        scores = self.proj(x) + mask
        return scores * torch.rand_like(mask)


@pytest.mark.parametrize("mode", ["meta", "fake", "real"])
def test_what_reads_only_parameters_buffers_and_shapes_is_constant(mode):
    analysis = pipeline.analyze(MaskedScores(), torch.randn(4, 4), mode=mode)
    constant = {op.op.split(".")[1] for op in analysis.ops if op.constant}
    varying = {op.op.split(".")[1] for op in analysis.ops if not op.constant}
    # new_zeros reads x's shape, gt the buffer, masked_fill both, t the weight: a runtime folds them
    assert {"new_zeros", "gt", "masked_fill", "t"} <= constant
    # the layer and the add read x; rand_like is random, so what it feeds varies too
    assert {"addmm", "add", "rand_like", "mul"} <= varying
    assert not constant & varying
