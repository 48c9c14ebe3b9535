"""Predicted against measured latency, log-log: each point an op (one model) or a model (across models).

On the diagonal a prediction is exact; the shaded band is +-10%. Per op, points are
coloured by category, as in the layers chart; across models, each point is labelled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netprof.charts.common import frame_category_axes, scatter_category
from netprof.prediction import Prediction
from netprof.timing.attribution import Timing

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

XLABEL = "measured (ms)"
YLABEL = "predicted (ms)"


def _diagonal(ax: Axes, values: Sequence[float]) -> list[Artist]:
    """The exact line and the +-10% band over the range of ``values`` (ms)."""
    low, high = min(values) / 1.5, max(values) * 1.5
    line = ax.plot([low, high], [low, high], color="black", linewidth=0.8, gid="exact")
    band = ax.fill_between(
        [low, high], [low * 0.9, high * 0.9], [low * 1.1, high * 1.1], color="gray", alpha=0.15
    )
    band.set_gid("within 10%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return [*line, band]


def plot_ops(ax: Axes, prediction: Prediction, timing: Timing, title: str = "") -> list[Artist]:
    """Each op's predicted seconds against its measured median (ops under 1 ns on either side left out)."""
    predicted = {op.id: op.predicted_s for op in prediction.ops}
    by_category: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for op in timing.ops:
        guess = predicted.get(op.id)
        if guess is not None and guess > 1e-9 and op.time.median > 1e-9:
            xs, ys = by_category[op.category]
            xs.append(op.time.median * 1e3)
            ys.append(guess * 1e3)
    values = [v for xs, ys in by_category.values() for v in (*xs, *ys)]
    artists = _diagonal(ax, values) if values else []
    for category, (xs, ys) in sorted(by_category.items()):
        artists.append(scatter_category(ax, category, xs, ys))
    frame_category_axes(ax, f"{XLABEL}, per op", f"{YLABEL}, per op", title)
    return artists


def plot_models(ax: Axes, models: Sequence[tuple[str, float, float]], title: str = "") -> list[Artist]:
    """``(name, measured_s, predicted_s)`` per model; the data points have gid ``models``."""
    xs = [measured * 1e3 for _, measured, _ in models]
    ys = [predicted * 1e3 for _, _, predicted in models]
    artists = _diagonal(ax, xs + ys) if models else []
    (points,) = ax.plot(xs, ys, "o", color="tab:blue", gid="models")
    artists.append(points)
    for (name, _, _), x, y in zip(models, xs, ys):
        artists.append(ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7))
    ax.set_xlabel(f"{XLABEL}, plain forward passes")
    ax.set_ylabel(YLABEL)
    ax.set_title(title)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    return artists
