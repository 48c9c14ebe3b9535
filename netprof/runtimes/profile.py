"""A device profile of a deployment runtime: the eager profile's document, plus the runtime and its fusions.

The document keeps the eager profile's schema (``netprof.profile/1``) and adds
``runtime``, ``runtime_version``, the measured ``fusion`` pairs and
``fused_s_per_flop``, each fused follower's cost per flop inside its anchor's
kernel (absent from an older netprof's profiles: fused followers cost nothing), and
``reorder_s`` and ``reorder_s_per_byte``, what each reorder between blocked and plain
kernels costs where ``layout.reorders`` places them (ONNX Runtime; zero elsewhere and in
an older netprof's profiles, whose kinds carry those reorders), and
``s_per_cold_weight_byte`` and ``s_per_cold_buffer_byte``, what a byte a network's
pass fetches from DRAM costs beyond its kind's price, a weight's and a buffer's (its
input, a fresh output buffer) (``reuse``; zero where ``llc_bytes`` is unknown and in
an older netprof's profiles), ``per_input_byte_s``, what a run costs per byte of the model's
input on top of ``per_run_s`` (the runtime copies it in and lays it out; zero in an older netprof's
profiles, whose cost per run is for their networks' inputs), ``s_per_streamed_byte``, what a weight byte
of a matrix-vector product costs a network beyond its kind's price (``reuse.streamed_weights``; zero in
an older netprof's profiles), ``s_per_spilled_byte``, what a byte of a kernel's input and output past
L2 costs beyond it (``reuse.spilled_bytes``; zero in an older netprof's profiles), and
``cache_loses_bytes``, the footprint of a pass the last-level cache loses whole, as the calibration
measured it, with the footprint it keeps whole in the eager document's ``caches.holds_bytes``
(absent: both derived from ``llc_bytes``; an older netprof wrote that one as a top-level
``cache_holds_bytes``); a file without ``runtime`` is an eager PyTorch profile. Each kind's ``overhead_s`` is
the runtime's cost per *kernel* of that kind (fused followers launch nothing);
``per_module_call_s`` is zero, since a runtime calls no Python modules, and
``per_run_s`` is the cost of one ``run`` call. A profile is for one runtime:
using it with another is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netprof.datafiles import read_json, write_text
from netprof.environment import cache_dir
from netprof.prediction import profile as profiles
from netprof.prediction.profile import DeviceProfile, ProfileError
from netprof.records import pick
from netprof.runtimes.fusion import FusionPair, fused_pairs
from netprof.runtimes.reuse import PassCache

EAGER = "eager"
# A runtime profile's costs beyond its kinds' models; 0 where a document lacks one.
_COSTS = (
    "reorder_s",
    "reorder_s_per_byte",
    "s_per_cold_weight_byte",
    "s_per_cold_buffer_byte",
    "per_input_byte_s",
    "s_per_streamed_byte",
    "s_per_spilled_byte",
)
# With the inherited cache_holds_bytes, the measured PassCache (0 where not measured); a document from
# before caches.holds_bytes kept the holds size at the top level, under _OLD_HOLDS.
_LOSES = "cache_loses_bytes"
_OLD_HOLDS = "cache_holds_bytes"


@dataclass(frozen=True)
class RuntimeProfile(DeviceProfile):
    runtime: str = "onnxruntime"
    runtime_version: str = ""
    fusion: tuple[FusionPair, ...] = field(default=())
    fused_s_per_flop: Mapping[str, float] = field(default_factory=dict)
    reorder_s: float = 0.0
    reorder_s_per_byte: float = 0.0
    s_per_cold_weight_byte: float = 0.0
    s_per_cold_buffer_byte: float = 0.0
    cache_loses_bytes: int = 0  # with the inherited cache_holds_bytes, the probe's PassCache
    per_input_byte_s: float = 0.0  # a run's cost per byte of the model's input, on top of per_run_s
    s_per_streamed_byte: float = 0.0  # a matrix-vector weight byte from beyond L2 (reuse.streamed_weights)
    s_per_spilled_byte: float = 0.0  # a kernel's input or output byte past L2 (reuse.spilled_bytes)

    @property
    def pass_cache(self) -> PassCache:
        """What the last-level cache keeps of a pass: as measured, else as Linux's size suggests."""
        if self.cache_loses_bytes:
            return PassCache(self.cache_holds_bytes, self.cache_loses_bytes)
        return PassCache.of_llc(self.llc_bytes)

    @property
    def key(self) -> str:
        return f"{self.runtime} {self.runtime_version}|{self.processor}|threads={self.threads}|{self.dtype}"

    @property
    def fused(self) -> frozenset[tuple[str, str]]:
        return fused_pairs(self.fusion)


def runtime_of(profile: DeviceProfile) -> str:
    return profile.runtime if isinstance(profile, RuntimeProfile) else EAGER


def to_dict(profile: RuntimeProfile) -> dict[str, Any]:
    return {
        **profiles.to_dict(profile),
        **pick(profile, "runtime", "runtime_version"),
        "fusion": [
            {
                **pick(p, "anchor", "follower", "first_s", "second_s", "both_s", "seen", "together"),
                "fused": p.fused,
            }
            for p in profile.fusion
        ],
        "fused_s_per_flop": dict(profile.fused_s_per_flop),
        **pick(profile, *_COSTS, _LOSES),
    }


def _pairs(data: Any, where: str) -> tuple[FusionPair, ...]:
    try:
        return tuple(
            FusionPair(
                str(p["anchor"]),
                str(p["follower"]),
                float(p["first_s"]),
                float(p["second_s"]),
                float(p["both_s"]),
                int(p.get("seen", 0)),
                int(p.get("together", 0)),
            )
            for p in data
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ProfileError(f"{where}: malformed fusion pair ({type(error).__name__}: {error})") from None


def from_dict(data: Any, where: str = "profile") -> DeviceProfile:
    """An eager ``DeviceProfile`` or a ``RuntimeProfile``, as the document's ``runtime`` says."""
    base = profiles.from_dict(data, where)
    runtime = data.get("runtime", EAGER)
    if runtime == EAGER:
        return base
    if not isinstance(runtime, str) or not isinstance(data.get("runtime_version", ""), str):
        raise ProfileError(f"{where}: 'runtime' and 'runtime_version' must be strings")
    fields = {name: getattr(base, name) for name in DeviceProfile.__dataclass_fields__}
    return RuntimeProfile(
        **{**fields, **_cache(data, where)},
        runtime=runtime,
        runtime_version=data.get("runtime_version", ""),
        fusion=_pairs(data.get("fusion", []), where),
        fused_s_per_flop=_costs(data.get("fused_s_per_flop", {}), where),
        **_runtime_costs(data, where),
    )


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _runtime_costs(data: Mapping[str, Any], where: str) -> dict[str, float]:
    found = {name: data.get(name, 0.0) for name in _COSTS}
    if not all(map(_non_negative, found.values())):
        raise ProfileError(f"{where}: {', '.join(map(repr, _COSTS))} must be non-negative numbers")
    return {name: float(v) for name, v in found.items()}


def _cache(data: Mapping[str, Any], where: str) -> dict[str, int]:
    """The probe's loses size, and its holds size where an older document kept it at the top level."""
    found = {name: data[name] for name in (_OLD_HOLDS, _LOSES) if name in data}
    for name, value in found.items():
        if not (_non_negative(value) and isinstance(value, int)):
            raise ProfileError(f"{where}: {name!r} must be a non-negative integer")
    return found


def _costs(data: Any, where: str) -> dict[str, float]:
    if not isinstance(data, dict) or not all(map(_non_negative, data.values())):
        raise ProfileError(f"{where}: 'fused_s_per_flop' must map follower names to non-negative numbers")
    return {str(name): float(v) for name, v in data.items()}


def load(path: Path) -> DeviceProfile:
    return from_dict(read_json(path, ProfileError, "profile file not found"), str(path))


def save(profile: DeviceProfile, path: Path) -> None:
    document = to_dict(profile) if isinstance(profile, RuntimeProfile) else profiles.to_dict(profile)
    write_text(path, json.dumps(document, indent=1) + "\n")


def for_runtime(profile: DeviceProfile, runtime: str, where: str) -> DeviceProfile:
    """``profile`` if it was measured in ``runtime``; else one line saying which it was measured in."""
    found = runtime_of(profile)
    if found != runtime:
        what = "eager PyTorch" if found == EAGER else f"{found} {getattr(profile, 'runtime_version', '')}"
        flag = "without --runtime" if found == EAGER else f"with --runtime {found}"
        raise ProfileError(f"{where} is a profile of {what.strip()}, not of {runtime}: use it {flag}")
    return profile


def cache_path(runtime: str, threads: int, dtype: str = "float32") -> Path:
    """``$XDG_CACHE_HOME/netprof/profile-onnxruntime-t1-float32.json`` (else under ``~/.cache``)."""
    return cache_dir() / f"profile-{runtime}-t{threads}-{dtype}.json"


def cached(runtime: str, threads: int, dtype: str = "float32") -> DeviceProfile:
    path = cache_path(runtime, threads, dtype)
    if not path.is_file():
        raise ProfileError(
            f"no {runtime} profile with {threads} thread(s) and {dtype}: run "
            f"`netprof calibrate --runtime {runtime} --threads {threads}` first, or pass --profile FILE"
        )
    return for_runtime(load(path), runtime, str(path))
