"""Run fvcore's ``FlopCountAnalysis`` once on the real model, leaving the model and the console as they were.

fvcore runs in eval mode and under ``torch.no_grad()``, as its users run it.
Training flags are restored, and the scope hooks fvcore adds are removed even
when its trace raises (fvcore itself leaves them on the model then). Its log
records and the tracer's warnings are counted, never printed.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class FvcoreRun:
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


def run_fvcore(model: nn.Module, inputs: tuple[Any, ...]) -> FvcoreRun:
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
    return FvcoreRun(
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


def _parent(name: str) -> str | None:
    return None if name == "" else name.rpartition(".")[0]


def own(per_module: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    """fvcore credits an op to its module and every ancestor; keep each module's own ops."""
    kept = {name: Counter(ops) for name, ops in per_module.items()}
    for name, ops in per_module.items():
        parent = _parent(name)
        if parent is not None and parent in kept:
            kept[parent].subtract(ops)
    return {name: Counter({op: v for op, v in ops.items() if v}) for name, ops in kept.items()}
