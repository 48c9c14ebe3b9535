"""This machine's roof: peak fp32 FLOP/s from a large GEMM, memory bandwidth from a large copy.

Measured once and cached as JSON under ``$XDG_CACHE_HOME/netprof`` (else
``~/.cache/netprof``), keyed by device and thread count: both change the roof.
The roofline (``netprof.roofline``) then says of each op whether its arithmetic
or its memory traffic bounds it, and its fastest possible time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from netprof.datafiles import write_text
from netprof.environment import cache_dir, processor, threads_set
from netprof.records import pick
from netprof.roofline import Roofline
from netprof.timing.clocks import clock_for
from netprof.timing.loop import Stop, time_calls
from netprof.timing.measurement import Measurement

CACHE_FILE = "calibration.json"
# Sizes large enough to leave every cache and reach steady state, small enough to take seconds.
_GEMM_N = {"cpu": 2048, "cuda": 8192}
_COPY_BYTES = {"cpu": 256 * 1024**2, "cuda": 1024**3}
_REPEATS = 5


@dataclass(frozen=True, slots=True)
class Calibration:
    """The roof of one device at one thread count.

    Attributes:
        key: the cache key (``device_key(device, threads)``).
        device: ``cpu`` or ``cuda:N``.
        threads: intra-op threads of the CPU measurement.
        peak_flops: FLOP/s of an ``n x n x n`` fp32 GEMM, counted ``2 * n**3`` (one multiply and one add).
        bandwidth: bytes/s of a copy, counted as bytes read plus bytes written.
            Both come from the fastest run, not the median: a roof is the most the
            machine was seen to do, and on a shared machine the median is slowed
            by neighbours. The medians and spreads stay in ``gemm`` and ``copy``.
        gemm, copy: the measurements both come from.
    """

    key: str
    device: str
    threads: int
    peak_flops: float
    bandwidth: float
    gemm: Measurement
    copy: Measurement

    @property
    def roof(self) -> Roofline:
        return Roofline(self.peak_flops, self.bandwidth)

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP per byte) above which an op is compute-bound."""
        return self.roof.ridge


def cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def device_key(device: str | torch.device, threads: int) -> str:
    """``cpu|<processor>|threads=2`` or ``cuda|<GPU name>|threads=2``: one entry per roof."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else processor()
    return f"{device.type}|{name}|threads={threads}"


def _timed(fn, device: torch.device, repeats: int, threads: int) -> Measurement:
    """``repeats`` calls of ``fn`` after one warm-up (allocation, thread pool start, library dispatch).

    On CUDA each call starts after an L2 flush, as a timed op does: at the default sizes (operands
    of 256 MiB, a 1 GiB copy) the flush changes nothing, but a smaller ``copy_bytes`` would
    otherwise time the L2's bandwidth and set a roof no op timed after a flush can reach.
    """
    return time_calls(fn, clock_for(device), Stop(repeat=repeats), warmup=1, threads=threads)


def _gemm(n: int, device: torch.device, repeats: int, threads: int) -> Measurement:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    out = torch.empty(n, n, device=device)
    return _timed(lambda: torch.mm(a, b, out=out), device, repeats, threads)


def _copy(numel: int, device: torch.device, repeats: int, threads: int) -> Measurement:
    src = torch.randn(numel, device=device)
    dst = torch.empty_like(src)
    return _timed(lambda: dst.copy_(src), device, repeats, threads)


def measure(
    device: str = "cpu",
    threads: int | None = None,
    *,
    gemm_n: int | None = None,
    copy_bytes: int | None = None,
    repeats: int = _REPEATS,
) -> Calibration:
    """Measure the roof now (seconds on a CPU); nothing is cached."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    n = gemm_n or _GEMM_N[dev.type]
    size = (copy_bytes or _COPY_BYTES[dev.type]) // 4
    with threads_set(threads) as in_force, torch.no_grad():
        gemm = _gemm(n, dev, repeats, in_force)
        copy = _copy(size, dev, repeats, in_force)
    return Calibration(
        key=device_key(dev, in_force),
        device=str(dev),
        threads=in_force,
        peak_flops=2 * n**3 / min(gemm.times),  # one multiply and one add per (i, j, k)
        bandwidth=2 * size * 4 / min(copy.times),  # every byte read once and written once
        gemm=gemm,
        copy=copy,
    )


def _measurement_dict(m: Measurement) -> dict[str, Any]:
    return {"times": list(m.times), "threads": m.threads}


def to_dict(calibration: Calibration) -> dict[str, Any]:
    return {
        **pick(calibration, "key", "device", "threads", "peak_flops", "bandwidth"),
        "gemm": _measurement_dict(calibration.gemm),
        "copy": _measurement_dict(calibration.copy),
    }


def from_dict(data: dict[str, Any]) -> Calibration:
    return Calibration(
        key=data["key"],
        device=data["device"],
        threads=int(data["threads"]),
        peak_flops=float(data["peak_flops"]),
        bandwidth=float(data["bandwidth"]),
        gemm=Measurement.of(data["gemm"]["times"], int(data["gemm"]["threads"])),
        copy=Measurement.of(data["copy"]["times"], int(data["copy"]["threads"])),
    )


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(device: str = "cpu", threads: int | None = None, path: Path | None = None) -> Calibration | None:
    """The cached roof for this device at this thread count (the current one if ``None``), if measured."""
    threads = threads if threads is not None else torch.get_num_threads()
    entry = _read_cache(path or cache_path()).get(device_key(device, threads))
    if entry is None:
        return None
    try:
        return from_dict(entry)
    except (KeyError, TypeError, ValueError):
        return None


def save(calibration: Calibration, path: Path | None = None) -> Path:
    """Add or replace this roof's entry in the cache file; returns the file."""
    path = path or cache_path()
    data = _read_cache(path)
    data[calibration.key] = to_dict(calibration)
    write_text(path, json.dumps(data, indent=2, sort_keys=True))
    return path
