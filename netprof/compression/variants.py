"""The what-if moves, their names and the values each accepts.

A variant is one move with one value: ``width 0.5`` (every layer's channels scaled by 0.5),
``resolution 0.5`` (the input's spatial size), ``prune 0.3`` (30% of all channels, smallest norms
first), ``rank 0.5`` (half the rank of every factorizable layer), ``quantize int8``. Its name,
``width=0.5``, is what the table, the JSON and the chart call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netprof.compression.quantize import SCHEMES
from netprof.errors import NetprofError


class VariantError(NetprofError):
    """A move's value out of its range: one line."""


# move -> (lowest, highest, whether each bound is included, what the value means)
_RANGES: Mapping[str, tuple[float, float, bool, bool, str]] = {
    "width": (0.0, 1.0, False, True, "the share of every layer's channels kept"),
    "resolution": (0.0, 8.0, False, True, "the input's spatial scale"),
    "prune": (0.0, 1.0, True, False, "the share of all channels removed"),
    "rank": (0.0, 1.0, False, True, "the share of each layer's rank kept"),
}
MOVES = (*_RANGES, "quantize")


@dataclass(frozen=True)
class Variant:
    move: str  # one of MOVES
    value: float | str  # a number for every move but quantize, whose value is a scheme

    @property
    def name(self) -> str:
        value = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.move}={value}"


def _interval(move: str) -> str:
    low, high, low_in, high_in, _ = _RANGES[move]
    return f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def variant(move: str, text: str) -> Variant:
    """``text`` parsed as ``move``'s value, checked against its range."""
    text = text.strip()
    if move == "quantize":
        if text not in SCHEMES:
            raise VariantError(f"--quantize {text}: one of {', '.join(SCHEMES)}")
        return Variant(move, text)
    if move not in _RANGES:
        raise VariantError(f"unknown move {move!r}: one of {', '.join(MOVES)}")
    low, high, low_in, high_in, meaning = _RANGES[move]
    try:
        value = float(text)
    except ValueError:
        raise VariantError(f"--{move} {text}: expected a number, {meaning}") from None
    inside = (low <= value if low_in else low < value) and (value <= high if high_in else value < high)
    if not inside:
        raise VariantError(f"--{move} {text}: {meaning} is in {_interval(move)}")
    return Variant(move, value)


def variants(values: Mapping[str, Iterable[str] | None]) -> list[Variant]:
    """Every variant the flags name (``{"width": ["0.5,0.75"], ...}``: each flag repeatable or a comma
    list), in the order of ``MOVES``, a repeated one once."""
    found: list[Variant] = []
    for move in MOVES:
        for flag in values.get(move) or ():
            for text in flag.split(","):
                if text.strip():
                    parsed = variant(move, text)
                    if parsed not in found:
                        found.append(parsed)
    return found
