"""Compression what-ifs: each variant built without training, counted, checked and priced beside the base.

    >>> import netprof, torch, torchvision
    >>> report = netprof.whatif(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224),
    ...                         ["width=0.5", "resolution=0.5", "prune=0.3", "rank=0.5", "quantize=int8"])
    >>> [(v.name, report.ratio(v, "mult_adds")) for v in report.variants]

Every model, the base included, goes through the same pipeline (``pipeline.run``: the counts, and
with ``timing`` a measured run), the rules (``pipeline.check``) and, with a device profile, the
latency predictor. A variant's findings are compared with the base's by their identity within a
model (``Finding.fingerprint``: the rule and the module path). An int8 variant is priced by the eager
profile's int8 kinds (``netprof calibrate`` times int8 kernels); a profile calibrated before them, or a
runtime's (whose runtime does not run the quantized model here), has none, and a number made up from
float kernels would be worse than none: the variant's notes say so and its latency stays empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netprof import pipeline
from netprof.analysis import parameter_bytes
from netprof.compression import lowrank, pruning, quantize
from netprof.compression.variants import Variant, VariantError, variant
from netprof.config import Config
from netprof.fingerprints import finding_key
from netprof.prediction import DeviceProfile, MissingInt8Kinds
from netprof.result import Result
from netprof.rules import Finding
from netprof.runtimes.profile import RuntimeProfile
from netprof.timing.run import TimingOptions

BASE = "base"
TOTALS = ("mult_adds", "flops", "params", "param_bytes", "mem_access_bytes")
UNPRICED = "latency not predicted: "  # how a variant's note that its latency could not be priced begins


@dataclass(frozen=True)
class Priced:
    """One model of the what-if: its counts, findings and, when asked, its predicted and measured latency."""

    name: str  # "base", or the variant's name
    variant: Variant | None
    result: Result  # analysis, findings, and the prediction and timing when there are any
    param_bytes: int
    notes: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()  # module paths the move replaced by a subgraph (a factorized pair)

    @property
    def totals(self) -> dict[str, int]:
        analysis = self.result.analysis
        return {
            "mult_adds": analysis.totals.mult_adds,
            "flops": analysis.totals.flops,
            "params": analysis.params,
            "param_bytes": self.param_bytes,
            "mem_access_bytes": analysis.totals.mem_access_bytes,
        }

    @property
    def predicted_s(self) -> float | None:
        return None if self.result.prediction is None else self.result.prediction.latency_s

    @property
    def measured_s(self) -> float | None:
        """The median of plain forward passes (no instrumentation), when timed."""
        return None if self.result.timing is None else self.result.timing.plain.median

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings or ()


@dataclass(frozen=True)
class WhatIf:
    model: str
    base: Priced
    variants: tuple[Priced, ...]
    notes: tuple[str, ...] = ()  # about every model: a missing profile, the runtime

    def ratio(self, priced: Priced, metric: str) -> float | None:
        """``priced``'s ``metric`` (a total, ``predicted_s`` or ``measured_s``) over the base's."""
        new, old = _metric(priced, metric), _metric(self.base, metric)
        return ratio(new, old)

    def findings_added(self, priced: Priced) -> list[Finding]:
        return findings_diff(self.base.findings, priced.findings, priced.replaced)[0]

    def findings_removed(self, priced: Priced) -> list[Finding]:
        return findings_diff(self.base.findings, priced.findings, priced.replaced)[1]


def _metric(priced: Priced, metric: str) -> float | None:
    if metric in TOTALS:
        return priced.totals[metric]
    return getattr(priced, metric)


def ratio(new: float | None, old: float | None) -> float | None:
    """``new / old``; None when either is missing or the base is zero."""
    if new is None or old is None or old == 0:
        return None
    return new / old


def findings_diff(
    base: Sequence[Finding], other: Sequence[Finding], replaced: Sequence[str] = ()
) -> tuple[list[Finding], list[Finding]]:
    """(findings ``other`` has and ``base`` lacks, findings ``base`` has and ``other`` lacks), by identity
    (rule and module path). A finding inside a module ``other`` put in place of a base module (the two
    layers of a factorized conv, ``conv.0`` and ``conv.1``) is that module's: the same place, renamed."""

    def key(finding: Finding) -> str:
        parent = finding.module.rpartition(".")[0]
        return finding_key(finding.rule, parent) if parent in replaced else finding.fingerprint

    old = {finding.fingerprint for finding in base}
    new = {key(finding) for finding in other}
    return [f for f in other if key(f) not in old], [f for f in base if f.fingerprint not in new]


def scaled_inputs(inputs: tuple[Any, ...], rho: float) -> tuple[Any, ...]:
    """Each floating tensor of three or more dimensions resized to ``round(rho * size)`` in every
    spatial dimension (all after the first two: batch and channels); anything else as given."""
    resized = []
    for tensor in inputs:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.dim() >= 3:
            size = [max(1, round(rho * side)) for side in tensor.shape[2:]]
            tensor = torch.nn.functional.interpolate(tensor, size=size, mode="nearest")
        resized.append(tensor)
    if all(a is b for a, b in zip(resized, inputs)):
        raise VariantError("--resolution scales image-like inputs ([n, c, h, w]...): the model takes none")
    return tuple(resized)


def build(
    move: Variant, model: nn.Module, inputs: tuple[Any, ...]
) -> tuple[nn.Module, tuple[Any, ...], str, tuple[str, ...]]:
    """The variant's model (a new one: ``model`` is never modified), its inputs, what was done, and the
    module paths replaced by a subgraph."""
    if move.move == "width":
        plan = pruning.width_plan(model, inputs, float(move.value))
        return pruning.prune_channels(model, inputs, plan), inputs, _pruned(model, plan, "narrowed"), ()
    if move.move == "prune":
        plan = pruning.global_plan(model, inputs, float(move.value))
        return pruning.prune_channels(model, inputs, plan), inputs, _pruned(model, plan, "pruned"), ()
    if move.move == "resolution":
        scaled = scaled_inputs(inputs, float(move.value))
        shapes = ", ".join("x".join(map(str, t.shape)) for t in scaled if isinstance(t, torch.Tensor))
        return model, scaled, f"input {shapes}", ()
    if move.move == "rank":
        factorized, paths = lowrank.factorize(model, float(move.value))
        done = f"{len(paths)} layers factorized (the others would not save compute)"
        return factorized, inputs, done, tuple(paths)
    if move.move == "quantize":
        return quantize.quantize(model, inputs, str(move.value)), inputs, _QUANTIZED[str(move.value)], ()
    raise VariantError(f"unknown move {move.move!r}")


_QUANTIZED = {
    "int8": "int8 weights and activations (PyTorch FX quantization, x86 kernels); G1 and G2 read a "
    "convolution's weight shape, which a packed int8 kernel hides, so their findings drop out unseen, not fixed",
    "int4w": "int4 weights of the linear layers (torchao), float activations and convolutions",
}


def _pruned(model: nn.Module, plan: dict[str, int], verb: str) -> str:
    done = f"{sum(plan.values())} channels removed, {len(plan)} channel groups {verb}"
    grouped = pruning.grouped_layers(model)
    if grouped:
        done += (
            f"; the channels of {len(grouped)} grouped convolutions ({grouped[0]}, ...) and of the layers "
            "coupled to them are left as they are: pruning them would break their groups"
        )
    return done


def parse(spec: Variant | str) -> Variant:
    """A ``Variant``, or its name (``"width=0.5"``) parsed."""
    if isinstance(spec, Variant):
        return spec
    move, equals, value = spec.partition("=")
    if not equals:
        raise VariantError(f"a variant is MOVE=VALUE (width=0.5, quantize=int8), got {spec!r}")
    return variant(move.strip(), value)


def whatif(
    model: nn.Module,
    inputs: Any,
    variants: Sequence[Variant | str],
    *,
    profile: DeviceProfile | None = None,
    timing: TimingOptions | None = None,
    rules: Config | None = None,
    name: str | None = None,
    notes: tuple[str, ...] = (),
    progress: Callable[[str], None] | None = None,
) -> WhatIf:
    """``model`` (with real weights: pruning ranks them, factorizing decomposes them) and each variant,
    counted, checked with ``rules`` (default: every stable rule) and, with ``profile``, priced;
    ``timing`` also measures each. ``notes`` are about every model (a missing profile); ``progress``
    hears each model's name before it is priced. ``model`` is left as it was."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    moves = [parse(spec) for spec in variants]
    if not moves:
        raise VariantError(
            "no variant: name at least one (--width, --resolution, --prune, --rank, --quantize)"
        )
    name = name or type(model).__name__
    rules = rules or Config()
    say = progress or (lambda _: None)
    say(BASE)
    base = _price(model, inputs, BASE, None, profile, timing, rules, name, ())
    priced = []
    for move in moves:
        say(move.name)
        built, built_inputs, done, replaced = build(move, model, inputs)
        variant_priced = _price(built, built_inputs, move.name, move, profile, timing, rules, name, (done,))
        priced.append(dataclasses.replace(variant_priced, replaced=replaced))
    return WhatIf(name, base, tuple(priced), notes)


def _price(
    model: nn.Module,
    inputs: tuple[Any, ...],
    label: str,
    move: Variant | None,
    profile: DeviceProfile | None,
    timing: TimingOptions | None,
    rules: Config,
    name: str,
    notes: tuple[str, ...],
) -> Priced:
    quantized = move is not None and move.move == "quantize"
    if quantized and timing is not None and timing.runtime != "eager":
        notes += (f"not timed in {timing.runtime}: the quantized model runs in eager PyTorch only here",)
        timing = None
    result = pipeline.run(model, inputs, name=f"{name} {label}", timing=timing)
    if profile is not None and quantized and isinstance(profile, RuntimeProfile):
        why = f"{profile.runtime}'s profile prices no quantized kernels, and the quantized model runs in "
        notes += (f"{UNPRICED}{why}eager PyTorch only here (time it with --time)",)
    elif profile is not None:
        try:
            result = pipeline.add_prediction(result, profile)
        except MissingInt8Kinds as error:
            notes += (f"{UNPRICED}{error} (or time it with --time)",)
    result = dataclasses.replace(result, findings=tuple(pipeline.check(result, model, rules)))
    return Priced(label, move, result, parameter_bytes(model), notes)
