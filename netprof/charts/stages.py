"""A detector's stages as stacked bars: each stage's share of the multiply-adds, the memory access and,
when timed or predicted, the time; where the bars disagree is where counts mislead (post-processing:
no multiply-adds, much time)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from netprof.detection import STAGES, Stage

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

STAGE_COLORS = dict(zip(STAGES, ("tab:gray", "tab:blue", "tab:cyan", "tab:green", "tab:red")))


def measures(stages: Sequence[Stage]) -> list[tuple[str, list[float]]]:
    """``(bar label, each stage's value)`` for every measure the stages have."""
    bars = [
        ("mult_adds", [float(stage.totals.mult_adds) for stage in stages]),
        ("mem_access_bytes", [float(stage.totals.mem_access_bytes) for stage in stages]),
    ]
    if all(stage.time_s is not None for stage in stages):
        bars.append(("time (measured)", [stage.time_s or 0.0 for stage in stages]))
    if all(stage.predicted_s is not None for stage in stages):
        bars.append(("time (predicted)", [stage.predicted_s or 0.0 for stage in stages]))
    return bars


def plot_stages(ax: Axes, stages: Sequence[Stage], title: str = "") -> list[Artist]:
    """One horizontal bar per measure, each split into the stages' shares (gid: the stage's name)."""
    artists: list[Artist] = []
    bars = measures(stages)
    labels = [label for label, _ in bars]
    left = [0.0] * len(bars)
    for index, stage in enumerate(stages):
        shares = [values[index] / sum(values) if sum(values) else 0.0 for _, values in bars]
        container = ax.barh(
            labels, shares, left=left, color=STAGE_COLORS[stage.name], label=stage.name, gid=stage.name
        )
        artists.append(container)
        for bar, share in zip(container, shares):
            if share >= 0.06:
                x = bar.get_x() + bar.get_width() / 2
                ax.text(
                    x,
                    bar.get_y() + bar.get_height() / 2,
                    f"{share:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                )
        left = [a + b for a, b in zip(left, shares)]
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the model")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(stages), fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return artists
