"""Mixture-of-experts routers of transformers' causal LMs (issue 20): counted with nothing uncounted, or refused
in one line.

The fast tests build tiny configs; the slow one builds transformers' own default configs (full size, on
meta, never shrunk) of a representative set and runs ``--prefill 8 --decode 2`` on each.
``benchmarks/hf_causal_lm.py`` walks every causal-LM type the same way and stores each outcome.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netprof
from netprof import pipeline
from netprof.capture import huggingface
from netprof.errors import NetprofError
from netprof.serving import analyze_generation

transformers = pytest.importorskip("transformers", reason="the hf extra: pip install 'netprof[hf]'")
pytestmark = pytest.mark.hf


def test_even_sizes_list_every_experts_rows() -> None:
    # 7 rows over 4 experts: 2 + 2 + 2 + 1
    assert huggingface.even_sizes(7, 4) == [2, 2, 2, 1]
    # 2 rows over 8 experts: two experts take one row, six none
    assert huggingface.even_sizes(2, 8) == [1, 1, 0, 0, 0, 0, 0, 0]


def _jetmoe_config():
    return transformers.JetMoeConfig(
        vocab_size=128,
        hidden_size=64,
        num_hidden_layers=2,
        num_key_value_heads=2,
        kv_channels=16,
        intermediate_size=48,
        num_local_experts=4,
        num_experts_per_tok=2,
        architectures=["JetMoeForCausalLM"],
    )


def test_jetmoe_router_runs_without_data_and_counts_what_a_real_run_does(tmp_path: Path) -> None:
    # JetMoe's router reads its experts' row counts with .tolist(): no meta or fake run can. Built by
    # netprof, it routes evenly; every token still goes through its top 2 experts, so the multiply-adds
    # are the real run's whatever the real router chose.
    config = _jetmoe_config()
    config.save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    ids = torch.zeros(1, 8, dtype=torch.long)
    even = netprof.analyze(model, (ids,), mode="fake")
    torch.manual_seed(0)
    real_model = transformers.AutoModelForCausalLM.from_config(config)
    real = netprof.analyze(real_model, (torch.randint(0, 128, (1, 8)),), mode="real")
    assert even.uncounted == {} and real.uncounted == {}
    assert even.totals.mult_adds == real.totals.mult_adds
    assert any(op.op == "aten.topk.default" for op in even.ops)


def test_jetmoe_decodes_through_its_cache(tmp_path: Path) -> None:
    _jetmoe_config().save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    generation = analyze_generation(model, prefill=8, decode=2)
    assert len(generation.decode.steps) == 2
    assert all(analysis.uncounted == {} for _, analysis in generation.captured_steps)


def test_granitemoe_passes_use_cache_through_its_kwargs(tmp_path: Path) -> None:
    # GraniteMoeForCausalLM.forward takes use_cache in **kwargs, handed to its base model
    transformers.GraniteMoeConfig(
        vocab_size=128,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        num_local_experts=4,
        num_experts_per_tok=2,
        architectures=["GraniteMoeForCausalLM"],
    ).save_pretrained(tmp_path)
    model, _, _ = huggingface.build(str(tmp_path))
    generation = analyze_generation(model, prefill=8, decode=1)
    assert generation.decode is not None and generation.prefill.kv_cache_bytes > 0
    assert generation.prefill_analysis.uncounted == {}


def test_a_moe_config_without_its_top_k_is_refused_in_one_line(tmp_path: Path) -> None:
    transformers.AutoConfig.for_model("deepseek_v2").save_pretrained(tmp_path)
    with pytest.raises(NetprofError) as refused:
        huggingface.build(str(tmp_path))
    (line,) = str(refused.value).splitlines()
    assert "has 64 experts but num_experts_per_tok is unset (None)" in line


# The default config of each: the routers of issue 20 (topk, polar, .tolist(), k=None, a cache of linear
# attention only) and two plain MoE models. Refused ones name their reason.
REPRESENTATIVE = {
    "granitemoe": None,
    "glm4_moe_lite": None,
    "llama4_text": None,
    "jetmoe": None,
    "qwen2_moe": None,
    "mixtral": None,
    "deepseek_v2": "num_experts_per_tok is unset (None)",
    # transformers' own forward fails with a cache when every layer is linear attention (its default)
    "granitemoehybrid": "can only be called on Attention layers",
}


@pytest.mark.slow
@pytest.mark.parametrize(("model_type", "refusal"), REPRESENTATIVE.items())
def test_default_configs_analyze_with_nothing_uncounted_or_refuse_in_one_line(
    model_type: str, refusal: str | None, tmp_path: Path
) -> None:
    transformers.AutoConfig.for_model(model_type).save_pretrained(tmp_path)
    try:
        loaded, _ = pipeline.load_on_meta(f"hf:{tmp_path}", [(1, 8)])
        generation = analyze_generation(loaded.model, prefill=8, decode=2)
    except NetprofError as error:
        assert refusal is not None, f"{model_type} refused: {error}"
        (line,) = str(error).splitlines()
        assert refusal in line
        return
    assert refusal is None, f"{model_type} analyzed, expected a refusal naming {refusal!r}"
    analyses = [generation.prefill_analysis, *(analysis for _, analysis in generation.captured_steps)]
    assert [analysis.uncounted for analysis in analyses] == [{}] * 3
    assert generation.prefill.total.mult_adds > 0
