"""The run-time breakdown of ShuffleNet V2's Figure 2: one stacked bar per model.

Segments are the Figure-2 classes (``netprof.timing.figure2``: Conv, Data,
Elemwise, Shuffle, Other) and the overhead, the time no op accounts for
(``Timing.overhead_s``: framework work between kernels plus the
instrumentation), hatched. Heights are percentages of the instrumented
end-to-end median, as in the paper; the bar's total in milliseconds is written
above it. A negative overhead (possible on a noisy machine: two medians) is
drawn as zero and said in the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from netprof.charts.common import FIGURE2_COLORS, OVERHEAD_COLOR
from netprof.timing.attribution import Timing
from netprof.timing.figure2 import FIGURE2

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

YLABEL = "share of end-to-end time (%)"
OVERHEAD = "overhead"


def shares(timing: Timing) -> dict[str, float]:
    """Percent of the bar per class, then ``overhead``; they add to 100."""
    seconds = {g.name: g.time_s for g in timing.figure2}
    values = {name: seconds.get(name, 0.0) for name in FIGURE2}
    values[OVERHEAD] = max(timing.overhead_s, 0.0)
    whole = sum(values.values())
    return {name: 100 * v / whole if whole else 0.0 for name, v in values.items()}


def plot_breakdown(
    ax: Axes, timings: Sequence[tuple[str, Timing]], *, title: str | None = None
) -> list[Artist]:
    """Stacked bars; one ``BarContainer`` per segment, its label the segment name."""
    names = [name for name, _ in timings]
    rows = [shares(t) for _, t in timings]
    xs = list(range(len(timings)))
    bottoms = [0.0] * len(timings)
    artists: list[Artist] = []
    for segment in (*FIGURE2, OVERHEAD):
        heights = [row[segment] for row in rows]
        is_overhead = segment == OVERHEAD
        bars = ax.bar(
            xs,
            heights,
            bottom=bottoms,
            width=0.6,
            label=segment,
            color=OVERHEAD_COLOR if is_overhead else FIGURE2_COLORS[segment],
            edgecolor="0.3",
            linewidth=0.5,
            hatch="//" if is_overhead else None,
        )
        artists.append(bars)
        for x, bottom, height in zip(xs, bottoms, heights):
            if height >= 4:
                artists.append(
                    ax.text(x, bottom + height / 2, f"{height:.0f}%", ha="center", va="center", fontsize=7)
                )
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    for x, (_, timing) in zip(xs, timings):
        note = " (overhead<0)" if timing.overhead_s < 0 else ""
        artists.append(
            ax.text(
                x, 101, f"{timing.end_to_end.median * 1e3:.3g} ms{note}", ha="center", va="bottom", fontsize=7
            )
        )
    ax.set_xticks(
        xs,
        names,
        rotation=30 if len(names) > 3 else 0,
        ha="right" if len(names) > 3 else "center",
        fontsize=8,
    )
    ax.set_ylim(0, 110)
    ax.set_ylabel(YLABEL)
    ax.set_title(title or "Run-time breakdown (ShuffleNet V2 Figure 2 classes)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return artists
