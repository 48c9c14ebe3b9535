"""FLOPs vs latency per op: where time departs from what multiply-adds predict.

Each op of a timed analysis is one point: its mult_adds (x, log) against the
median of its measured times (y, log), coloured by category. Ops with zero
mult_adds (elementwise, normalization, pooling, data movement, views) cannot sit
on a log axis, yet they are the point of the chart (the time FLOPs miss): they
are drawn on a separate strip at the left edge, left of a dashed line, spread a
little sideways so that they do not hide each other, under the tick ``0``.

The dotted line is what FLOPs predict: ``time = mult_adds x r`` with ``r`` the
median seconds per multiply-add over the ops that have any. The labelled ops are
the ``label`` ops with the largest *excess* ``time - mult_adds x r`` in seconds
(for a zero-mult_adds op, its whole time): the places a FLOPs count is most
wrong about, measured in time lost, so that a tiny op with an absurd ratio does
not crowd out the ones that matter.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netprof.charts.common import frame_category_axes, scatter_category
from netprof.timing.attribution import OpTiming, Timing

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

XLABEL = "multiply-adds per op (log; ops with 0 mult_adds on the strip at the left)"
YLABEL = "measured time per op, median (seconds, log)"
STRIP_GID = "zero mult_adds strip"
_STRIP_DECADES = 1.5  # how far left of the smallest positive mult_adds the strip sits, in decades


@dataclass(frozen=True, slots=True)
class LayerPoint:
    """Where one op is drawn: ``x`` is mult_adds, or the strip position for an op with none."""

    op: OpTiming
    x: float
    y: float
    excess_s: float

    @property
    def on_strip(self) -> bool:
        return self.op.mult_adds == 0


def seconds_per_mult_add(ops: tuple[OpTiming, ...]) -> float | None:
    """The median seconds per multiply-add over ops that have any: FLOPs' prediction of time."""
    rates = [op.time.median / op.mult_adds for op in ops if op.mult_adds > 0 and op.time.median > 0]
    return statistics.median(rates) if rates else None


def layer_points(timing: Timing) -> list[LayerPoint]:
    """Every op placed; ops with a zero (or clock-resolution) median are put at the smallest time seen."""
    ops = timing.ops
    rate = seconds_per_mult_add(ops) or 0.0
    positive_x = [op.mult_adds for op in ops if op.mult_adds > 0]
    positive_y = [op.time.median for op in ops if op.time.median > 0]
    strip_x = (min(positive_x) if positive_x else 1.0) / 10**_STRIP_DECADES
    floor_y = min(positive_y) if positive_y else 1e-9
    points = []
    for i, op in enumerate(ops):
        if op.mult_adds > 0:
            x = float(op.mult_adds)
        else:  # deterministic sideways spread within a fifth of a decade
            x = strip_x * 10 ** (0.2 * (((i * 0.6180339887) % 1.0) - 0.5))
        y = op.time.median if op.time.median > 0 else floor_y
        points.append(LayerPoint(op, x, y, op.time.median - op.mult_adds * rate))
    return points


def _label(op: OpTiming) -> str:
    where = op.module or "(root)"
    if len(where) > 28:
        where = "..." + where[-25:]
    return f"{op.op_type} @ {where}"


def plot_layers(ax: Axes, timing: Timing, *, label: int = 6, title: str | None = None) -> list[Artist]:
    """Scatter every op of ``timing`` on ``ax`` (log-log), with the zero-mult_adds strip and the outliers named.

    One ``PathCollection`` per category, its ``gid`` the category, so the chart
    can be read back: ``sum(len(c.get_offsets()) for c in ax.collections)`` is
    the number of ops.
    """
    points = layer_points(timing)
    artists: list[Artist] = []
    categories = list(dict.fromkeys(p.op.category for p in points))
    for category in categories:
        mine = [p for p in points if p.op.category == category]
        artists.append(scatter_category(ax, category, [p.x for p in mine], [p.y for p in mine]))
    ax.set_xscale("log")
    ax.set_yscale("log")
    strip = [p for p in points if p.on_strip]
    counted = [p for p in points if not p.on_strip]
    if strip and counted:
        edge = math.sqrt(max(p.x for p in strip) * min(p.x for p in counted))
        artists.append(ax.axvline(edge, color="0.5", linestyle="--", linewidth=0.8, gid=STRIP_GID))
        artists.append(
            ax.text(
                min(p.x for p in strip),
                0.01,
                f"{len(strip)} ops with\n0 mult_adds",
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="bottom",
                fontsize=7,
                color="0.3",
            )
        )
    rate = seconds_per_mult_add(timing.ops)
    if rate and counted:
        lo, hi = min(p.x for p in counted), max(p.x for p in counted)
        (line,) = ax.plot(
            [lo, hi],
            [lo * rate, hi * rate],
            color="0.4",
            linestyle=":",
            linewidth=1.2,
            label=f"FLOPs predict: {rate * 1e9:.3g} ns per mult_add",
            gid="prediction",
        )
        artists.append(line)
    for p in sorted(points, key=lambda p: -p.excess_s)[:label]:
        if p.excess_s <= 0:
            break
        artists.append(
            ax.annotate(
                _label(p.op),
                (p.x, p.y),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
                arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.5},
            )
        )
    if strip:
        _strip_ticks(ax, strip, counted)
    frame_category_axes(ax, XLABEL, YLABEL, title or "FLOPs vs latency per op")
    return artists


def _strip_ticks(ax: Axes, strip: list[LayerPoint], counted: list[LayerPoint]) -> None:
    """Tick ``0`` under the strip and powers of ten over the counted ops only; no minor ticks between."""
    xs = [p.x for p in strip + counted]
    ax.set_xlim(min(xs) / 2, max(xs) * 2)
    ticks = []
    if counted:
        edge = math.sqrt(max(p.x for p in strip) * min(p.x for p in counted))
        low = math.ceil(math.log10(edge * 2))
        high = math.floor(math.log10(max(p.x for p in counted)))
        ticks = [10.0**e for e in range(low, high + 1)]
    ax.set_xticks(
        [statistics.median(p.x for p in strip), *ticks],
        ["0", *[f"$10^{{{round(math.log10(t))}}}$" for t in ticks]],
    )
    ax.tick_params(axis="x", which="minor", bottom=False)
