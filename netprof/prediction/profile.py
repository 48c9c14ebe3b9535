"""A device profile: one latency model per op kind, fitted on synthetic micro-benchmarks of one machine.

Per op of kind ``k``, ``seconds = overhead_s[k] + s_per_flop[k] * flops + s_per_byte[k] * mem_access_bytes
+ s_per_weight_byte[k] * weight_bytes``: a fixed cost of launching the op, a compute
term and a memory term (a roofline with per-kind efficiency whose sum, not max, lets
one fit absorb the curve between the two roofs), and for convolutions the cost of
laying out the weight again on every call, as CPU backends do in eager mode (for an int8 convolution,
its input when that is not channels-last: ``netprof.prediction.kinds.features``). Two terms shared by all
kinds are cache-aware: ``s_per_byte_past_llc * max(0, mem_access_bytes - pass_cache_bytes)`` (bytes the
last-level cache cannot hold come from DRAM; the size is what a probe found the cache keeps of a pass,
else what the system lists) and ``s_per_transient_byte`` times a depthwise or grouped convolution's
per-call buffers when larger than ``fresh_pages_bytes``, 8 MiB (``netprof.prediction.kinds.transient_bytes``:
in a network they are fresh pages, a page fault each 4 KiB). Two more price what an op costs in a
network beyond its one-op loop: ``network_op_s`` per op that runs a kernel and ``s_per_loop_cached_byte``
times its bytes when they fit in L2 (``netprof.prediction.kinds.loop_cached_bytes``: a loop keeps them
there, a network does not). The fresh-pages price is held at most at what a page fault costs a byte
here, measured at calibration (``page_fault_s_per_byte``, ``netprof.calibration.pages``). The cache
sizes are recorded in the profile (``caches``); a profile without them or without a term (an older
netprof's) prices that term at zero. A model adds ``per_module_call_s`` for every module call and
``per_run_s`` once. The document is versioned (``netprof.profile/1``), carries the
raw micro-benchmark points it was fitted on, and is a file a user can make on the
target machine and use on another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netprof.datafiles import read_json, write_text
from netprof.environment import cache_dir
from netprof.errors import NetprofError
from netprof.prediction.kinds import FRESH_PAGES_BYTES, Kind
from netprof.records import pick

SCHEMA = "netprof.profile/1"
# The features every kind shares, a point's sums over its ops, and the profile's price of each, in order.
CACHE_FEATURES = ("past_llc_bytes", "transient_bytes", "network_ops", "loop_cached_bytes")
SHARED_TERMS = ("s_per_byte_past_llc", "s_per_transient_byte", "network_op_s", "s_per_loop_cached_byte")


@dataclass(frozen=True, slots=True)
class KindModel:
    """The latency of one op of a kind, from its counts; ``benches`` micro-benchmarks had such ops."""

    overhead_s: float
    s_per_flop: float
    s_per_byte: float
    s_per_weight_byte: float = 0.0
    benches: int = 0

    def terms(self, flops: int, mem_access_bytes: int, weight_bytes: int) -> tuple[float, float, float]:
        """``(overhead, compute, memory)`` seconds of one op; the weight's layout is memory work."""
        memory = self.s_per_byte * mem_access_bytes + self.s_per_weight_byte * weight_bytes
        return self.overhead_s, self.s_per_flop * flops, memory


@dataclass(frozen=True, slots=True)
class BenchPoint:
    """One micro-benchmark: its counts per kind (from a meta capture) and its measured plain latency.

    ``group`` is ``"op"`` for one-op and framework benchmarks, ``"network"`` for synthetic networks.
    ``past_llc_bytes``, ``transient_bytes``, ``network_ops`` and ``loop_cached_bytes`` are the sums over
    its ops of the cache-aware features; all but the first are 0 for a one-op benchmark, whose loop
    reuses the same pages and keeps what fits in L2 there every pass.
    """

    name: str
    kinds: Mapping[str, tuple[int, int, int, int]]  # kind -> (ops, flops, mem_access_bytes, weight_bytes)
    module_calls: int
    seconds: float
    iqr_s: float
    group: str = "op"
    past_llc_bytes: int = 0
    transient_bytes: int = 0
    network_ops: int = 0  # ops that run a kernel, in a synthetic network
    loop_cached_bytes: int = 0


@dataclass(frozen=True)
class DeviceProfile:
    device: str  # "cpu" or "cuda"
    processor: str  # the CPU's or GPU's name
    threads: int
    dtype: str
    versions: Mapping[str, str]
    kinds: Mapping[Kind, KindModel]
    per_module_call_s: float
    per_run_s: float
    points: tuple[BenchPoint, ...] = ()
    l2_bytes: int = 0  # per-core L2 cache, recorded for the reader; 0: unknown
    llc_bytes: int = 0  # last-level cache as the system lists it; 0: unknown
    cache_holds_bytes: int = 0  # what the probe found the last level keeps of a pass; 0: not measured
    page_fault_s_per_byte: float = 0.0  # what a byte of fresh pages costs, measured; 0: not measured
    s_per_byte_past_llc: float = 0.0
    s_per_transient_byte: float = 0.0
    fresh_pages_bytes: int = FRESH_PAGES_BYTES  # the line of transient_bytes the profile was fitted with
    network_op_s: float = 0.0  # what an op costs in a network beyond its one-op loop
    s_per_loop_cached_byte: float = 0.0
    fit_mape: float | None = None  # on the micro-benchmarks it was fitted on, not on any model
    calibration_s: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def pass_cache_bytes(self) -> int:
        """The bytes an op may move from cache, past which the rest comes from DRAM: what the probe found
        the cache keeps (a virtual machine's share of a server's cache), else what the system lists; 0:
        unknown, bytes past it are not priced."""
        return self.cache_holds_bytes or self.llc_bytes

    @property
    def key(self) -> str:
        return f"{self.device}|{self.processor}|threads={self.threads}|{self.dtype}"


class ProfileError(NetprofError):
    """A profile file is missing, corrupt, of another schema, or for another device than asked."""


def to_dict(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        **pick(profile, "device", "processor", "threads", "dtype"),
        "versions": dict(profile.versions),
        "kinds": {
            str(kind): pick(model, "overhead_s", "s_per_flop", "s_per_byte", "s_per_weight_byte", "benches")
            for kind, model in profile.kinds.items()
        },
        **pick(profile, "per_module_call_s", "per_run_s", "fit_mape", "calibration_s"),
        "caches": {
            "l2_bytes": profile.l2_bytes,
            "llc_bytes": profile.llc_bytes,
            "holds_bytes": profile.cache_holds_bytes,
        },
        **pick(profile, *SHARED_TERMS, "fresh_pages_bytes", "page_fault_s_per_byte"),
        "notes": list(profile.notes),
        "points": [
            {
                "name": point.name,
                "kinds": {kind: list(counts) for kind, counts in point.kinds.items()},
                **pick(point, "module_calls", "seconds", "iqr_s", "group", *CACHE_FEATURES),
            }
            for point in profile.points
        ],
    }


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ProfileError(f"{where}: {key!r} must be a non-negative number, got {value!r}")
    return float(value)


def _optional(data: Mapping[str, Any], key: str, where: str) -> float:
    return _number(data, key, where) if key in data else 0.0


def _cache_size(caches: Mapping[str, Any], key: str, where: str) -> int:
    """A size in ``caches``; 0 where absent (profiles older than the cache-aware terms or the cache probe)."""
    return int(_number(caches, key, f"{where}: caches")) if key in caches else 0


def from_dict(data: Any, where: str = "profile") -> DeviceProfile:
    """The profile in ``data``; anything missing or of the wrong type is a ``ProfileError`` naming it."""
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: not a netprof profile (expected a JSON object)")
    if data.get("schema") != SCHEMA:
        raise ProfileError(f"{where}: schema {data.get('schema')!r}, this netprof reads {SCHEMA!r}")
    kinds_data = data.get("kinds")
    if not isinstance(kinds_data, dict) or not kinds_data:
        raise ProfileError(f"{where}: 'kinds' must be an object with one latency model per op kind")
    kinds: dict[Kind, KindModel] = {}
    for name, model in kinds_data.items():
        try:
            kind = Kind(name)
        except ValueError:
            raise ProfileError(f"{where}: unknown op kind {name!r}") from None
        if not isinstance(model, dict):
            raise ProfileError(f"{where}: kinds.{name} must be an object")
        terms = [
            _number(model, key, f"{where}: kinds.{name}")
            if key in model or key != "s_per_weight_byte"
            else 0.0
            for key in ("overhead_s", "s_per_flop", "s_per_byte", "s_per_weight_byte")
        ]
        kinds[kind] = KindModel(*terms, int(model.get("benches", 0)))
    for key in ("device", "processor", "dtype"):
        if not isinstance(data.get(key), str):
            raise ProfileError(f"{where}: {key!r} must be a string")
    threads = data.get("threads")
    if not isinstance(threads, int) or threads < 1:
        raise ProfileError(f"{where}: 'threads' must be a positive integer, got {threads!r}")
    caches = data.get("caches", {})
    if not isinstance(caches, dict):
        raise ProfileError(f"{where}: 'caches' must be an object with l2_bytes and llc_bytes")
    llc_bytes = _cache_size(caches, "llc_bytes", where)
    return DeviceProfile(
        device=data["device"],
        processor=data["processor"],
        threads=threads,
        dtype=data["dtype"],
        versions=dict(data.get("versions") or {}),
        kinds=kinds,
        per_module_call_s=_number(data, "per_module_call_s", where),
        per_run_s=_number(data, "per_run_s", where),
        points=_points(data.get("points", []), where),
        l2_bytes=_cache_size(caches, "l2_bytes", where),
        llc_bytes=llc_bytes,
        cache_holds_bytes=_cache_size(caches, "holds_bytes", where),
        **{name: _optional(data, name, where) for name in (*SHARED_TERMS, "page_fault_s_per_byte")},
        # Profiles older than the field drew the line at half the last-level cache.
        fresh_pages_bytes=int(_optional(data, "fresh_pages_bytes", where))
        or llc_bytes // 2
        or FRESH_PAGES_BYTES,
        fit_mape=data.get("fit_mape"),
        calibration_s=data.get("calibration_s"),
        notes=tuple(data.get("notes", ())),
    )


def _points(data: Any, where: str) -> tuple[BenchPoint, ...]:
    try:
        return tuple(
            BenchPoint(
                str(p["name"]),
                {
                    str(kind): (int(n), int(flops), int(nbytes), int(weights))
                    for kind, (n, flops, nbytes, weights) in p["kinds"].items()
                },
                int(p["module_calls"]),
                float(p["seconds"]),
                float(p["iqr_s"]),
                str(p.get("group", "op")),
                *(int(p.get(name, 0)) for name in CACHE_FEATURES),
            )
            for p in data
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ProfileError(
            f"{where}: malformed micro-benchmark point ({type(error).__name__}: {error})"
        ) from None


def load(path: Path) -> DeviceProfile:
    return from_dict(read_json(path, ProfileError, "profile file not found"), str(path))


def save(profile: DeviceProfile, path: Path) -> None:
    write_text(path, json.dumps(to_dict(profile), indent=1) + "\n")


def cache_path(device: str, threads: int, dtype: str = "float32") -> Path:
    """``$XDG_CACHE_HOME/netprof/profile-cpu-t1-float32.json`` (else under ``~/.cache``)."""
    return cache_dir() / f"profile-{device}-t{threads}-{dtype}.json"


def cached(device: str, threads: int, dtype: str = "float32") -> DeviceProfile:
    """The profile ``netprof calibrate`` cached for this device and thread count."""
    path = cache_path(device, threads, dtype)
    if not path.is_file():
        raise ProfileError(
            f"no device profile for {device} with {threads} thread(s) and {dtype}: run "
            f"`netprof calibrate --device {device} --threads {threads}` first, or pass --profile FILE"
        )
    return load(path)
