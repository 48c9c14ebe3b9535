"""A latency budget as a user writes it: ``0.6x`` of the base model's predicted latency, or ``12ms``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from netprof.errors import NetprofError

_BUDGET = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(x|s|ms|us)\s*", re.IGNORECASE)
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


class BudgetError(NetprofError):
    """A budget that is not ``<fraction>x`` (0 < fraction < 1) nor a positive ``<number>ms|us|s``."""


@dataclass(frozen=True)
class Budget:
    """Either a fraction of the base model's predicted latency or an absolute predicted latency.

    Attributes:
        text: as the user wrote it.
        fraction: ``0.6`` for ``0.6x``; None for an absolute budget.
        seconds: ``0.012`` for ``12ms``; None for a relative budget.
    """

    text: str
    fraction: float | None = None
    seconds: float | None = None

    def target_s(self, base_s: float) -> float:
        """The predicted latency to reach, for a base model predicted at ``base_s``."""
        return base_s * self.fraction if self.fraction is not None else self.seconds  # type: ignore[return-value]

    def met_by(self, measured_s: float, measured_base_s: float) -> bool:
        """Whether a measured latency keeps the budget: a fraction of the measured base, or the seconds."""
        return measured_s <= self.target_s(measured_base_s)


def parse_budget(text: str) -> Budget:
    """``0.6x`` -> 60% of the base's predicted latency; ``12ms``, ``800us``, ``0.5s`` -> that latency."""
    match = _BUDGET.fullmatch(text)
    if match is None:
        raise BudgetError(
            f"--budget takes a fraction such as 0.6x or a latency such as 12ms, 800us or 0.5s, got {text!r}"
        )
    value, unit = float(match[1]), match[2].lower()
    if unit == "x":
        if not 0 < value < 1:
            raise BudgetError(
                f"--budget {text}: a fraction of the base latency must lie between 0 and 1 (0.6x)"
            )
        return Budget(text.strip(), fraction=value)
    if value <= 0:
        raise BudgetError(f"--budget {text}: a latency budget must be above zero")
    return Budget(text.strip(), seconds=value * _SECONDS_PER_UNIT[unit])
