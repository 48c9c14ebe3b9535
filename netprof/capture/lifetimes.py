"""Storage lifetimes during a recorded run: allocated by an op, freed when the last tensor on it dies.

The recorder hands every tensor an op returns to ``Lifetimes.track``. Tensors
that share a storage (views, in-place results) are one allocation; the storage
is freed when the last of them is garbage collected, which in CPython is the
moment its last reference goes (PyTorch keeps a tensor's Python object alive while
autograd holds it for backward, so a saved activation lives until backward is
done with it). That is the life the caching allocator sees, without its caching.
Nothing here reads tensor data, so it works on meta and fake tensors.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from netprof.capture.ir import Allocation


def storage_key(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage()._cdata


@dataclass
class _Life:
    nbytes: int
    created: int
    phase: str
    module: str
    kind: str = ""
    freed: int | None = None
    tensors: int = 0


@dataclass
class Lifetimes:
    """Every storage the run touched; ``clock()`` says how many ops have run."""

    clock: Callable[[], int]
    lives: list[_Life] = field(default_factory=list)
    _current: dict[int, int] = field(default_factory=dict)  # storage key -> index of its live _Life
    _seen: dict[int, weakref.ref] = field(default_factory=dict)  # id(tensor) -> the tensor, tracked once

    def track(self, tensor: torch.Tensor, created: int, phase: str, module: str, kind: str = "") -> None:
        """Count ``tensor`` as one more reference to its storage (a new allocation if none is live)."""
        seen = self._seen.get(id(tensor))
        if seen is not None and seen() is tensor:
            return
        key = storage_key(tensor)
        index = self._current.get(key)
        if index is None:
            index = self._current[key] = len(self.lives)
            self.lives.append(_Life(tensor.untyped_storage().nbytes(), created, phase, module, kind))
        self._seen[id(tensor)] = weakref.ref(tensor)
        self.lives[index].tensors += 1
        weakref.finalize(tensor, self._release, key, index)

    def label(self, tensors: Iterable[torch.Tensor], kind: str) -> None:
        """Give the live storages of ``tensors`` a kind (``gradients``, ``optimizer_state``)."""
        for tensor in tensors:
            index = self._current.get(storage_key(tensor))
            if index is not None:
                self.lives[index].kind = kind

    def _release(self, key: int, index: int) -> None:
        life = self.lives[index]
        life.tensors -= 1
        if life.tensors == 0 and life.freed is None:
            life.freed = self.clock()
            if self._current.get(key) == index:
                del self._current[key]

    def allocations(self) -> tuple[Allocation, ...]:
        """The lives so far, frozen (a storage still referenced has ``freed=None``)."""
        return tuple(
            Allocation(life.nbytes, life.created, life.freed, life.kind, life.phase, life.module)
            for life in self.lives
        )
