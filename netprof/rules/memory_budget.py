"""M1: the live activations of every block must fit the device's memory budget (doc: ``rules/M1.md``).

MCUNet (Lin et al., NeurIPS 2020): on a microcontroller the weights sit in flash and what
must fit the SRAM is the activations live at once, which peak in the first stages. Per
block, this rule takes the most bytes of activations and inputs live at any op of the
model's forward (``Analysis.memory``, from a capture with ``memory=True``) and flags the
blocks above ``budget_bytes``, naming the largest tensors live at the block's worst op.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from netprof.analysis import Analysis
from netprof.analysis.memory import MemoryProfile, kind_of
from netprof.module_paths import ancestors
from netprof.rules.base import Finding, RuleContext, RuleError, RuleSettings, Severity, Status, finding

ID = "M1"
OPTION = "budget_bytes"
LIVE_KINDS = ("inputs", "activations")  # what must sit in SRAM; weights and buffers live in flash
NAMED = 3  # how many of the largest live tensors a finding names


@dataclass(frozen=True, slots=True)
class LiveTensor:
    """One storage live at an op: its size, kind, the module whose op made it (``created`` -1: before the
    run) and its shape when the op that made it says so."""

    nbytes: int
    kind: str
    module: str
    created: int
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes": self.nbytes,
            "kind": self.kind,
            "module": self.module,
            "created_op": self.created,
            "shape": None if self.shape is None else list(self.shape),
        }

    def text(self) -> str:
        shape = "" if self.shape is None else " " + "x".join(map(str, self.shape))
        if self.kind == "inputs":
            return f"{kib(self.nbytes)}{shape} input"
        return f"{kib(self.nbytes)}{shape} from {self.module or '(model)'}"


def kib(n: int) -> str:
    """Bytes in the binary units device memories are quoted in: ``27648`` -> ``27.0 KiB``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def budget_of(settings: Mapping[str, RuleSettings]) -> int | None:
    """The budget M1 will check with these settings, None when it will not run or has no budget:
    what tells a caller to capture with ``memory=True``."""
    setting = settings.get(ID, RuleSettings())
    budget = setting.options.get(OPTION, 0)
    if setting.enabled is False or not isinstance(budget, int) or budget <= 0:
        return None
    return budget


def live_bytes(memory: MemoryProfile) -> list[int]:
    """Bytes of activations and inputs live at each op."""
    return [sum(column) for column in zip(*(memory.timeline[kind] for kind in LIVE_KINDS))]


def forward_units(analysis: Analysis, blocks: Iterable[str]) -> dict[str, list[int]]:
    """The forward's op ids by the unit that reports them, each op in exactly one: its innermost block
    (G3's blocks), else the outermost module around it holding no block (a stem, a head), else its own
    module (an op of a module around blocks, the root's own ops); units in the order they first run."""
    blocks = set(blocks)
    holding = {path for block in blocks for path in ancestors(block)}
    units: dict[str, list[int]] = {}
    for op in analysis.ops:
        if analysis.phase_of(op.id) != "forward":
            continue
        around = ancestors(op.module)
        inside = [path for path in around if path in blocks]
        if inside:
            unit = inside[-1]
        else:
            unit = next((path for path in around[1:] if path not in holding), op.module)
        units.setdefault(unit, []).append(op.id)
    return units


def _shape(analysis: Analysis, created: int, nbytes: int) -> tuple[int, ...] | None:
    metas = analysis.ops[created].output_metas if 0 <= created < len(analysis.ops) else analysis.inputs
    return next((m.shape for m in metas if getattr(m, "nbytes", None) == nbytes), None)


def largest_live(analysis: Analysis, memory: MemoryProfile, op: int, count: int = NAMED) -> list[LiveTensor]:
    """The ``count`` largest activations and inputs live at ``op``."""
    held = [
        (a.nbytes, kind_of(a), a.module, a.created) for a in memory.live_at(op) if kind_of(a) in LIVE_KINDS
    ]
    return [
        LiveTensor(nbytes, kind, module, created, _shape(analysis, created, nbytes))
        for nbytes, kind, module, created in held[:count]
    ]


class MemoryBudget:
    id: ClassVar[str] = ID
    title: ClassVar[str] = "memory-budget"
    tags: ClassVar[tuple[str, ...]] = ("memory", "mcunet")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.ERROR
    default_options: ClassVar[Mapping[str, Any]] = {OPTION: 0}
    option_docs: ClassVar[Mapping[str, str]] = {
        OPTION: "most bytes of activations and inputs live at any op (0: no budget, nothing is checked);"
        " set by --memory-budget and [tool.netprof] memory-budget",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        budget = options[OPTION]
        if budget < 0:
            raise RuleError(f"rule {ID}: option {OPTION!r} must be positive (0: no budget), got {budget}")
        if budget == 0:
            return
        analysis = context.analysis
        memory = analysis.memory
        if memory is None:
            raise RuleError(
                f"rule {ID} needs the memory profile of the run: analyze with memory=True"
                " (netprof check does when a memory budget is set)"
            )
        live = live_bytes(memory)
        units = forward_units(analysis, context.metrics.blocks)
        model_peak = max((live[i] for ops in units.values() for i in ops), default=0)
        for unit, ops in units.items():
            worst = max(ops, key=lambda i: live[i])  # the first op at the block's most
            if live[worst] <= budget:
                continue
            yield self._finding(context, unit, ops, worst, live[worst], budget, model_peak)

    def _finding(
        self,
        context: RuleContext,
        unit: str,
        ops: list[int],
        worst: int,
        peak: int,
        budget: int,
        model_peak: int,
    ) -> Finding:
        analysis = context.analysis
        memory = analysis.memory
        assert memory is not None
        op = analysis.ops[worst]
        named = largest_live(analysis, memory, worst)
        over = peak - budget
        shrink = peak / budget
        weights = memory.timeline["parameters"][worst] + memory.timeline["buffers"][worst]
        if unit in context.metrics.blocks:
            where = "this block's worst op"
        else:
            where = "the worst of the model's own ops" if not unit else "this module's worst op"
        largest = f"; largest live: {', '.join(t.text() for t in named)}" if named else ""
        found = finding(
            self,
            context,
            unit,
            message=(
                f"{kib(peak)} of activations and inputs live at {where} ({op.op} in"
                f" {op.module or '(model)'}), over the {kib(budget)} budget by {kib(over)}{largest}"
            ),
            measured=peak,
            threshold=budget,
            cost_bytes=over,
            fix=(
                f"shrink what is live here {shrink:.2f}x: lower the resolution at this stage (live bytes scale"
                f" with height x width: {math.floor(100 / math.sqrt(shrink))}% of each side fits), give its widest tensors"
                f"{' (named above)' if named else ''} fewer channels, or run the stages up to here patch by"
                " patch (MCUNetV2's patch-based inference) so that only one patch's activations are live"
            ),
            evidence={
                "live_bytes": peak,
                "budget_bytes": budget,
                "over_bytes": over,
                "worst_op": worst,
                "worst_op_name": op.op,
                "worst_op_module": op.module,
                "by_kind": {kind: memory.timeline[kind][worst] for kind in LIVE_KINDS},
                "weight_bytes": weights,
                "model_peak_bytes": model_peak,
                "ops": len(ops),
                "largest_live": [t.to_dict() for t in named],
            },
        )
        return replace(found, cost_share=min(found.cost_share, 1.0))


RULE = MemoryBudget()
