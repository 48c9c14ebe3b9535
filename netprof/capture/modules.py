"""Which module is executing: an ordered stack fed by global forward hooks.

FlopCounterMode's module tracker keeps a *set* of parents and credits every
enclosing module; netprof needs the innermost one, so this keeps a stack. The
hooks are global (the user's modules get none of their own) and are removed on
exit, also when the forward raises.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.autograd.graph import register_multi_grad_hook
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.utils._pytree import tree_leaves

from netprof.capture.ir import ModuleCall


class ModuleStack:
    """Tracks the innermost running module of ``root`` while entered."""

    def __init__(self, root: nn.Module) -> None:
        # named_modules() lists a shared module once, under its first path, so a
        # module called from two places is one path with two calls.
        named = list(root.named_modules())
        self._paths = {id(module): path for path, module in named}
        self._types = {path: type(module).__name__ for path, module in named}
        self._stack: list[str] = []
        self._backward: list[str] = []
        self._calls: Counter[str] = Counter()
        self._handles: list[Any] = []

    @property
    def current(self) -> str:
        """Path of the innermost running module; "" (the root) outside any.

        During a backward pass, the module whose forward made what is being
        differentiated: entered when the gradients of its outputs arrive, left when
        those of its inputs are computed (the scheme of ``torch.utils.module_tracker``).
        """
        if torch._C._current_graph_task_id() != -1:
            return self._backward[-1] if self._backward else ""
        return self._stack[-1] if self._stack else ""

    def calls(self) -> tuple[ModuleCall, ...]:
        """Every module of the root in ``named_modules()`` order, with its call count."""
        return tuple(ModuleCall(path, kind, self._calls[path]) for path, kind in self._types.items())

    @contextlib.contextmanager
    def uncounted(self) -> Iterator[None]:
        """Calls made inside are not counted (a workload's unrecorded set-up)."""
        saved = self._calls.copy()
        try:
            yield
        finally:
            self._calls = saved

    def forget_backward(self) -> None:
        """Drop what an earlier backward left entered (modules whose inputs needed no gradient)."""
        self._backward.clear()

    def _enter(self, module: nn.Module, args: Any) -> None:
        path = self._paths.get(id(module))
        if path is not None:
            self._stack.append(path)
            self._calls[path] += 1
            self._on_gradients(args, lambda *_: _leave_backward(self._backward, path))

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        path = self._paths.get(id(module))
        if path is not None and path in self._stack:
            _pop(self._stack, path)
            if not _passes_through(args, output):  # a module that returns its input has no backward
                self._on_gradients(output, lambda *_: _enter_backward(self._backward, path))

    def _on_gradients(self, value: Any, hook: Any) -> None:
        """Run ``hook`` when the gradients of the tensors in ``value`` have been computed."""
        if not torch.is_grad_enabled():
            return
        tensors = [t for t in tree_leaves(value) if isinstance(t, torch.Tensor) and t.requires_grad]
        if tensors:
            self._handles.append(register_multi_grad_hook(tensors, hook))

    def __enter__(self) -> ModuleStack:
        self._handles = [
            register_module_forward_pre_hook(self._enter),
            register_module_forward_hook(self._exit, always_call=True),
        ]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._stack.clear()
        self._backward.clear()


def _passes_through(args: Any, output: Any) -> bool:
    """Whether every tensor of ``output`` is one of ``args`` (``Dropout(0)``, ``Identity``)."""
    given = {id(t) for t in tree_leaves(args) if isinstance(t, torch.Tensor)}
    returned = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
    return bool(returned) and all(id(t) in given for t in returned)


def _inside(path: str, outer: str) -> bool:
    return outer == "" or path.startswith(outer + ".")


def _enter_backward(stack: list[str], path: str) -> None:
    """Push ``path``, below any module inside it already entered: the hooks of a module and of its
    parent fire on the same gradient, inner first."""
    index = len(stack)
    while index and _inside(stack[index - 1], path) and stack[index - 1] != path:
        index -= 1
    stack.insert(index, path)


def _leave_backward(stack: list[str], path: str) -> None:
    """Remove ``path`` and what is inside it; a sibling entered on the same gradient stays."""
    if path in stack:
        index = len(stack) - 1 - stack[::-1].index(path)
        stack[index:] = [entry for entry in stack[index + 1 :] if not _inside(entry, path)]


def _pop(stack: list[str], path: str) -> None:
    """Pop up to and including ``path``: a child that raised and was caught inside its parent
    never ran its own exit hook."""
    if path in stack:
        while stack.pop() != path:
            pass
