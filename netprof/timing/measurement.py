"""A measured duration: every raw time kept, summarized by its median and spread.

Following ``torch.utils.benchmark``: never a mean alone. The median resists the
outliers a shared machine produces; the interquartile range says how much to
trust it, and a warning is attached when that range exceeds 10% of the median.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NOISY_IQR_FRACTION = 0.10


def quantile(values: Iterable[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, ``statistics.quantiles(method="inclusive")``).

    Position ``q * (n - 1)`` in the sorted values: for ``[1, 2, 3, 4]`` the first
    quartile sits at 0.75, between 1 and 2, so it is 1.75.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of no values")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Measurement:
    """Repeated timings of one thing, in seconds.

    Attributes:
        times: every raw time, in run order.
        median: the figure netprof reports.
        q1, q3: first and third quartiles; ``iqr = q3 - q1`` is the spread.
        runs: how many times were measured.
        threads: the intra-op thread count they ran with (``torch.get_num_threads()``).
    """

    times: tuple[float, ...]
    median: float
    q1: float
    q3: float
    runs: int
    threads: int

    @classmethod
    def of(cls, times: Iterable[float], threads: int) -> Measurement:
        values = tuple(float(t) for t in times)
        return cls(
            values,
            quantile(values, 0.5),
            quantile(values, 0.25),
            quantile(values, 0.75),
            len(values),
            threads,
        )

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def noisy(self) -> bool:
        return self.median > 0 and self.iqr > NOISY_IQR_FRACTION * self.median

    @property
    def warning(self) -> str | None:
        """Why not to trust the median, when the spread is wide; ``None`` otherwise."""
        if not self.noisy:
            return None
        return (
            f"IQR {self.iqr * 1e3:.3g} ms is {100 * self.iqr / self.median:.0f}% of the median "
            f"{self.median * 1e3:.3g} ms over {self.runs} runs: the machine was noisy, rerun with more runs"
        )

    def to_dict(self, raw: bool = True) -> dict[str, Any]:
        """JSON-ready seconds: the summary, and with ``raw`` every time; one layout for every report."""
        out: dict[str, Any] = {
            "median_s": self.median,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "iqr_s": self.iqr,
            "runs": self.runs,
        }
        if raw:
            out["times_s"] = list(self.times)
        return out
