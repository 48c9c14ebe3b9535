"""Quantized copies of a model, made by a real quantizer, so that netprof counts the kernels that run.

``int8``: int8 weights (per output channel) and int8 activations (per tensor, scales observed on the
example inputs), through PyTorch's FX graph-mode quantization with the x86 backend's mapping
(``prepare_fx`` / ``convert_fx``). Its convolutions and linears become ``quantized::conv2d`` and
``quantized::linear`` kernels with packed int8 weights, batch norms folded into them, which netprof
counts with their real byte sizes (``netprof.costs.quantized``): a weight byte per value, plus the
per-channel scales and zero points and the float bias. torchao's ``quantize_`` quantizes linear layers
only (its ``Int8Tensor`` has no convolution), so a CNN's int8 what-if goes through this path.

``int4w``: int4 weights of the linear layers, float activations, through torchao's
``IntxWeightOnlyConfig(weight_dtype=torch.int4)``, one scale per output channel; convolutions stay float (no int4 convolution kernel
exists on the CPU). torchao keeps the values unpacked, one int8 byte each; a deployment packs two per
byte, and ``parameter_bytes`` counts them so (``netprof.analysis.summary``).

The model passed in is never modified: each quantizer works on a deep copy in eval mode.
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from typing import Any

import torch
from torch import nn

from netprof.errors import NetprofError

SCHEMES = ("int8", "int4w")


class QuantizationError(NetprofError):
    """A scheme the model cannot take (not traceable, torchao missing): one line."""


def quantize(model: nn.Module, example_inputs: tuple[Any, ...], scheme: str) -> nn.Module:
    """A quantized copy of ``model`` (``int8`` or ``int4w``, as the module docstring says)."""
    if scheme not in SCHEMES:
        raise QuantizationError(f"unknown quantization {scheme!r}: one of {', '.join(SCHEMES)}")
    twin = copy.deepcopy(model).eval()
    try:
        return _int8(twin, example_inputs) if scheme == "int8" else _int4_weights(twin)
    except QuantizationError:
        raise
    except Exception as error:
        raise QuantizationError(
            f"cannot quantize the model to {scheme}: {type(error).__name__}: {str(error).strip().splitlines()[0]}"
        ) from error


def _int8(model: nn.Module, example_inputs: tuple[Any, ...]) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    with warnings.catch_warnings():  # FX quantization warns that it will move to torchao: not the user's
        warnings.simplefilter("ignore")
        prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example_inputs)
        with torch.no_grad():
            prepared(*example_inputs)  # the observers see the example inputs: activation scales
        return convert_fx(prepared)


def _int4_weights(model: nn.Module) -> nn.Module:
    if importlib.util.find_spec("torchao") is None:
        raise QuantizationError("--quantize int4w needs torchao: pip install 'netprof[compression]'")
    from torchao.quantization import IntxWeightOnlyConfig, PerAxis, quantize_

    linears = [m for m in model.modules() if type(m) is nn.Linear]
    if not linears:
        raise QuantizationError("--quantize int4w quantizes linear layers and the model has none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(model, IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerAxis(0)))
    return model
