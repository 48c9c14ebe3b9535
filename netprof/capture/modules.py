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

from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)

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
        self._calls: Counter[str] = Counter()
        self._handles: list[Any] = []

    @property
    def current(self) -> str:
        """Path of the innermost running module; "" (the root) outside any."""
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

    def _enter(self, module: nn.Module, args: Any) -> None:
        path = self._paths.get(id(module))
        if path is not None:
            self._stack.append(path)
            self._calls[path] += 1

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        path = self._paths.get(id(module))
        if path is not None and path in self._stack:
            # Pop up to and including this module: a child that raised and was
            # caught inside the parent never ran its own exit hook.
            while self._stack.pop() != path:
                pass

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
