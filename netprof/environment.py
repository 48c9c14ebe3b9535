"""What a result was measured with: netprof's version, the software versions, the processor and the
thread count; and where netprof caches what it measured.

One place for the metadata every report, cache key and benchmark records, so that
two documents describe their machine in the same words.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Iterator
from pathlib import Path

import torch

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """The versions a report records: ``{"netprof": ..., "torch": ..., "python": ...}``."""
    return {"netprof": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _meminfo(key: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    return None


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can have (``MemAvailable``); None where it does not say."""
    return _meminfo("MemAvailable")


def total_memory() -> int | None:
    """The machine's physical memory (``MemTotal``); None where the kernel does not say."""
    return _meminfo("MemTotal")


@functools.cache
def processor() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def threads_set(threads: int | None) -> Iterator[int]:
    """``torch.set_num_threads(threads)`` for the block (``None``: leave it), restored after; yields the
    count in force, which every measurement records: the thread count changes every time."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/netprof``, else ``~/.cache/netprof``: where calibrations and device profiles
    are kept (read at each call, so that a test can point it elsewhere)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netprof"
