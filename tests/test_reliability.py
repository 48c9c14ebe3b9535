"""Issue 11's defects as regression tests: errors found without data are reported at once, auto builds on
meta first, a real run that would not fit is refused, and PyTorch's own log stays quiet."""

import sys

import pytest
from cli_runner import run as run_cli

from netprof import pipeline
from netprof.capture.run import CaptureError

FIXTURES = "tests/fixtures/reliability.py"


@pytest.fixture
def built_on():
    """Where the last SPEC import of the fixture file built its models (the loader imports the file anew
    each time, as ``_netprof_user_reliability``)."""

    def devices() -> list[str]:
        module = sys.modules.get("_netprof_user_reliability")
        return list(module.BUILT_ON) if module else []

    return devices


def test_a_shape_error_found_on_meta_is_reported_at_once_without_a_real_build(capsys, built_on):
    code, out, err = run_cli(capsys, "analyze", f"{FIXTURES}:wide_wrong_input")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        (
            "netprof: error: the forward pass failed on meta tensors: aten.addmm.default in module '0' on "
            "200, 1x201, 200x200 float32 raised RuntimeError: a and b must have same reduction dim, but got "
            "[1, 201] X [200, 200]."
        )
    ]
    assert built_on() == ["meta"]  # never built for real


def test_auto_builds_on_meta_first(capsys, built_on):
    code, _, _ = run_cli(capsys, "analyze", f"{FIXTURES}:wide", "--format", "json")
    assert code == 0 and built_on() == ["meta"]


def test_a_model_that_needs_data_gets_a_real_build_when_it_fits():
    loaded, result = pipeline.load_and_run(f"{FIXTURES}:needs_data", available=lambda: 10**12)
    assert result.analysis.mode == "real"
    assert any("Tensor.item() cannot be called on meta tensors" in note for note in result.analysis.notes)
    assert not loaded.model.linear.weight.is_meta


def test_a_model_that_needs_data_and_would_not_fit_is_refused_with_both_numbers():
    # (2000 x 2000 + 2000) floats x 4 bytes = 16.008 MB of weights, twice = 32.016 MB, against 10 MB free.
    with pytest.raises(CaptureError) as refused:
        pipeline.load_and_run(f"{FIXTURES}:needs_data", available=lambda: 10_000_000)
    message = str(refused.value)
    assert "a real run would need 32.02 MB (the model's 16.01 MB of weights" in message
    assert "and 10.00 MB is available: refused" in message
    assert "--device meta" in message and "Tensor.item()" in message


def test_the_refusal_reaches_the_command_line_as_one_line(capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "available_memory", lambda: 1_000)
    code, out, err = run_cli(capsys, "analyze", f"{FIXTURES}:needs_data")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "refused" in err and "--device meta" in err


def test_pytorch_logs_nothing_of_its_own_on_a_fake_shape_error(capfd):
    from netprof.cli import main

    code = main(["analyze", f"{FIXTURES}:wide_wrong_input", "--device", "fake"])
    captured = capfd.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        line for line in captured.err.strip().splitlines() if line.startswith("netprof: error:")
    ]
    assert len(captured.err.strip().splitlines()) == 1 and "fake_tensor.py" not in captured.err
