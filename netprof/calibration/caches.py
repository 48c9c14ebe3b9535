"""This CPU's L2 and last-level cache sizes, for the cache-aware terms of a device profile.

Read from ``/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}`` (Linux), else from
``lscpu -B -C=level,type,one-size`` output; ``(0, 0)`` when neither says, which turns both terms off.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from netprof.runtimes.pack_run import CACHES, cache_rows

SYSFS = Path(CACHES)
_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``"512K"`` -> 524288, ``"16384K"`` -> 16 MiB, ``"1048576"`` -> 1048576 (bytes)."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in _UNITS:
        return int(float(text[:-1]) * _UNITS[text[-1]])
    return int(text)


def from_levels(levels: list[tuple[int, str, int]]) -> tuple[int, int]:
    """``(l2_bytes, llc_bytes)`` from ``(level, type, bytes)`` rows: the unified or data caches only."""
    sizes: dict[int, int] = {}
    for level, kind, size in levels:
        if kind.lower() in ("unified", "data"):
            sizes[level] = max(sizes.get(level, 0), size)
    if not sizes:
        return 0, 0
    return sizes.get(2, 0), sizes[max(sizes)]


def parse_row(row: Sequence[str]) -> tuple[int, str, int]:
    """``(level, type, bytes)`` of one ``[level, type, size]`` row of text; ``ValueError`` if it is not one."""
    level, kind, size = row
    return int(level), str(kind).strip(), parse_size(str(size))


def _parsed(rows: Iterable[Sequence[str]]) -> list[tuple[int, str, int]]:
    found = []
    for row in rows:
        try:
            found.append(parse_row(row))
        except (TypeError, ValueError):
            continue
    return found


def _lscpu() -> list[tuple[int, str, int]]:
    try:
        out = subprocess.run(
            ["lscpu", "-B", "-C=level,type,one-size"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return _parsed(line.split()[:3] for line in out.splitlines()[1:])


def cache_sizes(root: Path = SYSFS) -> tuple[int, int]:
    """``(l2_bytes, llc_bytes)`` of this machine's first CPU; ``(0, 0)`` when unknown."""
    return from_levels(_parsed(cache_rows(str(root))) or _lscpu())
