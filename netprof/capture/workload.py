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

from netprof.capture.dispatch import label_memory, mark_phase, track_existing, unrecorded
from netprof.errors import NetprofError


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


OPTIMIZERS = ("sgd", "adam", "adamw")
LOSSES = ("sum", "cross_entropy")


class TrainingError(NetprofError):
    """A training step that cannot be taken: nothing to train, no tensor to take a loss of, a bad choice."""


@dataclass(frozen=True)
class TrainStep:
    """One training step: the forward, the backward of a loss, and the optimizer's step.

    The loss is the sum of the output (``sum``) or its cross-entropy against class 0
    (``cross_entropy``, for logits ``[batch, classes]`` or ``[batch, tokens, classes]``).
    The optimizer runs its single-tensor (for-loop) implementation, which is what
    PyTorch picks on the CPU. The recorded step is a steady-state one: an unrecorded
    first step creates the optimizer's state (SGD's momentum, Adam's moments), as in
    every step of a training loop but its first. Ops are marked ``forward``,
    ``backward`` and ``optimizer``; gradients and optimizer state are labelled for
    the memory record. The model's own ``.grad`` are put back afterwards.
    """

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    optimizer: str = "sgd"
    loss: str = "sum"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise TrainingError(
                f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"
            )
        if self.loss not in LOSSES:
            raise TrainingError(f"unknown loss {self.loss!r}: choose one of {', '.join(LOSSES)}")

    @property
    def inputs(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return self.args, dict(self.kwargs)

    @contextlib.contextmanager
    def mode(self, model: nn.Module) -> Iterator[None]:
        parameters = list(model.parameters())
        if not any(p.requires_grad for p in parameters):
            raise TrainingError(f"{type(model).__name__} has no trainable parameter: nothing to train")
        grads = [p.grad for p in parameters]
        try:
            with torch.enable_grad():
                model.train()
                yield
        finally:
            for parameter, grad in zip(parameters, grads):
                parameter.grad = grad

    def run(self, model: nn.Module, inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
        args, kwargs = inputs
        trained = [p for p in model.parameters() if p.requires_grad]
        optimizer = self._optimizer(trained)
        # A first step, unrecorded, so that the recorded one is a steady-state step: the optimizer's
        # state exists before it starts, and its gradients are made anew (zero_grad(set_to_none=True)).
        with unrecorded():
            self._loss(model(*args, **kwargs)).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        state = [
            t for entry in optimizer.state.values() for t in entry.values() if isinstance(t, torch.Tensor)
        ]
        track_existing(state, "optimizer_state")
        mark_phase("forward")
        loss = self._loss(model(*args, **kwargs))
        mark_phase("backward")
        loss.backward()
        mark_phase("optimizer")
        optimizer.step()
        label_memory((p.grad for p in trained if p.grad is not None), "gradients")

    def _loss(self, output: Any) -> torch.Tensor:
        logits = _first_tensor(output)
        if logits is None or not logits.is_floating_point():
            raise TrainingError(
                f"the forward returned {type(output).__name__}, no floating-point tensor to take a loss of"
            )
        if self.loss == "sum":
            return logits.sum()
        if logits.dim() < 2:
            raise TrainingError(
                f"cross_entropy needs logits [batch, classes], got shape {tuple(logits.shape)}"
            )
        flat = logits.reshape(-1, logits.shape[-1])
        target = torch.zeros(flat.shape[0], dtype=torch.long, device=flat.device)
        return nn.functional.cross_entropy(flat, target)

    def _optimizer(self, parameters: list[torch.Tensor]) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(parameters, lr=0.01, momentum=0.9, foreach=False)
        kind = torch.optim.Adam if self.optimizer == "adam" else torch.optim.AdamW
        return kind(parameters, lr=1e-3, foreach=False)

    def to(self, device: torch.device | str) -> TrainStep:
        args, kwargs = tree_map_only(torch.Tensor, lambda t: t.to(device), self.inputs)
        return TrainStep(args, kwargs, self.optimizer, self.loss)


def _first_tensor(output: Any) -> torch.Tensor | None:
    """The output itself, or the first tensor of a tuple, list, dict or model output (``.logits``)."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    return next((leaf for leaf in tree_leaves(output) if isinstance(leaf, torch.Tensor)), None)
