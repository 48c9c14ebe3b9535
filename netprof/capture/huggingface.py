"""Hugging Face ``transformers`` models built from their configuration alone: no weight, no network.

``hf:PATH`` names a model directory holding ``config.json``, or such a file. The
model is built by an auto class (``AutoModelForCausalLM`` for a causal language
model, ``AutoModelForSeq2SeqLM`` or ``AutoModelForSpeechSeq2Seq`` for an
encoder-decoder, ``AutoModel`` for anything else, or the one the user names) on the meta
device, in the dtype its configuration declares. ``transformers`` is an optional
extra: without it, every ``hf:`` spec is refused with the line that installs it.

A mixture-of-experts model routes each token by its data, which a build without
weights does not have. It is counted with the experts implementation registered
here: every token through ``top_k`` experts, the routed rows spread as evenly as
they go over ``min(experts, tokens * top_k)`` experts, so that the multiply-adds
are exact for any routing and the weight bytes read are those of a balanced one.
"""

from __future__ import annotations

import contextlib
import types
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from netprof import datafiles
from netprof.capture.run import quiet_library_logs
from netprof.errors import NetprofError, one_line

PREFIX = "hf:"
EVEN_ROUTING = "netprof_even_routing"
DEFAULT_TOKENS = (1, 512)
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
_MOE_EXPERT_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts")


class HFError(NetprofError):
    """An ``hf:`` spec that cannot be built: no transformers, no config, an unknown architecture."""


@dataclass(frozen=True)
class HFModel:
    model: nn.Module
    inputs: tuple[torch.Tensor, ...]
    notes: tuple[str, ...]


def is_hf_spec(spec: str) -> bool:
    return spec.startswith(PREFIX)


def transformers_module() -> ModuleType:
    """``transformers``, or the one line that says how to install it."""
    try:
        import transformers
    except ImportError:
        raise HFError("hf: specs need the transformers package: pip install 'netprof[hf]'") from None
    return transformers


def config_file(path: str) -> Path:
    """The ``config.json`` that ``path`` (a model directory or the file itself) names."""
    given = Path(path)
    found = given / "config.json" if given.is_dir() else given
    if not found.is_file():
        raise HFError(
            f"no Hugging Face config at {given}: expected a model directory with config.json, or the file"
        )
    return found


def read_config(path: str) -> Any:
    """The model's ``PretrainedConfig``, read from disk only."""
    transformers = transformers_module()
    found = config_file(path)
    data = datafiles.read_json(found, HFError)
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if not model_type:
        raise HFError(f"{found} has no model_type: not a transformers model configuration")
    try:
        with quiet_library_logs():
            return transformers.AutoConfig.from_pretrained(str(found), local_files_only=True)
    except (ValueError, KeyError, OSError) as error:
        if model_type not in transformers.CONFIG_MAPPING:
            raise HFError(
                f"{found}: transformers {transformers.__version__} does not know the architecture {model_type!r}"
            ) from None
        raise HFError(f"{found}: {one_line(error)}") from error


def _auto_class(transformers: ModuleType, config: Any, requested: str | None) -> Any:
    if requested is not None:
        chosen = getattr(transformers, requested, None)
        if not requested.startswith("Auto") or not hasattr(chosen, "from_config"):
            raise HFError(
                f"unknown --hf-class {requested!r}: name an auto class such as AutoModelForCausalLM"
            )
        return chosen
    from transformers.models.auto import modeling_auto

    if getattr(config, "is_encoder_decoder", False):
        # An encoder-decoder generates text: its model with the language-model head (T5ForConditionalGeneration,
        # BartForConditionalGeneration, WhisperForConditionalGeneration), whatever its architectures say.
        if config.model_type in modeling_auto.MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES:
            return transformers.AutoModelForSpeechSeq2Seq
        if config.model_type in modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return transformers.AutoModelForSeq2SeqLM
    if config.architectures:
        causal = any(name.endswith(_CAUSAL_SUFFIXES) for name in config.architectures)
    else:  # BERT-like encoders also have a causal-LM head class; they are encoders first.
        model_type = config.model_type
        causal = (
            model_type in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            and model_type not in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
        )
    return transformers.AutoModelForCausalLM if causal else transformers.AutoModel


def _dtype(config: Any) -> torch.dtype:
    # transformers 5 reads a config.json's torch_dtype into dtype (and warns on the old name).
    declared = getattr(config, "dtype", None)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    return declared if isinstance(declared, torch.dtype) else torch.float32


def _text_config(config: Any) -> Any:
    """The configuration of the model's text part; the whole one where transformers finds several (Moshi's
    ``text_encoder`` and ``decoder``) or none."""
    try:
        return config.get_text_config() if hasattr(config, "get_text_config") else config
    except ValueError:
        return config


def expert_counts(config: Any) -> tuple[int, int] | None:
    """``(top_k, experts)`` of a mixture-of-experts configuration; None for a dense model.

    A configuration with experts whose ``num_experts_per_tok`` is present but unset (transformers'
    default DeepSeek-V2 config) describes no runnable router: refused, naming the field.
    """
    text = _text_config(config)
    experts = next((getattr(text, name) for name in _MOE_EXPERT_COUNTS if getattr(text, name, None)), None)
    top_k = getattr(text, "num_experts_per_tok", None)
    if experts and top_k is None and hasattr(text, "num_experts_per_tok"):
        raise HFError(
            f"the {config.model_type!r} config has {experts} experts but num_experts_per_tok is unset (None): "
            "its router cannot pick experts; set num_experts_per_tok in config.json"
        )
    return (top_k, experts) if experts and top_k else None


def build(
    path: str, auto_class: str | None = None, device: str = "meta"
) -> tuple[nn.Module, Any, tuple[str, ...]]:
    """The model of the configuration at ``path``, on ``device`` (meta: no weight allocated), and notes."""
    transformers = transformers_module()
    config = read_config(path)
    auto = _auto_class(transformers, config, auto_class)
    dtype = _dtype(config)
    options: dict[str, Any] = {"dtype": dtype}
    moe = expert_counts(config)
    if moe is not None:
        _register_even_routing(transformers)
        options["experts_implementation"] = EVEN_ROUTING
    context = torch.device("meta") if device == "meta" else contextlib.nullcontext()
    try:
        with context, quiet_library_logs():
            model = auto.from_config(config, **options)
    except Exception as error:
        raise HFError(f"{auto.__name__} cannot build {config_file(path)}: {one_line(error)}") from error
    _route_evenly_by_size(model)
    place = "on meta, no weights" if device == "meta" else "with random weights"
    dtype_name = str(dtype).removeprefix("torch.")
    notes = [f"built {type(model).__name__} ({auto.__name__}) from {config_file(path)} {place}, {dtype_name}"]
    if moe is not None:
        top_k, experts = moe
        notes.append(
            f"mixture of experts: each token counted through its top {top_k} of {experts} experts, the routed "
            f"rows spread evenly over min({experts}, tokens x {top_k}) experts (routing depends on data)"
        )
    return model, config, tuple(notes)


def example_inputs(
    config: Any, shapes: list[tuple[int, ...]] | None, dtype: torch.dtype, device: str
) -> tuple:
    """The natural input of the configuration's model: token ids for text, pixels for vision."""
    if _is_vision(config):
        size = config.image_size
        height, width = (size, size) if isinstance(size, int) else size
        shape = shapes[0] if shapes else (1, config.num_channels, height, width)
        return (torch.randn(shape, dtype=dtype, device=device),)
    if getattr(_text_config(config), "vocab_size", None):
        shape = shapes[0] if shapes else DEFAULT_TOKENS
        if len(shape) != 2:
            raise HFError(
                f"a text model takes token ids of shape BATCH,TOKENS, not {','.join(map(str, shape))}"
            )
        return (torch.zeros(shape, dtype=torch.long, device=device),)
    raise HFError(
        f"netprof does not know the natural input of a {config.model_type!r} model: "
        "write a builder that returns (model, args, kwargs)"
    )


def takes_token_ids(spec: str) -> bool:
    """Whether the ``hf:`` spec's model is a text model, fed token ids (read from its config only)."""
    config = read_config(spec.removeprefix(PREFIX))
    return not _is_vision(config) and bool(getattr(_text_config(config), "vocab_size", None))


def _is_vision(config: Any) -> bool:
    return bool(getattr(config, "image_size", None) and getattr(config, "num_channels", None))


def load(spec: str, shapes: list[tuple[int, ...]] | None, auto_class: str | None, device: str) -> HFModel:
    """``spec`` (``hf:PATH``) built and given its natural input (``shapes`` override its shape)."""
    model, config, notes = build(spec.removeprefix(PREFIX), auto_class, device)
    inputs = example_inputs(config, shapes, _dtype(config), "meta" if device == "meta" else "cpu")
    if not shapes:
        shape = "x".join(map(str, inputs[0].shape))
        notes += (f"default input: {shape} {'token ids' if inputs[0].dtype == torch.long else 'pixels'}",)
    return HFModel(model, inputs, notes)


def _register_even_routing(transformers: ModuleType) -> None:
    interface = transformers.integrations.moe.ExpertsInterface
    if EVEN_ROUTING not in interface._global_mapping:
        interface.register(EVEN_ROUTING, even_routing_experts)


def even_groups(rows: int, experts: int) -> list[tuple[int, int]]:
    """``(experts, rows each)`` when ``rows`` routed rows spread as evenly as they go over the experts.

    7 rows over 4 experts: three experts take 2 rows and one takes 1, ``[(3, 2), (1, 1)]``;
    2 rows over 8 experts: two experts take 1 row each, ``[(2, 1)]``.
    """
    active = min(experts, rows)
    if active == 0:
        return []
    each, extra = divmod(rows, active)
    return [(count, size) for count, size in ((extra, each + 1), (active - extra, each)) if count]


def _grouped_linear(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    groups: list[tuple[int, int]],
    transposed: bool,
) -> torch.Tensor:
    """``rows`` through consecutive experts of ``weight`` ([experts, out, in], or [experts, in, out]
    when ``transposed``), one batched matmul per group size."""
    outputs, start, first = [], 0, 0
    for count, size in groups:
        chunk = rows[start : start + count * size].view(count, size, rows.shape[-1])
        experts = weight[first : first + count]
        out = torch.bmm(chunk, experts if transposed else experts.transpose(1, 2))
        if bias is not None:
            out = out + bias[first : first + count].unsqueeze(1)
        outputs.append(out.reshape(count * size, out.shape[-1]))
        start, first = start + count * size, first + count
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def even_routing_experts(
    self: nn.Module, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
) -> torch.Tensor:
    """An experts forward for transformers' ``ExpertsInterface`` that needs no routing data.

    The same arithmetic as transformers' ``batched_mm`` (each token's ``top_k``
    rows up, gated, down, weighted and summed) with the rows assigned to experts
    evenly instead of by the router's choice, so that it runs on meta tensors
    and reads each active expert's weights once.
    """
    tokens, top_k = top_k_index.shape
    rows = hidden_states.repeat_interleave(top_k, dim=0)
    groups = even_groups(tokens * top_k, self.num_experts)
    up, up_bias = ("gate_up_proj", "gate_up_proj_bias") if self.has_gate else ("up_proj", "up_proj_bias")
    hidden = _grouped_linear(
        rows, getattr(self, up), getattr(self, up_bias) if self.has_bias else None, groups, self.is_transposed
    )
    hidden = self._apply_gate(hidden) if self.has_gate else self.act_fn(hidden)
    down_bias = self.down_proj_bias if self.has_bias else None
    out = _grouped_linear(hidden, self.down_proj, down_bias, groups, self.is_transposed)
    if self.has_post_expert_norm:
        out = self.post_expert_norm(out)
    weighted = out * top_k_weights.reshape(-1, 1)
    return weighted.view(tokens, top_k, -1).sum(dim=1).to(hidden_states.dtype)


# Routers that hand each expert a Python count of its rows (``expert_size.tolist()``), read from the data,
# and the experts that split their input by those counts: JetMoe's, for its feed-forward and attention experts.
_SIZE_ROUTERS = ("JetMoeTopKGating",)
_SIZE_EXPERTS = ("JetMoeParallelExperts",)


def _route_evenly_by_size(model: nn.Module) -> None:
    """Give the routers that read their experts' row counts from the data the even routing instead.

    Bound on the modules of a model ``build`` made (never a user's), so that a run without data sizes
    each expert's rows as ``even_groups`` does; experts given no rows run no product, as a real run's.
    """
    for module in model.modules():
        name = type(module).__name__
        if name in _SIZE_ROUTERS:
            module.forward = types.MethodType(_even_size_gating, module)
        elif name in _SIZE_EXPERTS:
            module.forward = types.MethodType(_experts_by_size, module)


def even_sizes(rows: int, experts: int) -> list[int]:
    """Rows per expert, in expert order, as ``even_groups`` spreads them: 7 over 4 is ``[2, 2, 2, 1]``."""
    sizes = [size for count, size in even_groups(rows, experts) for _ in range(count)]
    return sizes + [0] * (experts - len(sizes))


def _even_size_gating(self: nn.Module, hidden_states: torch.Tensor) -> tuple:
    """JetMoe's ``TopKGating.forward`` with the row counts from ``even_sizes``, not ``.tolist()`` of the data.

    The same ops as transformers' (logits, top-k, softmax, the one-hot count by scatter, the sort that
    groups rows by expert), so that the router is counted as it runs.
    """
    logits = self.layer(hidden_states).float()
    top_k_logits, top_k_indices = logits.topk(self.top_k, dim=1)
    top_k_gates = torch.softmax(top_k_logits, dim=1).type_as(hidden_states)
    zeros = torch.zeros(
        [top_k_gates.size(0), self.num_experts], dtype=top_k_gates.dtype, device=top_k_gates.device
    )
    zeros.scatter(1, top_k_indices, 1).long().sum(0)
    expert_size = even_sizes(top_k_gates.size(0) * self.top_k, self.num_experts)
    _, index_sorted_experts = top_k_indices.flatten().sort(0)
    batch_index = index_sorted_experts.div(self.top_k, rounding_mode="trunc")
    batch_gates = top_k_gates.flatten()[index_sorted_experts]
    return index_sorted_experts, batch_index, batch_gates, expert_size, logits


def _experts_by_size(self: nn.Module, inputs: torch.Tensor, expert_size: list[int]) -> torch.Tensor:
    """JetMoe's ``ParallelExperts.forward``, skipping the experts given no rows (a real run's product of
    zero rows reads nothing; on meta it would count the expert's weight as read)."""
    outputs = [
        nn.functional.linear(rows, self.weight[index])
        for index, rows in enumerate(inputs.split(expert_size, dim=0))
        if expert_size[index]
    ]
    return torch.cat(outputs, dim=0)
