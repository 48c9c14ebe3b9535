"""Chart of ``netprof bench guidelines``: one subplot per paper table, speeds relative to its first row.

Object-oriented matplotlib only: the caller makes the ``Figure`` and saves it; nothing here touches
pyplot's global state, and matplotlib itself is never imported by this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netprof.bench.guidelines import ExperimentResult, GuidelinesResult

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SERIES = (("measured here", "C0", "o"), ("paper ARM", "C1", "s"), ("paper GPU", "C2", "^"))
YLABEL = "speed relative to the column's first row"
XLABEL = "configuration, grouped by column of the paper's table"


def _title(experiment: ExperimentResult) -> str:
    answer = "yes" if experiment.verdict.holds else "no"
    adjusted = "yes" if experiment.adjusted_verdict.holds else "no"
    return (
        f"Table {experiment.table} ({experiment.guideline}): {experiment.varied}\n"
        f"trend holds here: {answer} ({adjusted} at equal mult_adds)"
    )


def plot_experiment(ax: Axes, experiment: ExperimentResult) -> list[Artist]:
    """Measured images/sec, paper ARM images/sec and paper GPU batches/sec, each divided by the value of
    the first row in the same column. Measured points are the median of the per-round (paired) ratios,
    with their IQR as error bars (half above, half below)."""
    artists: list[Artist] = []
    handles: dict[str, Artist] = {}
    n = len(experiment.rows)
    ticks, labels = [], []
    for j, column in enumerate(experiment.columns):
        xs = [j * (n + 1) + i for i in range(n)]
        configs = [experiment.config(row, column) for row in experiment.rows]
        first = configs[0]
        measured = [c.relative.median for c in configs]
        spread = [c.relative.iqr / 2 for c in configs]
        values = (
            measured,
            [c.paper_arm / first.paper_arm for c in configs],
            [c.paper_gpu / first.paper_gpu for c in configs],
        )
        for k, ((label, color, marker), ys) in enumerate(zip(SERIES, values)):
            kwargs = {"color": color, "marker": marker, "label": label}
            gid = f"{label} {column}"  # names the data line, for readers of the figure (and tests)
            if k == 0:
                container = ax.errorbar(xs, ys, yerr=spread, capsize=3, linewidth=1.8, **kwargs)
                container.lines[0].set_gid(gid)
                handles.setdefault(label, container)
                artists.extend(container.get_children())
            else:
                (line,) = ax.plot(xs, ys, linestyle="--", linewidth=1.2, alpha=0.8, gid=gid, **kwargs)
                handles.setdefault(label, line)
                artists.append(line)
        artists.append(
            ax.text(
                (xs[0] + xs[-1]) / 2,
                1.0,
                column,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=9,
            )
        )
        if j:
            artists.append(ax.axvline(xs[0] - 1, color="0.8", linewidth=0.8))
        ticks += xs
        labels += list(experiment.short_rows)
    artists.append(ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":"))
    ax.set_xticks(ticks, labels, rotation=45, ha="right", fontsize=8)
    ax.set_title(_title(experiment), fontsize=10, pad=16)
    ax.set_ylabel(YLABEL)
    ax.set_xlabel(XLABEL, fontsize=8)
    ax.legend(list(handles.values()), list(handles), fontsize=8, loc="best")
    return artists


def suptitle(result: GuidelinesResult) -> str:
    m, s = result.machine, result.settings
    return (
        f"ShuffleNet V2 guideline experiments (Tables 1-4) measured on {m.cpu}, {m.cpu_count} CPUs, "
        f"{m.threads} thread(s), batch {s.batch}, torch {m.torch_version}\n"
        "measured and paper ARM: images/sec (ARM: Snapdragon 810, 1 thread); paper GPU: batches/sec "
        "(GTX 1080Ti); each divided by its column's first row (measured: per-round paired ratios, "
        "median, error bars IQR)"
    )


def plot_guidelines(fig: Figure, result: GuidelinesResult) -> list[Artist]:
    """Fill ``fig`` with one subplot per table (2 x 2 for the four tables)."""
    count = len(result.experiments)
    cols = 2 if count > 1 else 1
    rows = -(-count // cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    artists: list[Artist] = []
    for ax, experiment in zip(axes, result.experiments):
        artists += plot_experiment(ax, experiment)
    for ax in axes[count:]:
        ax.set_visible(False)
    artists.append(fig.suptitle(suptitle(result), fontsize=10))
    fig.set_layout_engine("constrained")
    return artists
