"""The captured operator graph: three small frozen records.

A capture is a list of ``CapturedOp`` in execution order. Every tensor an op reads is
described by a ``TensorMeta`` and by the id of the op that produced it (``None``
for model inputs, parameters, buffers and constants), so forks, joins and
parallel branches are visible as real data-flow edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """What the cost formulas need to know about a tensor: never its data."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    stride: tuple[int, ...]

    @classmethod
    def of(cls, tensor: torch.Tensor) -> TensorMeta:
        return cls(tuple(tensor.shape), tensor.dtype, tuple(tensor.stride()))

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes this tensor occupies in memory.

        A broadcast (stride-0) dimension is stored once, so an ``expand``-ed
        bias is read at its real size, not at the size it pretends to have.
        """
        stored = math.prod(size for size, step in zip(self.shape, self.stride) if step != 0)
        return stored * self.itemsize if self.shape else self.itemsize


@dataclass(frozen=True, slots=True)
class OpCall:
    """An op call as a cost formula sees it: tensors replaced by their ``TensorMeta``.

    ``args`` and ``kwargs`` keep the call's structure, so a formula reads
    ``call.arg(6, "transposed")`` exactly where the ATen schema puts it.
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[TensorMeta, ...]

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """The argument at schema position ``index`` or passed as keyword ``name``."""
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default)

    @property
    def out(self) -> TensorMeta:
        return self.outputs[0]


@dataclass(frozen=True, slots=True)
class CapturedOp:
    """One ATen operator call, as recorded, before it is priced.

    Attributes:
        id: position in execution order, also the key other ops use to refer to it.
        func: the ATen overload, e.g. ``aten.convolution.default``.
        module: innermost ``named_modules()`` path executing the op ("" is the root).
        inputs: producing op id of every distinct tensor argument (``None`` for
            model inputs, parameters, buffers and constants), in argument order.
        input_metas: those distinct tensor arguments, same order as ``inputs``.
        call: the whole call for the cost formulas.
        constant: its result depends on nothing the workload passed in, only on parameters,
            buffers, shapes and other constant ops' results (a Swin block's attention mask): a
            deployment runtime computes it once, when it loads the model.
    """

    id: int
    func: torch._ops.OpOverload
    module: str
    inputs: tuple[int | None, ...]
    input_metas: tuple[TensorMeta, ...]
    call: OpCall
    constant: bool = False

    @property
    def output_metas(self) -> tuple[TensorMeta, ...]:
        return self.call.outputs


@dataclass(frozen=True, slots=True)
class ModuleCall:
    """A module as the capture saw it: where it sits and how often it ran."""

    path: str
    type: str
    calls: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """One tensor storage's life in a captured run (``capture(..., memory=True)``).

    Attributes:
        nbytes: the storage's size.
        created: id of the op that allocated it; -1 for what existed before the run
            (parameters, buffers, inputs).
        freed: how many ops had run when its last tensor died (it was live for ops
            ``created`` to ``freed - 1``); ``None`` if it outlived the run.
        kind: ``parameters``, ``buffers``, ``inputs``, ``gradients``, ``optimizer_state``,
            or "" for what the run made and did not label (activations, temporaries).
        phase: the phase the run was in when it was allocated (``forward`` before any mark).
        module: the module whose op allocated it.
    """

    nbytes: int
    created: int
    freed: int | None
    kind: str
    phase: str
    module: str


@dataclass(frozen=True, slots=True)
class Capture:
    """Everything one run showed: ops in execution order and the modules that ran.

    ``phases`` are the workload's marks, ``(name, id of its first op)`` in order (a training
    step's forward, backward, optimizer); ``allocations`` every storage's life, when asked for.
    """

    ops: tuple[CapturedOp, ...]
    modules: tuple[ModuleCall, ...]
    mode: str
    fallbacks: tuple[str, ...] = ()  # why each mode tried before ``mode`` failed
    phases: tuple[tuple[str, int], ...] = ()
    allocations: tuple[Allocation, ...] | None = None
