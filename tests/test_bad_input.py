"""The bad-input corpus: every way a user can hand netprof something unusable, across the commands.

Each case must exit 2 with exactly one line on stderr that names the cause, print no traceback and
write or change no file (the working directory and the cache are compared before and after).
"""

import logging
import sys
from pathlib import Path

import pytest
from cli_runner import run
from fixtures import hf_configs

from netprof.capture import huggingface

ROOT = Path(__file__).parents[1]
MODELS = f"{ROOT}/tests/fixtures/models.py"
RELIABILITY = f"{ROOT}/tests/fixtures/reliability.py"
LLAMA = f"{ROOT}/examples/llama.py:llama_tiny"

FILES = {
    "bad.toml": "[tool.netprof\nmodels = [",
    "wrong-type.toml": "[tool.netprof]\nmodels = 3\n",
    "unknown-key.toml": "[tool.netprof]\nmodelz = []\n",
    "rule-option.toml": '[tool.netprof.rules.G1]\nmax_ratio = "high"\n',
    "plugin.toml": '[tool.netprof]\nplugins = ["netprof_no_such_plugin:RULE"]\n',
    "corrupt.json": '{"schema": "netprof.analysis/1", "model": ',
    "truncated.json": '{"schema": "netprof.baseline/1", "findings": [{"rule": "G1"',
    "not-an-analysis.json": '{"a": 1}\n',
    "not-a-baseline.json": '{"schema": "netprof.analysis/1"}\n',
    "profile-v0.json": '{"schema": "netprof.profile/0"}\n',
    "profile-corrupt.json": '{"schema": "netprof.profile/1", "kinds": ',
    "a-file": "",
    "zorblax/config.json": '{"model_type": "zorblax"}\n',
    "no-model-type/config.json": '{"hidden_size": 64, "num_hidden_layers": 2}\n',
    # transformers' default DeepSeek-V2 config: 64 routed experts, num_experts_per_tok None
    "deepseek/config.json": '{"model_type": "deepseek_v2"}\n',
    "budget.toml": '[tool.netprof]\nmemory-budget = "lots"\n',
    "budget-twice.toml": '[tool.netprof]\nmemory-budget = "1MiB"\n[tool.netprof.rules.M1]\nbudget_bytes = 4096\n',
    "budget-negative.toml": "[tool.netprof.rules.M1]\nbudget_bytes = -1\n",
}

CASES = [
    # analyze: the SPEC and its builder
    (["analyze", "nosuch.py:build"], "model file not found: nosuch.py"),
    (["analyze", "no-colon"], "bad SPEC 'no-colon'"),
    (["analyze", "netprof_no_such_pkg:build"], "cannot import module 'netprof_no_such_pkg'"),
    (["analyze", "netprof.zoo:nope"], "has no attribute 'nope'"),
    (["analyze", "netprof.zoo:__doc__"], "is not callable"),
    (["analyze", f"{MODELS}:raises"], "raised RuntimeError: cannot build this one"),
    (["analyze", f"{MODELS}:not_a_module"], "returned int, not an nn.Module"),
    (["analyze", f"{MODELS}:broken"], "ValueError: forward is broken"),
    (["analyze", f"{RELIABILITY}:half_built"], "raised ValueError: the builder failed after 3 of 6 layers"),
    (["analyze", "netprof.zoo:shufflenet_v2(scale=__import__('os'))"], "__import__('os') is not a literal"),
    (["analyze", "netprof.zoo:shufflenet_v2(**{'scale': 1})"], "** unpacking is not a literal argument"),
    (["analyze", "netprof.zoo:shufflenet_v2(scale=1.0"], "its builder arguments must end with ')'"),
    (["analyze", "netprof.zoo:shufflenet_v2(scale=)"], "are not valid Python"),
    (["analyze", "netprof.zoo:shufflenet_v2(no_such_argument=1)"], "got an unexpected keyword argument"),
    # analyze: inputs, dtypes, devices, options
    (["analyze", f"{MODELS}:tiny", "--input", "1,4,8,8"], "failed on meta tensors: aten.convolution"),
    (["analyze", f"{MODELS}:tiny", "--input", "1,x"], "bad --input '1,x'"),
    (["analyze", f"{MODELS}:tiny", "--input=1,-3"], "sizes must not be negative"),
    (["analyze", f"{MODELS}:tiny", "--dtype", "float33"], "unknown --dtype 'float33'"),
    (["analyze", f"{MODELS}:tiny", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["analyze", f"{MODELS}:tiny", "--device", "meta", "--time"], "cannot be combined with --device meta"),
    (
        ["analyze", f"{MODELS}:tiny", "--plot", "charts"],
        "--plot charts measured times (add --time) or memory",
    ),
    (["analyze", f"{MODELS}:tiny", "-o", "a-file/report.txt"], "cannot write a-file/report.txt"),
    (["analyze", f"{MODELS}:tiny", "--timeout", "0"], "expected a positive float"),
    (["analyze", f"{MODELS}:tiny", "--depth", "deep"], "invalid int value: 'deep'"),
    (["analyze", f"{MODELS}:tiny", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["analyze", f"{RELIABILITY}:wide_wrong_input", "--device", "fake"], "failed on fake tensors"),
    # analyze: prefill and decode (language models)
    (["analyze", "netprof.zoo:shufflenet_v2", "--decode", "4"], "--decode needs a KV cache: ShuffleNetV2"),
    (
        ["analyze", LLAMA, "--decode", "4", "--peak-tflops", "100"],
        "--peak-tflops and --bandwidth-gbs go together",
    ),
    (["analyze", LLAMA, "--decode", "4", "--time"], "--time and --crosscheck analyze one forward pass"),
    (["analyze", LLAMA, "--decode", "4", "--input", "1,8"], "use --batch and --prefill, not --input"),
    (["analyze", LLAMA, "--prefill", "0"], "expected a positive int"),
    (["analyze", f"{MODELS}:tiny", "--peak-tflops", "100", "--bandwidth-gbs", "900"], "use netprof predict"),
    # analyze --train and --memory
    (["analyze", f"{MODELS}:frozen", "--train"], "has no trainable parameter: nothing to train"),
    (
        ["analyze", f"{MODELS}:returns_no_tensor", "--train"],
        "the forward returned int, no floating-point tensor",
    ),
    (["analyze", f"{MODELS}:tiny", "--train", "--optimizer", "lion"], "invalid choice: 'lion'"),
    (["analyze", f"{MODELS}:tiny", "--train", "--loss", "hinge"], "invalid choice: 'hinge'"),
    (["analyze", f"{MODELS}:tiny", "--train", "--time"], "do not combine with --train"),
    (
        ["analyze", f"{MODELS}:tiny", "--runtime", "onnxruntime", "--device", "meta"],
        "cannot be combined with --device meta",
    ),
    (["analyze", f"{MODELS}:tiny", "--runtime", "openvino", "--device", "cuda"], "runs on the CPU"),
    (["analyze", f"{MODELS}:tiny", "--runtime", "onnxruntime", "--train"], "do not combine with --train"),
    (
        ["analyze", f"{MODELS}:data_dependent", "--runtime", "onnxruntime", "--repeat", "1"],
        "could not export the model: GuardOnDataDependentSymNode",
    ),
    (["check", f"{MODELS}:tiny", "--runtime", "nosuch"], "invalid choice: 'nosuch'"),
    (["analyze", LLAMA, "--decode", "4", "--memory"], "--train and --memory count one pass or step"),
    # check: configuration, baselines, rules
    (["check", f"{MODELS}:tiny", "--config", "bad.toml"], "bad.toml: invalid TOML"),
    (["check", f"{MODELS}:tiny", "--config", "wrong-type.toml"], "models"),
    (["check", f"{MODELS}:tiny", "--config", "unknown-key.toml"], "modelz"),
    (["check", f"{MODELS}:tiny", "--config", "rule-option.toml"], "max_ratio"),
    (["check", f"{MODELS}:tiny", "--config", "plugin.toml"], "rule plugin 'netprof_no_such_plugin:RULE'"),
    (["check", f"{MODELS}:tiny", "--config", "missing.toml"], "missing.toml"),
    (["check", f"{MODELS}:tiny", "--select", "G9"], "G9"),
    (["check", f"{MODELS}:tiny", "--baseline", "corrupt.json"], "corrupt.json: invalid JSON"),
    (["check", f"{MODELS}:tiny", "--baseline", "truncated.json"], "truncated.json: invalid JSON"),
    (["check", f"{MODELS}:tiny", "--baseline", "missing.json"], "missing.json"),
    (["check", f"{MODELS}:tiny", "--baseline", "not-a-baseline.json"], "not-a-baseline.json"),
    (["check", f"{MODELS}:tiny", "--fail-on", "fatal"], "invalid choice: 'fatal'"),
    (["check", f"{MODELS}:tiny", "--write-baseline", "a-file/base.json"], "a-file/base.json"),
    (["check", f"{MODELS}:tiny", "--predict", "profile-v0.json"], "schema 'netprof.profile/0'"),
    # diff
    (["diff", "missing.json", "corrupt.json"], "file not found: missing.json"),
    (["diff", "corrupt.json", "corrupt.json"], "corrupt.json: invalid JSON"),
    (["diff", "truncated.json", "not-an-analysis.json"], "truncated.json: invalid JSON"),
    (["diff", "not-an-analysis.json", "not-an-analysis.json"], "not-an-analysis.json"),
    (["diff", ".", "."], "."),
    # compare and plot
    (["compare", "nosuch.py:build", f"{MODELS}:tiny"], "model file not found: nosuch.py"),
    (["compare", f"{MODELS}:tiny", f"{MODELS}:tiny", "--repeat", "0"], "expected a positive int"),
    (["plot", "no-colon"], "bad SPEC 'no-colon'"),
    (["plot", f"{MODELS}:tiny", "--kind", "pie"], "invalid choice: 'pie'"),
    (["plot", f"{MODELS}:tiny", "--repeat", "1", "-o", "a-file/charts"], "cannot write a-file/charts"),
    # calibrate, predict, explain
    (["calibrate", "--threads", "0"], "expected a positive int"),
    (["calibrate", "--budget", "-1"], "expected a positive float"),
    (["predict", f"{MODELS}:tiny", "--threads", "1"], "no device profile for cpu with 1 thread(s)"),
    (
        ["predict", f"{MODELS}:tiny", "--profile", "profile-corrupt.json"],
        "profile-corrupt.json: invalid JSON",
    ),
    (["predict", f"{MODELS}:tiny", "--profile", "profile-v0.json"], "schema 'netprof.profile/0'"),
    (["predict", f"{MODELS}:tiny", "--profile", "missing.json"], "profile file not found: missing.json"),
    (["explain", "G99"], "unknown rule 'G99'"),
    # check --memory-budget and [tool.netprof] memory-budget (rule M1)
    (["check", f"{MODELS}:tiny", "--memory-budget", "256KX"], "expected a size such as 256KiB, 512KB"),
    (["check", f"{MODELS}:tiny", "--memory-budget", "0"], "--memory-budget: expected a size"),
    (["check", f"{MODELS}:tiny", "--memory-budget=-1KiB"], "got '-1KiB'"),
    (["check", f"{MODELS}:tiny", "--memory-budget", "1.5B"], "got '1.5B'"),
    (["check", f"{MODELS}:tiny", "--memory-budget", "256 K"], "got '256 K'"),
    (["check", f"{MODELS}:tiny", "--memory-budget"], "--memory-budget: expected one argument"),
    (["check", f"{MODELS}:tiny", "--config", "budget.toml"], "tool.netprof.memory-budget: expected a size"),
    (["check", f"{MODELS}:tiny", "--config", "budget-twice.toml"], "budget_bytes sets it too; keep one"),
    (["check", f"{MODELS}:tiny", "--config", "budget-negative.toml"], "'budget_bytes' must be positive"),
]


# hf: specs: transformers reads the configs (the tiny Llama and BERT ones are written per test).
HF_CASES = [
    (["analyze", "hf:/nonexistent"], "no Hugging Face config at /nonexistent"),
    (["analyze", "hf:zorblax"], "does not know the architecture 'zorblax'"),
    (["analyze", "hf:no-model-type"], "no-model-type/config.json has no model_type"),
    (["analyze", "hf:bert", "--decode", "4"], "--decode needs a KV cache: BertModel"),
    (["analyze", "hf:llama", "--hf-class", "NotAClass"], "unknown --hf-class 'NotAClass'"),
    (["analyze", "hf:deepseek", "--prefill", "8"], "has 64 experts but num_experts_per_tok is unset (None)"),
]


# netprof bugs, reported: huggingface._dtype reads the deprecated config.torch_dtype, and for a model that
# returns no cache serving.cache.cache_of reads the deprecated output.past_key_values, so transformers logs
# two deprecation warnings on stderr before the error line.
def _params(cases):
    ids = [" ".join(argv)[:60] for argv, _ in cases]
    return [pytest.param(*case, id=id_) for case, id_ in zip(cases, ids)]


def _snapshot(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime) for p in sorted(root.rglob("*"))}


def _assert_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch, setup=lambda root: None):
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = _snapshot(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_no_file(argv, message, capsys, tmp_path, monkeypatch):
    _assert_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch)


def _hf_configs(root: Path) -> None:
    hf_configs.save_llama(root / "llama")
    hf_configs.save_bert(root / "bert")


class _ToStderr(logging.Handler):
    """A log record as one line on whatever ``sys.stderr`` is when it is emitted (the test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


@pytest.fixture
def transformers_warnings():
    """transformers' warnings as a fresh ``netprof`` process prints them: on stderr, each once (in a test
    session they would go to the stream of whichever test configured transformers first, once a session)."""
    hf_logging = pytest.importorskip(
        "transformers.utils.logging", reason="the hf extra: pip install 'netprof[hf]'"
    )
    logging.Logger.warning_once.cache_clear()
    handler = _ToStderr()
    hf_logging.disable_default_handler()
    hf_logging.add_handler(handler)
    yield
    hf_logging.remove_handler(handler)
    hf_logging.enable_default_handler()


@pytest.mark.hf
@pytest.mark.parametrize(("argv", "message"), _params(HF_CASES))
def test_bad_hf_input_is_one_line_exit_2_and_changes_no_file(
    argv, message, capsys, tmp_path, monkeypatch, transformers_warnings
):
    _assert_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch, setup=_hf_configs)


INSTALL = "hf: specs need the transformers package: pip install 'netprof[hf]'"


def test_without_transformers_an_hf_spec_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # ``import transformers`` now fails
    with pytest.raises(huggingface.HFError) as raised:
        huggingface.transformers_module()
    assert str(raised.value) == INSTALL
    _assert_one_line_exit_2(["analyze", "hf:llama", "--decode", "4"], INSTALL, capsys, tmp_path, monkeypatch)


def test_the_corpus_is_at_least_forty_cases_across_the_commands():
    commands = {argv[0] for argv, _ in CASES}
    assert len(CASES) >= 40
    assert {"analyze", "check", "diff", "compare", "plot", "calibrate", "predict"} <= commands


@pytest.mark.parametrize(
    ("runtime", "module", "extra"),
    [
        ("onnxruntime", "onnxruntime", "onnx"),
        ("openvino", "openvino", "openvino"),
        ("executorch", "executorch", "executorch"),
    ],
)
def test_without_the_runtime_package_runtime_says_how_to_install_it(
    runtime, module, extra, capsys, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, module, None)  # ``import onnxruntime`` now fails
    install = f"pip install 'netprof[{extra}]'"
    for command in ("analyze", "check"):
        _assert_one_line_exit_2(
            [command, f"{MODELS}:tiny", "--runtime", runtime], install, capsys, tmp_path, monkeypatch
        )
