"""argparse argument types shared by every ``netprof`` subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from netprof.capture.loader import SpecError, parse_dtype, parse_shape

T = TypeVar("T")


def positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    """A number of type ``kind`` above zero, e.g. ``type=positive(int)``."""

    def convert(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    convert.__name__ = f"positive {kind.__name__}"
    return convert


def _reported(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Adapt a parser raising SpecError to argparse's error reporting."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except SpecError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = parse.__name__
    return convert


shape = _reported(parse_shape)
dtype = _reported(parse_dtype)


def positive_ints(text: str) -> tuple[int, ...]:
    """``"10,100,1000"`` -> ``(10, 100, 1000)``: a comma list of positive integers."""
    count = positive(int)
    return tuple(count(part.strip().replace("_", "")) for part in text.split(",") if part.strip())
