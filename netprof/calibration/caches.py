"""This CPU's L2 and last-level cache sizes, for the cache-aware terms of a device profile.

Read from ``/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}`` (Linux), else from
``lscpu -B -C=level,type,one-size`` output; ``(0, 0)`` when neither says, which turns both terms off.
What a process really gets of the last level can be much less (a virtual machine's share of a server's
cache): ``measured_pass_cache`` reads what it keeps of a pass off ``pack_run.cache_probe``'s prices.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from netprof.runtimes.pack_run import CACHES, cache_rows
from netprof.runtimes.reuse import PassCache, evicted_share

SYSFS = Path(CACHES)
_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}
_CLIFF = 1.2  # a probe whose price never rose by a fifth read no size past the cache
_GRID = 48  # sizes tried for what the cache holds and loses


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


def measured_pass_cache(curve: Sequence[Sequence[float]], l2_bytes: int = 0) -> PassCache:
    """What the last-level cache keeps of a pass, from ``cache_probe``'s ``[bytes, seconds per byte]``
    rows: the sizes it holds and loses whose evicted share (``reuse.evicted_share``, by which a pass's
    misses are priced) best explains the price as ``in_cache + share * (dram - in_cache)``, least
    squares over a grid of sizes from the smallest read past twice the L2 (which is faster still) to four
    times the largest, with ``dram - in_cache`` as its ``miss_s_per_byte``; unknown (``PassCache()``)
    where the price never rose by a fifth (no size read was past the cache)."""
    rows = np.array([(size, price) for size, price in curve if size > 2 * l2_bytes], dtype=float)
    if len(rows) < 4 or rows[:, 1].max() < _CLIFF * rows[:, 1].min():
        return PassCache()
    sizes, prices = rows[:, 0], rows[:, 1]
    grid = [int(size) for size in np.geomspace(sizes.min(), 4 * sizes.max(), _GRID)]
    best_error, best = np.inf, PassCache()
    for low, holds in enumerate(grid):
        for loses in grid[low + 1 :]:
            cache = PassCache(holds, loses)
            shares = np.array([evicted_share(int(size), cache) for size in sizes])
            features = np.stack([np.ones_like(shares), shares], axis=1)
            (in_cache, rise), *_ = np.linalg.lstsq(features, prices)
            error = float(np.sum((features @ (in_cache, rise) - prices) ** 2))
            if rise > 0 and error < best_error:
                best_error, best = error, PassCache(holds, loses, float(rise))
    return best


def pass_cache(curve: Sequence[Sequence[float]], l2_bytes: int, llc_bytes: int) -> PassCache:
    """What the last-level cache keeps of a pass: as ``curve`` (``cache_probe``'s rows) measured it, else
    as the ``llc_bytes`` Linux lists suggest (``PassCache.of_llc``, no price of a miss measured)."""
    measured = measured_pass_cache(curve, l2_bytes)
    return measured if measured.loses_bytes else PassCache.of_llc(llc_bytes)
