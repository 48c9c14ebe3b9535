"""From a capture to priced ops and the totals per module, category and model."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netprof.analysis.memory import MemoryProfile, profile
from netprof.analysis.pricing import OpNode, price
from netprof.analysis.unfused_attention import label_unfused_attention
from netprof.capture.ir import Capture
from netprof.module_paths import ancestors


@dataclass(frozen=True, slots=True)
class Totals:
    mult_adds: int = 0
    flops: int = 0
    mem_access_bytes: int = 0
    ops: int = 0
    uncounted_ops: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.mult_adds + other.mult_adds,
            self.flops + other.flops,
            self.mem_access_bytes + other.mem_access_bytes,
            self.ops + other.ops,
            self.uncounted_ops + other.uncounted_ops,
        )

    @classmethod
    def of(cls, node: OpNode) -> Totals:
        return cls(node.mult_adds, node.flops, node.mem_access_bytes, 1, 0 if node.counted else 1)


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    """A module subtree: its own ops and those of every module inside it."""

    path: str
    type: str
    calls: int
    params: int
    totals: Totals


# The model totals a baseline records and a diff compares.
HEADLINE = ("mult_adds", "flops", "params", "mem_access_bytes")


@dataclass(frozen=True)
class Analysis:
    """Everything ``netprof.analyze`` counted about one model.

    Results computed from it (timing, findings, a crosscheck) live beside it in
    ``netprof.pipeline.Result``, never in it, so the analysis knows nothing of them.
    """

    model: str
    mode: str
    inputs: tuple[Any, ...]
    ops: tuple[OpNode, ...]
    modules: tuple[ModuleSummary, ...]
    categories: dict[str, Totals]
    totals: Totals
    params: int
    uncounted: dict[str, int]
    notes: tuple[str, ...] = field(default=())
    phases: tuple[tuple[str, int], ...] = field(default=())  # (name, first op id): a training step's marks
    memory: MemoryProfile | None = None  # with capture(..., memory=True)

    def phase_of(self, op_id: int) -> str:
        """The phase op ``op_id`` ran in; ``forward`` for a run without marks."""
        name = "forward"
        for phase, first in self.phases:
            if first > op_id:
                break
            name = phase
        return name

    def phase_totals(self) -> dict[str, Totals]:
        """Totals per phase, in the order the phases ran (one, ``forward``, without marks)."""
        totals: dict[str, Totals] = {name: Totals() for name, _ in self.phases} or {"forward": Totals()}
        bounds = [first for _, first in self.phases[1:]] + [len(self.ops)]
        names = [name for name, _ in self.phases] or ["forward"]
        start = 0  # ops before the first mark, if any, count in the first phase
        for name, end in zip(names, bounds):
            totals[name] = totals[name] + sum((Totals.of(node) for node in self.ops[start:end]), Totals())
            start = end
        return totals

    def headline(self) -> dict[str, int]:
        """The totals a baseline records and a diff compares: ``HEADLINE``, in that order."""
        return {
            "mult_adds": self.totals.mult_adds,
            "flops": self.totals.flops,
            "params": self.params,
            "mem_access_bytes": self.totals.mem_access_bytes,
        }

    def module(self, path: str) -> ModuleSummary:
        for summary in self.modules:
            if summary.path == path:
                return summary
        raise KeyError(path)


def own_weights(module: nn.Module) -> list[torch.Tensor]:
    """The module's own parameters; for a quantized module, its packed weight and bias.

    Quantized conv and linear modules keep their weights packed, not as
    parameters: without this a quantized ResNet-18 would have 0 parameters.
    """
    weights = list(module.parameters(recurse=False))
    if hasattr(module, "_packed_params") and callable(getattr(module, "weight", None)):
        weights += [t for t in (module.weight(), module.bias()) if t is not None]
    return weights


def subtree_params(model: nn.Module) -> dict[str, int]:
    """Unique parameters under every module path, as ``module.parameters()`` would count them.

    One pass over the parameters, each credited once to every path above any of
    its owners; summing ``parameters()`` per module instead is quadratic in depth.
    """
    owners: dict[int, tuple[torch.Tensor, set[str]]] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        for parameter in own_weights(module):
            owners.setdefault(id(parameter), (parameter, set()))[1].add(path)
    params: dict[str, int] = defaultdict(int)
    for parameter, paths in owners.values():
        for path in {ancestor for owner in paths for ancestor in ancestors(owner)}:
            params[path] += parameter.numel()
    return params


def parameter_bytes(model: nn.Module) -> int:
    """Bytes the model's unique parameters take as stored (packed quantized weights included).

    A quantized tensor counts its values (one byte each for int8) and its per-channel scales and
    zero points; a tensor subclass (torchao's quantized weights) counts the tensors it holds, with
    values below 8 bits (``target_dtype`` int4, kept unpacked in int8) at their packed width.
    """
    unique = {id(t): t for module in model.modules() for t in own_weights(module)}
    return sum(stored_bytes(t) for t in unique.values())


_SUB_BYTE = re.compile(r"torch\.u?int([1-7])$")


def stored_bytes(tensor: torch.Tensor) -> int:
    """The bytes ``tensor`` takes in memory, as ``parameter_bytes`` counts them."""
    if tensor.is_quantized:
        values = tensor.numel() * tensor.element_size()
        if tensor.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            return (
                values
                + stored_bytes(tensor.q_per_channel_scales())
                + stored_bytes(tensor.q_per_channel_zero_points())
            )
        return values + 16  # one float64 scale and one int64 zero point
    if type(tensor) not in (torch.Tensor, nn.Parameter) and hasattr(tensor, "__tensor_flatten__"):
        names, _ = tensor.__tensor_flatten__()
        sub_byte = _SUB_BYTE.match(str(getattr(tensor, "target_dtype", "")))
        total = 0
        for name in names:
            inner = getattr(tensor, name)
            if name == "qdata" and sub_byte:  # int4 values held one per int8 byte: packed, bits / 8
                total += inner.numel() * int(sub_byte.group(1)) // 8
            else:
                total += stored_bytes(inner)
        return total
    return tensor.numel() * tensor.element_size()


def summarize_modules(
    capture: Capture, nodes: tuple[OpNode, ...], params: dict[str, int]
) -> tuple[ModuleSummary, ...]:
    per_module: dict[str, Totals] = defaultdict(Totals)
    for node in nodes:
        own = Totals.of(node)
        for path in ancestors(node.module):
            per_module[path] = per_module[path] + own
    return tuple(
        ModuleSummary(call.path, call.type, call.calls, params.get(call.path, 0), per_module[call.path])
        for call in capture.modules
    )


def build(
    model: nn.Module, capture: Capture, name: str, inputs: tuple[Any, ...], notes: tuple[str, ...]
) -> Analysis:
    params = subtree_params(model)
    nodes = label_unfused_attention(tuple(price(op) for op in capture.ops))
    categories: dict[str, Totals] = defaultdict(Totals)
    for node in nodes:
        categories[node.category] = categories[node.category] + Totals.of(node)
    totals = sum((categories[c] for c in categories), Totals())
    uncounted = Counter(node.op for node in nodes if not node.counted)
    fallback_notes = tuple(f"capture mode {failure}" for failure in capture.fallbacks)
    return Analysis(
        model=name,
        mode=capture.mode,
        inputs=inputs,
        ops=nodes,
        modules=summarize_modules(capture, nodes, params),
        categories=dict(sorted(categories.items(), key=lambda item: -item[1].mem_access_bytes)),
        totals=totals,
        params=params[""],
        uncounted=dict(uncounted.most_common()),
        notes=notes + fallback_notes,
        phases=capture.phases,
        memory=None
        if capture.allocations is None
        else profile(capture.allocations, [op.module for op in nodes]),
    )
