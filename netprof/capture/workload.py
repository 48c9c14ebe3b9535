"""What to run on a model: a workload is the unit every capture and every timed pass executes.

Capture converts a workload's tensors (to meta or fake tensors), enters its mode
on the model and runs it under the recorder; timing moves it to the timed device
and runs it under its clock. Today there is one workload, an inference
``Forward``; a training step or a prefill/decode loop is another class with the
same four members, and every caller (analysis, timing, the CLI, sweeps) takes it
as is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils._pytree import tree_leaves, tree_map_only


@runtime_checkable
class Workload(Protocol):
    """The interface of a workload."""

    @property
    def inputs(self) -> Any:
        """Every tensor the workload feeds the model, as a pytree that callers may convert."""
        ...

    def mode(self, model: nn.Module) -> contextlib.AbstractContextManager[None]:
        """The state the model runs in (eval and no autograd for inference); undone by the caller."""
        ...

    def run(self, model: nn.Module, inputs: Any) -> Any:
        """Run on ``inputs``, a converted copy of ``self.inputs``."""
        ...

    def to(self, device: torch.device | str) -> Workload:
        """The same workload with its tensors on ``device``."""
        ...


@dataclass(frozen=True)
class Forward:
    """One inference forward pass, ``model(*args, **kwargs)``, in eval mode without autograd."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return self.args, dict(self.kwargs)

    @contextlib.contextmanager
    def mode(self, model: nn.Module) -> Iterator[None]:
        with torch.no_grad():
            model.eval()
            yield

    def run(self, model: nn.Module, inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
        args, kwargs = inputs
        return model(*args, **kwargs)

    def to(self, device: torch.device | str) -> Forward:
        args, kwargs = tree_map_only(torch.Tensor, lambda t: t.to(device), self.inputs)
        return Forward(args, kwargs)


def as_workload(inputs: Any) -> Workload:
    """A workload as given, else a ``Forward`` of example inputs (a tensor or a tuple of arguments)."""
    if isinstance(inputs, Workload):
        return inputs
    return Forward(inputs if isinstance(inputs, tuple) else (inputs,))


def input_tensors(workload: Workload) -> list[torch.Tensor]:
    """The tensors a workload feeds the model, in argument order."""
    return [leaf for leaf in tree_leaves(workload.inputs) if isinstance(leaf, torch.Tensor)]
