"""Does a paper table's trend hold on this machine? A yes/no from medians and IQRs.

The measured speeds judged are paired: the rows of one column are timed in interleaved rounds, and each
round's images/sec of a row is divided by the same round's images/sec of the row the guideline says is
fastest (``paired``). A slow spell of this shared machine slows both and cancels in the ratio; what is
left is the difference between the networks. The median and IQR of these ratios are what ``judge`` sees.

Each table names a row the guideline says should be fastest (``fast``) and the row it says should be
slowest (``slow``). In every column, the trend holds when

1. ``fast`` is clearly faster than ``slow``, and
2. no row is clearly faster than ``fast``.

"Clearly faster" means the medians differ by more than the noise margin: the larger of the two IQRs,
and at least ``noise_floor`` (2%) of the larger median, since a shared machine drifts by about that
between runs even when one run's IQR is tight. Differences inside the margin are ties, and a tie never
breaks the trend but never proves it either. A table's trend holds when it holds in every measured
column. The paper's own numbers (no spread: IQR 0) pass the same rule on both platforms, which
``judge`` is tested on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netprof.timing.measurement import quantile

NOISE_FLOOR = 0.02


@dataclass(frozen=True)
class Speed:
    median: float
    iqr: float = 0.0


@dataclass(frozen=True)
class TrendRule:
    fast: str
    slow: str
    claim: str

    def describe(self, noise_floor: float = NOISE_FLOOR) -> str:
        return (
            f"{self.claim}: in every column '{self.fast}' is clearly faster than '{self.slow}' and no row "
            f"is clearly faster than '{self.fast}' (clearly = medians differ by more than the larger IQR "
            f"and more than {noise_floor:.0%} of the larger median)"
        )


@dataclass(frozen=True)
class ColumnVerdict:
    column: str
    holds: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    holds: bool
    rule: str
    columns: tuple[ColumnVerdict, ...]

    @property
    def summary(self) -> str:
        held = sum(c.holds for c in self.columns)
        answer = "yes" if self.holds else "no"
        return f"{answer} (holds in {held} of {len(self.columns)} columns)"


def median_iqr(values: Sequence[float]) -> tuple[float, float]:
    """Median and interquartile range, interpolated as ``netprof.timing.Measurement`` does."""
    if not values:
        return float("nan"), float("nan")
    return quantile(values, 0.5), quantile(values, 0.75) - quantile(values, 0.25)


def paired(runs: Mapping[str, Sequence[float]], reference: str) -> dict[str, Speed]:
    """Each row's speed relative to ``reference``'s, round by round: ``runs[row][i]`` and
    ``runs[reference][i]`` are the same round. The reference itself is exactly 1 with no spread."""
    base = runs[reference]
    out = {}
    for row, values in runs.items():
        if len(values) != len(base):
            raise ValueError(f"row {row!r} has {len(values)} runs, {reference!r} has {len(base)}: not paired")
        out[row] = Speed(*median_iqr([v / b for v, b in zip(values, base)]))
    return out


def scaled(speed: Speed, factor: float) -> Speed:
    return Speed(speed.median * factor, speed.iqr * factor)


def margin(a: Speed, b: Speed, noise_floor: float = NOISE_FLOOR) -> float:
    return max(a.iqr, b.iqr, noise_floor * max(a.median, b.median))


def clearly_faster(a: Speed, b: Speed, noise_floor: float = NOISE_FLOOR) -> bool:
    return a.median - b.median > margin(a, b, noise_floor)


def _fmt(speed: Speed) -> str:
    return f"{speed.median:.4g}" if speed.iqr == 0 else f"{speed.median:.4g} ± {speed.iqr:.2g}"


def judge_column(
    rule: TrendRule, column: str, speeds: Mapping[str, Speed], noise_floor: float = NOISE_FLOOR
) -> ColumnVerdict:
    fast, slow = speeds[rule.fast], speeds[rule.slow]
    if not clearly_faster(fast, slow, noise_floor):
        return ColumnVerdict(
            column, False, f"'{rule.fast}' {_fmt(fast)} is not clearly faster than '{rule.slow}' {_fmt(slow)}"
        )
    beaters = [row for row, speed in speeds.items() if clearly_faster(speed, fast, noise_floor)]
    if beaters:
        detail = ", ".join(f"'{row}' {_fmt(speeds[row])}" for row in beaters)
        return ColumnVerdict(column, False, f"{detail} clearly faster than '{rule.fast}' {_fmt(fast)}")
    return ColumnVerdict(
        column,
        True,
        f"'{rule.fast}' {_fmt(fast)} clearly faster than '{rule.slow}' {_fmt(slow)}; no row clearly faster "
        f"than '{rule.fast}'",
    )


def judge(
    rule: TrendRule, speeds: Mapping[str, Mapping[str, Speed]], noise_floor: float = NOISE_FLOOR
) -> Verdict:
    """``speeds[column][row]``; the verdict covers the columns given."""
    columns = tuple(judge_column(rule, column, rows, noise_floor) for column, rows in speeds.items())
    return Verdict(bool(columns) and all(c.holds for c in columns), rule.describe(noise_floor), columns)
