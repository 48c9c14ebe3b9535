"""FLOPs vs latency across models: one panel per count, each model a labelled point.

x is the model's count (mult_adds, or memory access cost in bytes: ShuffleNet
V2's MAC), y its latency (median of plain forward passes, milliseconds), error
bars the IQR. Spearman's rank correlation of the two is in the panel's title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netprof.timing.ranking import Comparison, rho_text, spearman

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

METRICS = {
    "mult_adds": "multiply-adds (mult_adds, millions)",
    "mem_access_bytes": "memory access cost (MAC, MB read + written)",
}
YLABEL = "latency, median of plain forward passes (ms)"


def plot_versus(ax: Axes, comparison: Comparison, metric: str = "mult_adds") -> list[Artist]:
    """Latency against ``metric`` (``mult_adds`` or ``mem_access_bytes``); the data line has gid ``models``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    points = comparison.points
    xs = [getattr(p, metric) / 1e6 for p in points]
    ys = [p.latency.median * 1e3 for p in points]
    low = [(p.latency.median - p.latency.q1) * 1e3 for p in points]
    high = [(p.latency.q3 - p.latency.median) * 1e3 for p in points]
    container = ax.errorbar(xs, ys, yerr=[low, high], fmt="o", capsize=3, color="tab:blue")
    container.lines[0].set_gid("models")
    artists: list[Artist] = list(container.get_children())
    for p, x, y in zip(points, xs, ys):
        artists.append(ax.annotate(p.name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7))
    rho = spearman([getattr(p, metric) for p in points], [p.latency.median for p in points])
    ax.set_xlabel(METRICS[metric])
    ax.set_ylabel(YLABEL)
    short = "mult_adds" if metric == "mult_adds" else "MAC"
    ax.set_title(f"latency vs {short}: Spearman rho = {rho_text(rho)} (n = {len(points)})")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return artists


def plot_comparison(fig: Figure, comparison: Comparison, machine: str) -> list[Artist]:
    """Two panels side by side: latency vs mult_adds, latency vs MAC; the machine in the title."""
    left, right = fig.subplots(1, 2)
    artists = plot_versus(left, comparison, "mult_adds") + plot_versus(right, comparison, "mem_access_bytes")
    artists.append(
        fig.suptitle(
            f"FLOPs vs latency across models, batch {comparison.points[0].batch if comparison.points else 1}, "
            f"{machine}\nlatency and its IQR (error bars) are of this machine only",
            fontsize=9,
        )
    )
    fig.set_layout_engine("constrained")
    return artists
