"""The recording mode: every ATen op of a forward pass, with its data-flow edges.

Capture happens at the ATen level (``__torch_dispatch__``), below autograd and
below every Python-level API, so functional calls, operators such as ``x @ w``,
fused fast paths and attention kernels are all seen; module hooks and tracing
miss some of them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_leaves, tree_unflatten
from torch.utils.weak import WeakIdKeyDictionary

from netprof.capture.ir import CapturedOp, OpCall, TensorMeta
from netprof.capture.modules import ModuleStack
from netprof.errors import one_line


class OpFailed(Exception):
    """An op raised during capture; says which op and in which module."""

    def __init__(self, op: str, module: str, cause: BaseException) -> None:
        where = f"module '{module}'" if module else "the root module"
        super().__init__(f"{op} in {where} raised {one_line(cause)}")
        self.op, self.module, self.cause = op, module, cause


def _meta_or_same(value: Any) -> Any:
    return TensorMeta.of(value) if isinstance(value, torch.Tensor) else value


class _RecordingMode(TorchDispatchMode):
    def __init__(self, modules: ModuleStack) -> None:
        super().__init__()
        self.ops: list[CapturedOp] = []
        self._modules = modules
        self._producers: WeakIdKeyDictionary = WeakIdKeyDictionary()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            out = func(*args, **kwargs)
        except OpFailed:
            raise
        except Exception as error:
            raise OpFailed(str(func), self._modules.current, error) from error
        if func.namespace != "prim":
            self._record(func, args, kwargs, out)
        return out

    def _record(self, func, args, kwargs, out) -> None:
        flat, spec = tree_flatten((args, kwargs))
        inputs: list[int | None] = []
        input_metas: list[TensorMeta] = []
        seen: set[int] = set()
        for value in flat:
            # A tensor passed twice (x * x) is read once.
            if isinstance(value, torch.Tensor) and id(value) not in seen:
                seen.add(id(value))
                inputs.append(self._producers.get(value))
                input_metas.append(TensorMeta.of(value))
        call_args, call_kwargs = tree_unflatten([_meta_or_same(v) for v in flat], spec)
        results = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        op_id = len(self.ops)
        call = OpCall(tuple(call_args), call_kwargs, tuple(TensorMeta.of(t) for t in results))
        self.ops.append(
            CapturedOp(
                id=op_id,
                func=func,
                module=self._modules.current,
                inputs=tuple(inputs),
                input_metas=tuple(input_metas),
                call=call,
            )
        )
        for tensor in results:
            self._producers[tensor] = op_id


class Recorder:
    """Context manager recording every op run inside it, attributed to ``root``'s modules."""

    def __init__(self, root: torch.nn.Module) -> None:
        self.modules = ModuleStack(root)
        self._mode = _RecordingMode(self.modules)

    @property
    def ops(self) -> tuple[CapturedOp, ...]:
        return tuple(self._mode.ops)

    def __enter__(self) -> Recorder:
        self.modules.__enter__()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._mode.__exit__(*exc_info)
        finally:
            self.modules.__exit__(*exc_info)
