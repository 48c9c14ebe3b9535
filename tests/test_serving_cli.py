"""``netprof analyze`` on language models: prefill, decode, their prediction, in every format.

The models are tiny Llama and BERT configs saved offline by transformers' config
classes, and the plain-PyTorch Llama of ``examples/llama.py``. The KV-cache sizes
are closed forms written out here: ``2 (keys, values) x layers x kv_heads x
head_dim x context x itemsize``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cli_runner import run
from fixtures import hf_configs

ROOT = Path(__file__).parents[1]
SCHEMA = json.loads((ROOT / "netprof/report/analysis.schema.json").read_text())

LAYERS, HEADS, KV_HEADS, HIDDEN = 2, 4, 2, 64
HEAD_DIM = HIDDEN // HEADS
FLOAT32 = 4
PROMPT, STEPS = 16, 4
COUNTS = ("mult_adds", "flops", "mem_access_bytes", "weight_bytes", "kv_read_bytes", "kv_write_bytes")


def kv_bytes(context: int) -> int:
    """Keys and values of every layer's kv heads for ``context`` tokens, float32."""
    return 2 * LAYERS * KV_HEADS * HEAD_DIM * context * FLOAT32


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
    return hf_configs.save_llama(tmp_path_factory.mktemp("hf") / "llama")


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
    return hf_configs.save_bert(tmp_path_factory.mktemp("hf") / "bert")


def _json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, "analyze", *argv, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)  # ``phases`` and ``serving`` are additions the schema allows
    return document


@pytest.mark.hf
def test_table_has_the_phase_columns_and_the_verdict(capsys, llama_dir):
    code, out, err = run(
        capsys, "analyze", f"hf:{llama_dir}", "--prefill", str(PROMPT), "--decode", str(STEPS), "--depth", "0"
    )
    assert code == 0, err
    assert f"hf:{llama_dir}: prefill and decode" in out
    for column in ("prefill", "decode, 4 steps", "first step (context 17)", "last step (context 20)"):
        assert column in out
    for row in (
        "mult_adds",
        "memory access",
        "weights read",
        "KV cache read",
        "KV cache written",
        "flop/byte",
    ):
        assert row in out
    assert "KV cache after" in out
    assert "Per generated token, prefill does" in out
    assert "Memory access says decode is the slow phase" in out
    assert "decode: steps at context 17, 19 and 20 captured" in out
    assert "predicted time" not in out  # no device given, nothing predicted


@pytest.mark.hf
def test_json_phases_and_the_kv_cache_in_closed_form(capsys, llama_dir):
    report = _json(capsys, f"hf:{llama_dir}", "--prefill", str(PROMPT), "--decode", str(STEPS))
    assert report["inputs"] == [{"shape": [1, PROMPT], "dtype": "int64"}]
    phases = report["phases"]
    assert [phase["name"] for phase in phases] == ["prefill", "decode"]
    prefill, decode = phases
    for phase in phases:
        for key in ("tokens", "mult_adds", "flops", "mem_access_bytes", "kv_cache_bytes"):
            assert isinstance(phase[key], int), key
    assert (prefill["tokens"], decode["tokens"]) == (PROMPT, STEPS)
    # The prefill pass is the analysis the rest of the document describes.
    assert prefill["mult_adds"] == report["totals"]["mult_adds"]
    assert prefill["kv_cache_bytes"] == prefill["kv_write_bytes"] == kv_bytes(PROMPT)
    assert decode["kv_cache_bytes"] == kv_bytes(PROMPT + STEPS) == 10_240
    # The decode reads the whole cache at every step and writes one token's keys and values.
    assert decode["kv_read_bytes"] == sum(kv_bytes(PROMPT + k) for k in range(1, STEPS + 1))
    assert decode["kv_write_bytes"] == kv_bytes(STEPS)
    per_token = decode["per_token"]
    assert set(per_token) == {"first", "last", "mean"}
    for which in per_token.values():
        assert set(COUNTS) <= set(which)
    assert per_token["first"]["kv_read_bytes"] == kv_bytes(PROMPT + 1)
    assert per_token["last"]["kv_read_bytes"] == kv_bytes(PROMPT + STEPS)
    assert per_token["first"]["kv_write_bytes"] == per_token["last"]["kv_write_bytes"] == kv_bytes(1)
    assert per_token["mean"]["flops"] == pytest.approx(decode["flops"] / STEPS)
    assert per_token["first"]["flops"] < per_token["last"]["flops"]  # attention grows with the context
    # Decode reads every weight per token: its intensity is far below the prompt's.
    assert decode["intensity_flops_per_byte"] < prefill["intensity_flops_per_byte"]
    assert "prediction" not in prefill and "serving" not in report
    # Captured on fake CPU tensors, so attention takes the fused kernel a real run would; the notes say so.
    assert report["mode"] == "fake"
    assert any("fake CPU tensors" in note for note in report["generation_notes"])
    assert any("steps at context 17, 19 and 20 captured" in note for note in report["generation_notes"])


@pytest.mark.hf
def test_roofline_prediction_per_phase_and_serving_figures(capsys, llama_dir):
    report = _json(
        capsys,
        f"hf:{llama_dir}",
        "--prefill",
        str(PROMPT),
        "--decode",
        str(STEPS),
        "--peak-tflops",
        "100",
        "--bandwidth-gbs",
        "1000",
    )
    prefill, decode = report["phases"]
    for phase in (prefill, decode):
        assert phase["prediction"]["seconds"] > 0
        assert phase["prediction"]["bound"] in ("compute", "memory")
    assert decode["prediction"]["bound"] == "memory"
    serving = report["serving"]
    assert serving["device"] == "roofline: 100 TFLOP/s, 1000 GB/s"
    assert serving["time_to_first_token_s"] == pytest.approx(prefill["prediction"]["seconds"])
    assert serving["time_per_output_token_s"] == pytest.approx(decode["prediction"]["seconds"] / STEPS)
    assert serving["tokens_per_s"] == pytest.approx(1 / serving["time_per_output_token_s"])
    # Each op takes max(flops / peak, bytes / bandwidth): never less than moving the phase's bytes.
    assert decode["prediction"]["seconds"] >= decode["mem_access_bytes"] / 1e12 * (1 - 1e-9)


@pytest.mark.hf
def test_markdown_to_a_file(capsys, llama_dir, tmp_path):
    path = tmp_path / "report.md"
    code, out, err = run(
        capsys,
        "analyze",
        f"hf:{llama_dir}",
        "--prefill",
        str(PROMPT),
        "--decode",
        str(STEPS),
        "--peak-tflops",
        "100",
        "--bandwidth-gbs",
        "1000",
        "--format",
        "markdown",
        "-o",
        str(path),
    )
    assert code == 0, err
    assert out == "" and f"wrote {path}" in err
    text = path.read_text()
    assert "## Prefill and decode" in text
    assert "|  | prefill | decode, 4 steps | first step (context 17) | last step (context 20) |" in text
    assert "| --- | ---: | ---: | ---: | ---: |" in text
    assert "| bound | memory | memory |" in text
    assert "The device's ridge point is 100 flop/byte" in text
    assert "Predicted: time to first token" in text


@pytest.mark.hf
def test_plot_writes_the_generation_chart(capsys, llama_dir, tmp_path):
    charts = tmp_path / "charts"
    code, _, err = run(
        capsys,
        "analyze",
        f"hf:{llama_dir}",
        "--prefill",
        "8",
        "--decode",
        "3",
        "--plot",
        str(charts),
        "--format",
        "json",
        "-o",
        str(tmp_path / "report.json"),
    )
    assert code == 0, err
    png, svg = charts / "generation.png", charts / "generation.svg"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "<svg" in svg.read_text()
    assert f"wrote {png}" in err and f"wrote {svg}" in err


@pytest.mark.hf
def test_a_text_model_with_no_flags_gets_the_default_prefill(capsys, llama_dir):
    report = _json(capsys, f"hf:{llama_dir}")
    assert report["inputs"] == [{"shape": [1, 512], "dtype": "int64"}]
    assert [(phase["name"], phase["batch"], phase["tokens"]) for phase in report["phases"]] == [
        ("prefill", 1, 512)
    ]
    assert report["phases"][0]["kv_cache_bytes"] == kv_bytes(512)
    assert any(note.startswith("built LlamaForCausalLM (AutoModelForCausalLM)") for note in report["notes"])
    assert any("on meta, no weights, float32" in note for note in report["notes"])


@pytest.mark.hf
def test_an_encoder_without_decode_is_a_prefill_only(capsys, bert_dir):
    report = _json(capsys, f"hf:{bert_dir}", "--prefill", str(PROMPT), "--batch", "2")
    assert report["inputs"] == [{"shape": [2, PROMPT], "dtype": "int64"}]
    (prefill,) = report["phases"]
    assert (prefill["name"], prefill["batch"], prefill["tokens"]) == ("prefill", 2, PROMPT)
    assert prefill["kv_cache_bytes"] == 0  # an encoder keeps no cache
    assert "per_token" not in prefill
    assert any(note.startswith("built BertModel (AutoModel)") for note in report["notes"])

    code, out, err = run(capsys, "analyze", f"hf:{bert_dir}", "--prefill", str(PROMPT), "--depth", "0")
    assert code == 0, err
    assert "prefill and decode" in out and "decode," not in out


def test_the_llama_example_decodes_with_its_own_cache(capsys):
    report = _json(capsys, "examples/llama.py:llama_tiny", "--prefill", "8", "--decode", "4")
    prefill, decode = report["phases"]
    assert (prefill["tokens"], decode["tokens"]) == (8, 4)
    # LLAMA_TINY has the same shape as the config above: 2 layers, 2 kv heads of 16.
    assert prefill["kv_cache_bytes"] == kv_bytes(8)
    assert decode["kv_cache_bytes"] == kv_bytes(12)
    assert decode["per_token"]["first"]["kv_write_bytes"] == kv_bytes(1)


def _encoder_decoder_dir(tmp_path_factory, model_type: str) -> Path:
    transformers = pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
    directory = tmp_path_factory.mktemp("hf") / model_type
    transformers.AutoConfig.for_model(model_type).save_pretrained(directory)
    return directory


@pytest.mark.hf
@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_type", "encoded", "prompt", "cross_kv"),
    [
        # T5 (t5-small): 32 source tokens; the decoder starts from 1 token; 2 x 6 layers x 512 x 32 x 4 bytes.
        ("t5", 32, 1, 2 * 6 * 512 * 32 * FLOAT32),
        # BART (bart-large): the same convention; 2 x 12 layers x 1024 x 32 x 4 bytes.
        ("bart", 32, 1, 2 * 12 * 1024 * 32 * FLOAT32),
        # Whisper (tiny): 30 s of audio, 1500 encoder positions; --prefill is the decoder's prompt;
        # 2 x 4 layers x 384 x 1500 x 4 bytes.
        ("whisper", 1500, 32, 2 * 4 * 384 * 1500 * FLOAT32),
    ],
)
def test_an_encoder_decoder_reports_its_encode_phase_and_both_caches(
    capsys, tmp_path_factory, model_type, encoded, prompt, cross_kv
):
    directory = _encoder_decoder_dir(tmp_path_factory, model_type)
    report = _json(capsys, f"hf:{directory}", "--prefill", "32", "--decode", "8")
    encode, prefill, decode = report["phases"]
    assert [phase["name"] for phase in report["phases"]] == ["encode", "prefill", "decode"]
    assert (encode["tokens"], prefill["tokens"], decode["tokens"]) == (encoded, prompt, 8)
    assert report["totals"]["uncounted_ops"] == 0
    assert [phase["uncounted_ops"] for phase in report["phases"]] == [0, 0, 0]
    assert encode["kv_cache_bytes"] == 0 and encode["mult_adds"] > 0
    # The prefill writes the whole cross-attention cache; each decode step reads it and writes none.
    assert prefill["cross_kv_cache_bytes"] == prefill["cross_kv_write_bytes"] == cross_kv
    assert decode["cross_kv_cache_bytes"] == cross_kv and decode["cross_kv_write_bytes"] == 0
    assert decode["cross_kv_read_bytes"] == 8 * cross_kv
    assert decode["kv_cache_bytes"] == decode["self_kv_cache_bytes"] + cross_kv
    assert (
        prefill["mult_adds"] == report["totals"]["mult_adds"]
    )  # the document describes the decoder's prefill
    assert any(
        note.startswith("encoder-decoder: encode is the encoder's one pass")
        for note in report["generation_notes"]
    )


@pytest.mark.hf
def test_an_encoder_decoder_table_has_the_encode_column_and_the_cross_attention_rows(
    capsys, tmp_path_factory
):
    directory = _encoder_decoder_dir(tmp_path_factory, "t5")
    code, out, err = run(
        capsys, "analyze", f"hf:{directory}", "--prefill", "8", "--decode", "3", "--depth", "0"
    )
    assert code == 0, err
    for text in ("encode", "prefill", "decode, 3 steps", "first step (context 2)", "last step (context 4)"):
        assert text in out
    for row in ("cross KV read", "cross KV written", "cross KV after"):
        assert row in out
    assert "Per token, encode does" in out and "per generated token" in out


@pytest.mark.hf
def test_whisper_given_no_prefill_gets_its_4_token_prompt_and_a_long_one_is_refused(capsys, tmp_path_factory):
    directory = _encoder_decoder_dir(tmp_path_factory, "whisper")
    code, out, err = run(capsys, "analyze", f"hf:{directory}", "--prefill", "440", "--decode", "9")
    assert code == 2 and out == ""
    refusal = (
        "WhisperForConditionalGeneration's decoder has 448 positions: a 440-token prompt and 9 decode steps"
    )
    assert err.strip().splitlines() == [f"netprof: error: {refusal} need 449"]
    report = _json(capsys, f"hf:{directory}")
    assert [(phase["name"], phase["tokens"]) for phase in report["phases"]] == [
        ("encode", 1500),
        ("prefill", 4),
    ]
    assert any(note == "no --prefill given: a 4-token prompt" for note in report["notes"])
