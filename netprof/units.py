"""Human units: ``300.8 M`` multiply-adds, ``75.3 MB`` of memory traffic, ``12.3 ms``."""

from __future__ import annotations

import re

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def count(value: float) -> str:
    """A count with a decimal SI prefix: ``4089184256`` -> ``4.09 G``."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.2f} {prefix}" if abs(scaled) < 100 else f"{scaled:.1f} {prefix}"
    return f"{value:g}"


def nbytes(value: float) -> str:
    """Bytes with a decimal prefix (1 MB = 10^6 B): ``75300000`` -> ``75.3 MB``."""
    text = count(value)
    return f"{text}B" if text[-1].isalpha() else f"{text} B"


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def seconds(value: float | None) -> str:
    """``0.0123`` -> ``12.3 ms``; three significant digits down to nanoseconds."""
    if value is None:
        return "-"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_nbytes(text: str) -> int:
    """A size as a person writes it -> bytes: ``256KiB`` -> 262144, ``512KB`` -> 512000, ``2MB``, ``1MiB``,
    ``1.5 MiB``, ``4096``. KB/MB/GB are decimal (as ``nbytes`` prints), KiB/MiB/GiB binary; the unit's case
    is free. A ``ValueError`` naming the text when it is not a positive whole number of bytes."""
    match = _SIZE.fullmatch(text)
    unit = match and _SIZE_UNITS.get(match[2].lower())
    value = float(match[1]) * unit if match and unit else 0.0
    if not value >= 1 or value != round(value):
        raise ValueError(f"expected a size such as 256KiB, 512KB, 1MiB, 2MB or 4096 (bytes), got {text!r}")
    return int(value)
