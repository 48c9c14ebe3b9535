"""Compression what-ifs: each variant's latency against its mult_adds, the base model marked.

Where mult_adds and latency fall together a variant sits on the line through the origin and the
base (the dashed line: latency proportional to mult_adds); below it, a variant saves more time than
its multiply-adds say, above it less, which is the what-if's point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

# (name, mult_adds, predicted seconds or None, measured seconds or None); the first is the base.
Point = tuple[str, int, float | None, float | None]


def plot_whatif(ax: Axes, points: Sequence[Point], title: str = "") -> list[Artist]:
    """Predicted latency (filled, gid ``predicted``) and measured latency (hollow, gid ``measured``) of
    each model against its mult_adds; for each, the line through the origin and the base (gid ``proportional predicted`` / ``measured``)."""
    artists: list[Artist] = []
    for index, (label, marker) in enumerate((("predicted", "o"), ("measured", "s"))):
        shown = [(name, m, latency[index]) for name, m, *latency in points if latency[index] is not None]
        if not shown:
            continue
        xs = [m / 1e6 for _, m, _ in shown]
        ys = [s * 1e3 for _, _, s in shown]
        face = "tab:blue" if label == "predicted" else "none"
        (line,) = ax.plot(xs, ys, marker, color="tab:blue", markerfacecolor=face, label=label, gid=label)
        artists.append(line)
        for (name, _, _), x, y in zip(shown, xs, ys):
            artists.append(ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7))
        _, base_m, *base_latency = points[0]
        if base_latency[index] is not None and base_m:
            slope = base_latency[index] * 1e3 / (base_m / 1e6)
            high = max(xs)
            (proportional,) = ax.plot(
                [0, high], [0, slope * high], "--", color="gray", linewidth=0.8, gid=f"proportional {label}"
            )
            artists.append(proportional)
    ax.set_xlabel("multiply-adds (mult_adds, millions)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    if artists:
        ax.legend(fontsize=7, loc="upper left")
    return artists
