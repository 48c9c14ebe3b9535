"""Why each family's two counts differ, in words that carry the measured numbers.

A reason states the convention of each side and the counts behind it, so that a
reader can check the difference by hand; nothing in it is assumed about fvcore
that this model's run did not show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from netprof.crosscheck.families import (
    ATTENTION,
    CONV,
    ELEMENTWISE,
    FUSED,
    FUSED_OPS,
    MATMUL,
    NORMALIZATION,
    OTHER,
    POOLING,
    RESAMPLE,
    SDPA,
    Side,
    base_name,
)
from netprof.crosscheck.fvcore_run import FvcoreRun

Modules = tuple[tuple[str, int, int], ...]
Reason = Callable[[Side, dict[str, str], Modules], str]

# fvcore normalization ops whose name is part of the netprof ops they cover
# (native_batch_norm...), to state fvcore's count per element.
_NORM_OPS = frozenset({"batch_norm", "layer_norm", "group_norm"})


def _n(value: int) -> str:
    return f"{value:,}"


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _calls(counter: Counter[str]) -> str:
    return ", ".join(f"{op} x{calls}" for op, calls in counter.most_common())


def _differs_in(modules: Modules) -> str:
    where = "; ".join(f"'{m or '(root)'}': netprof {_n(a)}, fvcore {_n(b)}" for m, a, b in modules)
    return f"the counts differ in {where}"


def _reason_products(noun: str, convention: str) -> Reason:
    def reason(side: Side, roots: dict[str, str], modules: Modules) -> str:
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


def _reason_attention(side: Side, roots: dict[str, str], modules: Modules) -> str:
    calls = side.unsupported.get(SDPA, 0)
    fvcore_count = sum(side.fvcore_ops.values())
    if calls and not fvcore_count:
        return (
            f"fvcore has no handle for scaled_dot_product_attention ({calls} call(s)): it counts 0; "
            f"netprof counts Q.K^T and softmax.V, batch x heads x L x S x (E + Ev) multiply-adds"
        )
    if side.netprof_mult_adds == fvcore_count:
        return "equal"
    return f"netprof counts {_n(side.netprof_mult_adds)} multiply-adds in attention kernels; fvcore {_n(fvcore_count)}"


def _reason_fused(side: Side, roots: dict[str, str], modules: Modules) -> str:
    parts = []
    for op, owner in FUSED_OPS.items():
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


def _reason_normalization(side: Side, roots: dict[str, str], modules: Modules) -> str:
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


def _reason_pooling(side: Side, roots: dict[str, str], modules: Modules) -> str:
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


def _reason_resample(side: Side, roots: dict[str, str], modules: Modules) -> str:
    parts = [f"fvcore counts {op} as {_n(count)}" for op, count in side.fvcore_ops.most_common()]
    parts.append("its rule: nearest 1 per output element, bilinear and grid_sampler 4")
    if side.unsupported:
        parts.append(f"fvcore has no handle for {_calls(side.unsupported)} (counts 0)")
    return "; ".join(parts) + (
        f"; netprof's mult_adds exclude resampling (its flops for these ops: {_n(side.netprof_flops)})"
    )


def _reason_elementwise(side: Side, roots: dict[str, str], modules: Modules) -> str:
    reported = {base_name(op) for op in side.unsupported}
    silent = sorted({base_name(op) for op in side.netprof_ops} - reported)
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


def _reason_other(side: Side, roots: dict[str, str], modules: Modules) -> str:
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


REASONS: dict[str, Reason] = {
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


def run_notes(run: FvcoreRun) -> tuple[str, ...]:
    """What the rows cannot say: modules fvcore never saw called, and what it would have printed."""
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
    return tuple(notes)
