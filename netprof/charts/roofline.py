"""The roofline with every op placed on it.

x is an op's arithmetic intensity, ``flops / mem_access_bytes`` (FLOP per byte,
log); y is what it achieved, ``flops / median time`` (GFLOP/s, log). The roof is
``min(peak, intensity x bandwidth)`` from ``netprof calibrate`` for the same
device and thread count. Ops with zero flops (views, copies, concatenation) or
zero memory traffic have no place on either log axis: the chart says how many
were left out and how much of the time they took. Without a calibration the
points are drawn alone and the chart says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netprof.charts.common import frame_category_axes, scatter_category
from netprof.timing.attribution import OpTiming, Timing, percent

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

XLABEL = "arithmetic intensity (FLOP per byte of memory access, log)"
YLABEL = "achieved GFLOP/s (flops / median time, log)"
NO_CALIBRATION = "no calibration for this device and thread count:\nrun `netprof calibrate` to draw the roof"


def placed(op: OpTiming) -> bool:
    return op.flops > 0 and op.mem_access_bytes > 0 and op.time.median > 0


def plot_roofline(ax: Axes, timing: Timing, *, title: str | None = None) -> list[Artist]:
    """One ``PathCollection`` per category (``gid`` the category); roof lines have gids ``peak``, ``bandwidth``."""
    ops = [op for op in timing.ops if placed(op)]
    left_out = [op for op in timing.ops if not placed(op)]
    artists: list[Artist] = []
    for category in dict.fromkeys(op.category for op in ops):
        mine = [op for op in ops if op.category == category]
        xs = [op.flops / op.mem_access_bytes for op in mine]
        artists.append(scatter_category(ax, category, xs, [op.flops / op.time.median / 1e9 for op in mine]))
    ax.set_xscale("log")
    ax.set_yscale("log")
    calibration = timing.calibration
    if calibration is not None:
        roof = calibration.roof
        xs = [op.flops / op.mem_access_bytes for op in ops] or [roof.ridge]
        lo, hi = min(min(xs), roof.ridge) / 2, max(max(xs), roof.ridge) * 2
        peak = roof.peak_flops / 1e9
        bandwidth = roof.bandwidth / 1e9
        (memory_line,) = ax.plot(
            [lo, roof.ridge],
            [roof.attainable(lo) / 1e9, peak],
            color="0.2",
            linewidth=1.5,
            label=f"bandwidth {bandwidth:.3g} GB/s",
            gid="bandwidth",
        )
        (peak_line,) = ax.plot(
            [roof.ridge, hi],
            [peak, peak],
            color="0.2",
            linewidth=1.5,
            linestyle="--",
            label=f"peak {peak:.3g} GFLOP/s",
            gid="peak",
        )
        artists += [memory_line, peak_line]
    else:
        artists.append(
            ax.text(
                0.02,
                0.98,
                NO_CALIBRATION,
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=8,
                color="tab:red",
                gid="no calibration",
            )
        )
    if left_out:
        share = sum(op.time.median for op in left_out) / timing.attributed_s if timing.attributed_s else 0.0
        artists.append(
            ax.text(
                0.98,
                0.02,
                f"not shown: {len(left_out)} ops with 0 flops or 0 bytes ({percent(share)} of op time)",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.3",
            )
        )
    frame_category_axes(ax, XLABEL, YLABEL, title or "Roofline: every op")
    return artists
