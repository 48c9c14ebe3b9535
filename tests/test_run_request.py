"""One run request, one format registry: every format of every command works for every kind of analysis,
or is refused in one line; every combination no run can honour is refused before anything is built."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runner import run
from fixtures import hf_configs

from netprof import pipeline
from netprof.capture.run import CaptureError
from netprof.capture.workload import TrainingError, TrainStep
from netprof.config import Config
from netprof.report import formats
from netprof.serving import Roofline, analyze_generation
from netprof.serving.cache import DecodeError
from netprof.timing.run import TimingOptions

ROOT = Path(__file__).parents[1]
TINY = f"{ROOT}/tests/fixtures/models.py:tiny"


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
    return hf_configs.save_llama(tmp_path_factory.mktemp("hf") / "llama")


# What each kind of analysis adds to a report, and a phrase that shows it in the table, Markdown and HTML.
KINDS = {
    "forward": ((), "mult_adds"),
    "training step": (("--train", "--optimizer", "adamw"), "Training step by phase"),
    "memory": (("--memory",), "peak"),
}


@pytest.mark.parametrize("form", formats.names("analyze"))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_analyze_format_shows_every_kind_of_analysis(capsys, tmp_path, form, kind):
    flags, phrase = KINDS[kind]
    path = tmp_path / f"report.{form}"
    code, _, err = run(capsys, "analyze", TINY, *flags, "--format", form, "-o", str(path))
    assert code == 0, err
    text = path.read_text()
    if form == "json":
        document = json.loads(text)
        assert document["totals"]["mult_adds"] > 0
        if kind == "training step":
            assert {op["phase"] for op in document["ops"]} >= {"forward", "backward", "optimizer"}
        if kind == "memory":
            assert document["memory"]["peak_bytes"] > 0
    else:
        assert phrase.lower() in text.lower()


@pytest.mark.hf
@pytest.mark.parametrize("form", formats.names("analyze"))
def test_prefill_and_decode_in_every_format(capsys, tmp_path, llama_dir, form):
    """``--format html`` used to be ignored for prefill and decode (a text table was written)."""
    path = tmp_path / f"report.{form}"
    argv = [
        "analyze",
        f"hf:{llama_dir}",
        "--prefill",
        "8",
        "--decode",
        "4",
        "--format",
        form,
        "-o",
        str(path),
    ]
    code, _, err = run(capsys, *argv, "--peak-tflops", "100", "--bandwidth-gbs", "1000")
    assert code == 0, err
    text = path.read_text()
    if form == "json":
        document = json.loads(text)
        assert [phase["name"] for phase in document["phases"]] == ["prefill", "decode"]
        assert [phase["uncounted_ops"] for phase in document["phases"]] == [0, 0]  # every captured pass
        assert document["serving"]["time_per_output_token_s"] > 0
    elif form == "html":
        assert text.startswith("<!doctype html>")
        assert "<h2>Prefill and decode</h2>" in text
        assert "decode, 4 steps" in text and "first step (context 9)" in text
        assert "The device&#x27;s ridge point is 100 flop/byte" in text
        assert text.count("<svg") >= 1  # the per-token decode chart
    else:
        assert "prefill" in text and "decode, 4 steps" in text
        assert "ridge point is 100 flop/byte" in text


def test_a_format_a_command_does_not_write_is_one_line():
    with pytest.raises(
        formats.FormatError, match=r"^netprof diff cannot write --format html: it writes table, "
    ):
        formats.render("diff", "html", [])


def test_every_command_format_is_its_argparse_choice(capsys):
    code, _, err = run(capsys, "diff", "a.json", "b.json", "--format", "sarif")
    assert code == 2
    assert "invalid choice: 'sarif' (choose from 'table', 'markdown', 'json')" in err


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (pipeline.RunRequest(TINY, device="gpu"), CaptureError, "unknown device 'gpu'"),
        (pipeline.RunRequest(TINY, device="meta", timing=TimingOptions()), CaptureError, "--device meta"),
        (pipeline.RunRequest(TINY, train=TrainStep(), crosscheck=True), TrainingError, "--train"),
        (pipeline.RunRequest(TINY, generation=pipeline.Generate(), memory=True), TrainingError, "--prefill"),
        (
            pipeline.RunRequest(TINY, generation=pipeline.Generate(), timing=TimingOptions()),
            DecodeError,
            "--time",
        ),
        (
            pipeline.RunRequest(TINY, input_shapes=[(1, 3)], generation=pipeline.Generate()),
            DecodeError,
            "--input",
        ),
    ],
)
def test_a_request_no_run_can_honour_is_refused_in_one_line(request_, error, message):
    with pytest.raises(error, match=re.escape(message)) as raised:
        pipeline.execute(request_)
    assert "\n" not in str(raised.value)


def test_prefill_and_decode_go_through_the_pipeline():
    """``execute`` with ``generation`` counts exactly what ``analyze_generation`` counts on the same model."""
    request = pipeline.RunRequest(
        f"{ROOT}/examples/llama.py:llama_tiny", generation=pipeline.Generate(2, 8, 3, Roofline(100e12, 1e12))
    )
    result = pipeline.execute(request)
    loaded, _ = pipeline.load_on_meta(f"{ROOT}/examples/llama.py:llama_tiny", [(2, 8)])
    direct = analyze_generation(loaded.model, batch=2, prefill=8, decode=3)
    assert result.generation is not None and result.serving is not None
    assert result.generation.phases == direct.phases
    assert result.analysis.totals == direct.prefill_analysis.totals
    assert result.serving.roofline == Roofline(100e12, 1e12)


def test_rules_run_in_the_same_request():
    result = pipeline.execute(pipeline.RunRequest("netprof.zoo:shufflenet_v1_g3", rules=Config()))
    assert result.findings is not None
    assert {finding.rule for finding in result.findings} >= {"G2"}  # grouped 1x1 convolutions, g=3


def test_the_package_picks_reporters_in_one_place():
    """Reporters are looked up in ``report/formats.py``, not chosen by ``if format == ...`` chains."""
    sources = (ROOT / "netprof").rglob("*.py")
    comparisons = [path for path in sources if re.search(r"\bformat\s*[!=]=", path.read_text())]
    assert comparisons == []


def test_no_reporter_module_outside_report():
    """Every module that renders a report (rich tables of results, Markdown, JSON documents) is in
    ``netprof/report``: the modules whose names say so elsewhere are gone."""
    package = ROOT / "netprof"
    assert [p for p in package.rglob("report*.py") if p.parent.name != "report"] == []
    assert [p for p in package.rglob("trace.py") if p.parent.name != "report"] == []
    assert not (package / "cli" / "pages.py").exists()
    assert "def compare_table" not in (package / "cli" / "compare.py").read_text()
