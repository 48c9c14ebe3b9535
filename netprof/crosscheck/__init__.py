"""Run fvcore's ``FlopCountAnalysis`` on the same model and explain every difference.

fvcore counts one "flop" per multiply-add, the unit of netprof's ``mult_adds``, so
the two agree wherever both count the same ops. They part where fvcore's jit trace
sees something netprof's ATen capture sees differently; each row of a
``Crosscheck`` is one op family, with both counts and the reason, worked out from
what fvcore actually reported on this model (its per-operator and per-module
counts, its unsupported ops), never assumed:

* fvcore counts normalization, adaptive average pooling and resampling, which
  netprof's ``mult_adds`` leave out (its ``flops`` count them);
* fvcore has no handle for ``aten::scaled_dot_product_attention`` and none for the
  no-grad fast paths of ``nn.MultiheadAttention`` (``_native_multi_head_attention``)
  and ``nn.TransformerEncoderLayer``, so it counts 0 for them;
* element-wise ops are skipped or reported as unsupported, counting 0 on both sides.

Ops inside a module whose whole forward fvcore saw as one fused op are credited
to that fused op's row, whatever netprof saw them as, so a difference is never
spread over the wrong families.

fvcore runs the real model once, in eval mode and under ``torch.no_grad()``, as
its users run it. The model is left as it was: training flags are restored, and
the scope hooks fvcore adds are removed even when its trace raises (fvcore itself
leaves them on the model then). Its log warnings and the tracer's warnings are
captured and reported as counts, never printed.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netprof.analysis import Analysis, OpNode

# Row keys, in display order.
CONV = "conv"
MATMUL = "matmul"
ATTENTION = "attention"
FUSED = "fused attention fast path"
NORMALIZATION = "normalization"
POOLING = "pooling & reductions"
RESAMPLE = "resampling"
ELEMENTWISE = "elementwise"
OTHER = "other"
FAMILIES = (CONV, MATMUL, ATTENTION, FUSED, NORMALIZATION, POOLING, RESAMPLE, ELEMENTWISE, OTHER)

# The families whose fvcore count is a count of multiply-adds; the rest are
# fvcore's own per-element estimates, which netprof's mult_adds leave out.
MULT_ADD_FAMILIES = frozenset({CONV, MATMUL, ATTENTION, FUSED})

_NETPROF_CATEGORY_FAMILY = {
    "conv": CONV,
    "group_conv": CONV,
    "depthwise_conv": CONV,
    "gemm": MATMUL,
    "attention": ATTENTION,
    "normalization": NORMALIZATION,
    "pooling": POOLING,
    "reduction": POOLING,
    "elementwise": ELEMENTWISE,
}

# fvcore's names in by_operator() (its handles' names, namespace dropped).
_FVCORE_FAMILY = {
    "conv": CONV,
    "addmm": MATMUL,
    "linear": MATMUL,
    "matmul": MATMUL,
    "mm": MATMUL,
    "bmm": MATMUL,
    "einsum": MATMUL,
    "batch_norm": NORMALIZATION,
    "layer_norm": NORMALIZATION,
    "group_norm": NORMALIZATION,
    "instance_norm": NORMALIZATION,
    "adaptive_avg_pool2d": POOLING,
    "upsample_nearest2d": RESAMPLE,
    "upsample_bilinear2d": RESAMPLE,
    "grid_sampler": RESAMPLE,
}

# Ops that carry a whole attention block; fvcore's trace records them as one
# node when PyTorch takes the no-grad fast path.
_FUSED_OPS = {
    "aten::_native_multi_head_attention": "nn.MultiheadAttention",
    "aten::_transformer_encoder_layer_fwd": "nn.TransformerEncoderLayer",
}
_SDPA = "aten::scaled_dot_product_attention"

# fvcore normalization ops whose name is part of the netprof ops they cover
# (native_batch_norm...), to state fvcore's count per element.
_NORM_OPS = frozenset({"batch_norm", "layer_norm", "group_norm"})


@dataclass(frozen=True, slots=True)
class CrosscheckRow:
    """One op family as each counter saw it.

    Attributes:
        family: one of ``FAMILIES``.
        netprof_ops: the ATen overloads netprof priced in this family, largest first.
        fvcore_ops: fvcore's names for the same ops: its counted op names (``conv``,
            ``linear``...) and the ``aten::`` names it reported as unsupported.
        netprof_mult_adds: netprof's ``mult_adds`` for these ops.
        netprof_flops: netprof's ``flops`` for them, where normalization and the
            like are counted.
        fvcore_count: fvcore's count (one per multiply-add, or its per-element estimate).
        difference: ``netprof_mult_adds - fvcore_count``.
        reason: why the two differ, or why they agree, with the measured numbers.
        modules: where a difference sits, as ``(module, netprof, fvcore)``, largest
            first, for conv and matmul rows only (the others differ by design).
    """

    family: str
    netprof_ops: tuple[str, ...]
    fvcore_ops: tuple[str, ...]
    netprof_mult_adds: int
    netprof_flops: int
    fvcore_count: int
    difference: int
    reason: str
    modules: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class Crosscheck:
    """netprof against fvcore on one model.

    ``fvcore_total`` is ``FlopCountAnalysis.total()``; ``fvcore_mult_adds`` is its
    count over ``MULT_ADD_FAMILIES`` only, the figure comparable with
    ``netprof_total`` (``analysis.totals.mult_adds``). When fvcore could not run,
    ``ok`` is False, both fvcore figures are None, there are no rows, and the
    notes say why. ``unsupported`` is fvcore's ``unsupported_ops()`` and
    ``uncalled_modules`` its ``uncalled_modules()``. ``log_records``,
    ``tracer_warnings`` and ``other_warnings`` count what fvcore and the jit
    tracer would have printed.
    """

    model: str
    ok: bool
    netprof_total: int
    fvcore_total: int | None
    fvcore_mult_adds: int | None
    rows: tuple[CrosscheckRow, ...] = ()
    unsupported: tuple[tuple[str, int], ...] = ()
    uncalled_modules: tuple[str, ...] = ()
    log_records: int = 0
    tracer_warnings: int = 0
    other_warnings: int = 0
    fvcore_version: str | None = None
    notes: tuple[str, ...] = field(default=())

    def row(self, family: str) -> CrosscheckRow:
        for row in self.rows:
            if row.family == family:
                return row
        raise KeyError(family)

    @property
    def difference(self) -> int | None:
        """netprof's mult_adds minus fvcore's total."""
        return None if self.fvcore_total is None else self.netprof_total - self.fvcore_total


@dataclass(frozen=True)
class _FvcoreRun:
    """What fvcore reported, per module (canonical names, "" is the root)."""

    counts: dict[str, Counter[str]]
    unsupported: dict[str, Counter[str]]
    uncalled: frozenset[str]
    version: str
    log_records: int
    tracer_warnings: int
    other_warnings: int


class FvcoreFailed(Exception):
    """fvcore could not be imported or could not trace the model."""


def compare_with_fvcore(model: nn.Module, inputs: tuple[Any, ...], analysis: Analysis) -> Crosscheck:
    """Run fvcore on ``model(*inputs)`` and explain, per op family, where it differs from ``analysis``.

    ``inputs`` must be real tensors (fvcore's jit trace executes the model).
    Never raises because of fvcore: a failure is reported in ``notes``.
    """
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    netprof_total = analysis.totals.mult_adds
    try:
        run = _run_fvcore(model, inputs)
    except FvcoreFailed as error:
        return Crosscheck(analysis.model, False, netprof_total, None, None, notes=(str(error),))
    return _compare(analysis, run)


# fvcore ------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _captured_logging(name: str) -> Iterator[_Collect]:
    """Every record of logger ``name`` collected instead of printed."""
    logger = logging.getLogger(name)
    handler = _Collect()
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = saved


_HOOK_DICTS = (
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
)


@contextmanager
def _model_untouched(model: nn.Module) -> Iterator[None]:
    """Eval mode for the duration; training flags restored and any hook added meanwhile removed.

    fvcore registers a pre- and a post-hook on every module for its trace scopes
    and removes them only when the trace succeeds.
    """
    modules = list(model.modules())
    flags = [module.training for module in modules]
    hooks = [{name: set(getattr(module, name, {})) for name in _HOOK_DICTS} for module in modules]
    model.eval()
    try:
        yield
    finally:
        for module, training, before in zip(modules, flags, hooks):
            module.training = training
            for name, keys in before.items():
                table = getattr(module, name, None)
                if table is None:
                    continue
                for key in [k for k in table if k not in keys]:
                    del table[key]


def _one_line(error: BaseException, limit: int = 240) -> str:
    """The error's type and message on one line; the tracer's messages span several."""
    message = " ".join(str(error).split())
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _run_fvcore(model: nn.Module, inputs: tuple[Any, ...]) -> _FvcoreRun:
    """fvcore's per-module counts, its warnings counted rather than shown."""
    with warnings.catch_warnings(record=True) as caught, _captured_logging("fvcore") as logged:
        warnings.simplefilter("always")
        try:
            import fvcore
            from fvcore.nn import FlopCountAnalysis
        except ImportError as error:
            raise FvcoreFailed(f"fvcore is not installed ({_one_line(error)}); pip install fvcore") from error
        tracer_warning = getattr(torch.jit, "TracerWarning", ())
        try:
            with _model_untouched(model), torch.no_grad():
                counter = FlopCountAnalysis(model, inputs).tracer_warnings("all")
                by_module = counter.by_module_and_operator()
                unsupported = {name: Counter(counter.unsupported_ops(name)) for name in by_module}
                uncalled = frozenset(counter.uncalled_modules())
        except Exception as error:  # any failure of fvcore or of its jit trace
            raise FvcoreFailed(
                f"fvcore could not analyse the model: its jit trace or an op handle raised {_one_line(error)}"
            ) from error
    tracer = sum(1 for w in caught if tracer_warning and issubclass(w.category, tracer_warning))
    return _FvcoreRun(
        counts={name: Counter({op: _as_int(v) for op, v in ops.items()}) for name, ops in by_module.items()},
        unsupported=unsupported,
        uncalled=uncalled,
        version=getattr(fvcore, "__version__", "unknown"),
        log_records=len(logged.records),
        tracer_warnings=tracer,
        other_warnings=len(caught) - tracer,
    )


def _as_int(value: float) -> int:
    """fvcore's einsum and scaled element-wise handles return floats of whole numbers."""
    return round(float(value))


# comparison --------------------------------------------------------------------------------


def _parent(name: str) -> str | None:
    return None if name == "" else name.rpartition(".")[0]


def _own(per_module: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    """fvcore credits an op to its module and every ancestor; keep each module's own ops."""
    own = {name: Counter(ops) for name, ops in per_module.items()}
    for name, ops in per_module.items():
        parent = _parent(name)
        if parent is not None and parent in own:
            own[parent].subtract(ops)
    return {name: Counter({op: v for op, v in ops.items() if v}) for name, ops in own.items()}


def _inside(module: str, roots: Iterable[str]) -> str | None:
    for root in roots:
        if root == "" or module == root or module.startswith(root + "."):
            return root
    return None


def _base(op: str) -> str:
    """``aten.hardtanh_.default`` and ``aten::hardtanh_`` -> ``hardtanh``."""
    name = op.replace("::", ".").split(".")[1] if ("." in op or "::" in op) else op
    return name.rstrip("_")


def _fused_roots(run: _FvcoreRun) -> dict[str, str]:
    """Modules whose own ops include a fused attention op fvcore cannot count -> that op."""
    own = _own(run.unsupported)
    roots = {name: op for name, ops in own.items() for op in ops if op in _FUSED_OPS}
    # Keep the outermost of nested roots, so that nothing is credited twice.
    return {name: op for name, op in roots.items() if _inside(name, [r for r in roots if r != name]) is None}


def _unsupported_family(op: str, categories: dict[str, str]) -> str:
    if op == _SDPA:
        return ATTENTION
    if op in _FUSED_OPS:
        return FUSED
    base = _base(op)
    for netprof_base, category in categories.items():
        if netprof_base == base or netprof_base.startswith(base + "_"):
            return _NETPROF_CATEGORY_FAMILY.get(category, OTHER)
    return OTHER


def _netprof_family(node: OpNode, roots: dict[str, str]) -> str:
    if roots and _inside(node.module, roots) is not None:
        return FUSED
    family = _NETPROF_CATEGORY_FAMILY.get(node.category)
    if family is not None:
        return family
    if "upsample" in node.op or "grid_sampler" in node.op:
        return RESAMPLE
    return OTHER


@dataclass
class _Side:
    """One family's raw material while the rows are built."""

    netprof_ops: Counter[str] = field(default_factory=Counter)
    netprof_mult_adds: int = 0
    netprof_flops: int = 0
    fvcore_ops: Counter[str] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    netprof_nodes: list[OpNode] = field(default_factory=list)


def _compare(analysis: Analysis, run: _FvcoreRun) -> Crosscheck:
    roots = _fused_roots(run)
    sides: dict[str, _Side] = defaultdict(_Side)
    for node in analysis.ops:
        side = sides[_netprof_family(node, roots)]
        side.netprof_ops[node.op] += node.mult_adds
        side.netprof_mult_adds += node.mult_adds
        side.netprof_flops += node.flops
        side.netprof_nodes.append(node)

    fvcore_ops = Counter(run.counts.get("", Counter()))
    for root in roots:
        inside = run.counts.get(root, Counter())
        fvcore_ops.subtract(inside)
        sides[FUSED].fvcore_ops.update(inside)
    for op, count in fvcore_ops.items():
        if count:
            sides[_FVCORE_FAMILY.get(op, OTHER)].fvcore_ops[op] += count

    categories = {_base(node.op): node.category for node in analysis.ops}
    unsupported = run.unsupported.get("", Counter())
    for op, calls in unsupported.items():
        sides[_unsupported_family(op, categories)].unsupported[op] += calls

    own_fvcore = _own(run.counts)
    rows = []
    for family in FAMILIES:
        side = sides.get(family)
        if side is None or not (side.netprof_ops or side.fvcore_ops or side.unsupported):
            continue
        fvcore_count = sum(side.fvcore_ops.values())
        difference = side.netprof_mult_adds - fvcore_count
        modules: tuple[tuple[str, int, int], ...] = ()
        if difference and family in (CONV, MATMUL):
            modules = _where(family, side, own_fvcore)
        rows.append(
            CrosscheckRow(
                family=family,
                netprof_ops=tuple(op for op, _ in sorted(side.netprof_ops.items(), key=lambda kv: -kv[1])),
                fvcore_ops=tuple(op for op, _ in side.fvcore_ops.most_common())
                + tuple(sorted(side.unsupported)),
                netprof_mult_adds=side.netprof_mult_adds,
                netprof_flops=side.netprof_flops,
                fvcore_count=fvcore_count,
                difference=difference,
                reason=_REASONS[family](side, run, roots, modules),
                modules=modules,
            )
        )

    fvcore_total = sum(run.counts.get("", Counter()).values())
    fvcore_mult_adds = sum(row.fvcore_count for row in rows if row.family in MULT_ADD_FAMILIES)
    notes = []
    if run.uncalled:
        notes.append(
            f"fvcore saw no call of {len(run.uncalled)} module(s) ({_few(sorted(run.uncalled))}): their ops ran "
            "inside another op or through a functional call, so fvcore credits them to the caller, or not at all"
        )
    suppressed = run.log_records + run.tracer_warnings + run.other_warnings
    if suppressed:
        notes.append(
            f"suppressed while fvcore ran: {run.log_records} fvcore log record(s), "
            f"{run.tracer_warnings} jit TracerWarning(s), {run.other_warnings} other warning(s)"
        )
    return Crosscheck(
        model=analysis.model,
        ok=True,
        netprof_total=analysis.totals.mult_adds,
        fvcore_total=fvcore_total,
        fvcore_mult_adds=fvcore_mult_adds,
        rows=tuple(rows),
        unsupported=tuple(unsupported.most_common()),
        uncalled_modules=tuple(sorted(run.uncalled)),
        log_records=run.log_records,
        tracer_warnings=run.tracer_warnings,
        other_warnings=run.other_warnings,
        fvcore_version=run.version,
        notes=tuple(notes),
    )


def _where(family: str, side: _Side, own_fvcore: dict[str, Counter[str]]) -> tuple[tuple[str, int, int], ...]:
    """The modules where the two counts of a family differ, largest difference first."""
    netprof: Counter[str] = Counter()
    for node in side.netprof_nodes:
        netprof[node.module] += node.mult_adds
    fvcore: Counter[str] = Counter()
    for module, ops in own_fvcore.items():
        fvcore[module] += sum(v for op, v in ops.items() if _FVCORE_FAMILY.get(op) == family)
    differing = [(m, netprof[m], fvcore[m]) for m in set(netprof) | set(fvcore) if netprof[m] != fvcore[m]]
    return tuple(sorted(differing, key=lambda row: -abs(row[1] - row[2]))[:5])


# reasons: each states the measured numbers behind it -------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _calls(counter: Counter[str]) -> str:
    return ", ".join(f"{op} x{calls}" for op, calls in counter.most_common())


def _differs_in(modules: tuple[tuple[str, int, int], ...]) -> str:
    where = "; ".join(f"'{m or '(root)'}': netprof {_n(a)}, fvcore {_n(b)}" for m, a, b in modules)
    return f"the counts differ in {where}"


def _reason_products(noun: str, convention: str):
    def reason(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
        fvcore_count = sum(side.fvcore_ops.values())
        names = ", ".join(side.fvcore_ops) or "nothing"
        if side.netprof_mult_adds == fvcore_count:
            return f"equal: both count {convention}; fvcore names these {names}"
        text = f"{noun} counted differently ({names} in fvcore): {_differs_in(modules)}"
        if "matmul" in side.fvcore_ops and side.netprof_mult_adds > fvcore_count:
            text += (
                "; fvcore's matmul handle counts prod(first operand's shape) x N, so it drops batch "
                "dimensions that only the second operand has"
            )
        if side.unsupported:
            text += f"; fvcore has no handle for {_calls(side.unsupported)}"
        return text

    return reason


def _reason_attention(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    calls = side.unsupported.get(_SDPA, 0)
    fvcore_count = sum(side.fvcore_ops.values())
    if calls and not fvcore_count:
        return (
            f"fvcore has no handle for scaled_dot_product_attention ({calls} call(s)): it counts 0; "
            f"netprof counts Q.K^T and softmax.V, batch x heads x L x S x (E + Ev) multiply-adds"
        )
    if side.netprof_mult_adds == fvcore_count:
        return "equal"
    return f"netprof counts {_n(side.netprof_mult_adds)} multiply-adds in attention kernels; fvcore {_n(fvcore_count)}"


def _reason_fused(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    parts = []
    for op, owner in _FUSED_OPS.items():
        where = sorted(m for m, fused in roots.items() if fused == op)
        if not where:
            continue
        parts.append(
            f"fvcore's trace sees the no-grad fast path of {owner} as one {op} op "
            f"({side.unsupported.get(op, len(where))} call(s), in {_few(where)}) and has no handle for it"
        )
    fvcore_count = sum(side.fvcore_ops.values())
    counted = (
        "counts 0" if not fvcore_count else f"counts only {_n(fvcore_count)} ({', '.join(side.fvcore_ops)})"
    )
    return (
        "; ".join(parts) + f": fvcore {counted} for their projections and attention; netprof counts them all "
        f"({', '.join(op for op, v in side.netprof_ops.items() if v) or 'no op'} inside those modules)"
    )


def _per_element(count: int, elements: int) -> str:
    if elements and count % elements == 0:
        return f"{count // elements} per input element ({_n(count)} = {count // elements} x {_n(elements)})"
    if elements:
        return f"{_n(count)}, {count / elements:.2f} per input element of {_n(elements)}"
    return _n(count)


def _reason_normalization(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    parts = []
    for op, count in side.fvcore_ops.most_common():
        key = op if op in _NORM_OPS else None
        elements = sum(
            node.input_metas[0].numel
            for node in side.netprof_nodes
            if key and key in node.op and node.input_metas
        )
        parts.append(f"fvcore counts {op} as {_per_element(count, elements)}")
    if side.unsupported:
        parts.append(f"fvcore has no handle for {_calls(side.unsupported)}")
    if not parts:
        parts.append("fvcore counts nothing here")
    return (
        "; ".join(parts) + "; fvcore's rule: inference batch_norm 1 per element (+1 with affine weights), "
        "layer/group norm and training batch_norm 4 (+1 with affine); netprof's mult_adds exclude "
        f"normalization (its flops count it: {_n(side.netprof_flops)})"
    )


def _reason_pooling(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    parts = []
    for op, count in side.fvcore_ops.most_common():
        parts.append(f"fvcore counts {op} as {_n(count)} (1 per input element)")
    if side.unsupported:
        parts.append(f"fvcore has no handle for {_calls(side.unsupported)} (counts 0)")
    if not parts:
        parts.append("fvcore counts nothing here")
    return "; ".join(parts) + (
        f"; netprof's mult_adds exclude pooling and reductions (its flops count them: {_n(side.netprof_flops)})"
    )


def _reason_resample(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    parts = [f"fvcore counts {op} as {_n(count)}" for op, count in side.fvcore_ops.most_common()]
    parts.append("its rule: nearest 1 per output element, bilinear and grid_sampler 4")
    if side.unsupported:
        parts.append(f"fvcore has no handle for {_calls(side.unsupported)} (counts 0)")
    return "; ".join(parts) + (
        f"; netprof's mult_adds exclude resampling (its flops for these ops: {_n(side.netprof_flops)})"
    )


def _reason_elementwise(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    reported = {_base(op) for op in side.unsupported}
    silent = sorted({_base(op) for op in side.netprof_ops} - reported)
    parts = []
    if side.unsupported:
        parts.append(
            f"fvcore has no handle for {_calls(side.unsupported)} and reports them as unsupported (0)"
        )
    if silent:
        parts.append(f"it skips {_few(silent, 5)} without a report")
    parts.append(
        f"neither counts multiply-adds for element-wise ops; netprof's flops count them ({_n(side.netprof_flops)})"
    )
    if side.fvcore_ops:
        parts.append(f"fvcore counted {_calls(side.fvcore_ops)}")
    return "; ".join(parts)


def _reason_other(side: _Side, run: _FvcoreRun, roots: dict[str, str], modules) -> str:
    parts = []
    if side.fvcore_ops:
        parts.append(f"fvcore counts {_calls(side.fvcore_ops)}")
    if side.unsupported:
        parts.append(f"fvcore has no handle for {_calls(side.unsupported)} (0)")
    if side.netprof_mult_adds:
        parts.append(
            f"netprof counts {_n(side.netprof_mult_adds)} multiply-adds in {_few(list(side.netprof_ops))}"
        )
    else:
        parts.append("data movement, views and other ops carry no multiply-adds in netprof")
    return "; ".join(parts)


_REASONS = {
    CONV: _reason_products(
        "convolutions", "one multiply-add per weight element per output position, bias excluded"
    ),
    MATMUL: _reason_products("matrix products", "M x K x N multiply-adds per product, bias excluded"),
    ATTENTION: _reason_attention,
    FUSED: _reason_fused,
    NORMALIZATION: _reason_normalization,
    POOLING: _reason_pooling,
    RESAMPLE: _reason_resample,
    ELEMENTWISE: _reason_elementwise,
    OTHER: _reason_other,
}


def relative_difference(netprof: int, fvcore: int | None) -> float | None:
    """``(netprof - fvcore) / fvcore``; None when there is nothing to divide by."""
    if fvcore is None or fvcore == 0:
        return None
    return (netprof - fvcore) / fvcore


__all__ = [
    "FAMILIES",
    "MULT_ADD_FAMILIES",
    "Crosscheck",
    "CrosscheckRow",
    "compare_with_fvcore",
    "relative_difference",
]
