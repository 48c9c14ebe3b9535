"""The trajectory of ``netprof adapt``: predicted latency and mult_adds after each iteration, the target,
and the measured latency of the base and the adapted model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from netprof.charts.files import save

if TYPE_CHECKING:  # the report is built above the pipeline, by netprof.adapt; the chart only reads it
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from netprof.adapt.document import AdaptReport

STEM = "trajectory"


def plot_trajectory(ax: Axes, report: AdaptReport) -> list[Artist]:
    """Predicted ms per iteration (0 is the base; gid ``predicted``), the predicted target (``target``) and,
    when timed, the measured base and adapted model (``measured``)."""
    xs = list(range(len(report.iterations) + 1))
    predicted = [report.base.latency_predicted_s, *(step.predicted_s for step in report.iterations)]
    artists: list[Artist] = ax.plot(
        xs, [s * 1e3 for s in predicted], marker="o", markersize=3, label="predicted", gid="predicted"
    )
    artists.append(
        ax.axhline(
            report.target_s * 1e3,
            color="tab:red",
            linestyle="--",
            linewidth=0.8,
            label=f"target {report.budget.text} (predicted)",
            gid="target",
        )
    )
    measured = [(x, state.latency_measured_s) for x, state in ((0, report.base), (xs[-1], report.final))]
    timed = [(x, s * 1e3) for x, s in measured if s is not None]
    if timed:
        artists.append(
            ax.scatter(
                *zip(*timed), marker="s", color="tab:green", zorder=3, label="measured", gid="measured"
            )
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("latency (ms)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=8)
    return artists


def plot_mult_adds(ax: Axes, report: AdaptReport) -> list[Artist]:
    """mult_adds (millions) per iteration, 0 being the base; gid ``mult_adds``."""
    values = [report.base.mult_adds, *(step.mult_adds for step in report.iterations)]
    artists: list[Artist] = ax.plot(
        range(len(values)), [v / 1e6 for v in values], marker="o", markersize=3, color="tab:purple",
        gid="mult_adds",
    )  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel("mult_adds (M)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return artists


def trajectory_figure(report: AdaptReport) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    latency, counts = figure.subplots(1, 2)
    plot_trajectory(latency, report)
    plot_mult_adds(counts, report)
    figure.suptitle(f"netprof adapt {report.spec}: {report.budget.text} on {report.profile}", fontsize=9)
    return figure


def write_trajectory(report: AdaptReport, directory: Path) -> list[Path]:
    """``directory/trajectory.png`` and ``.svg``."""
    return save(trajectory_figure(report), directory / STEM)
