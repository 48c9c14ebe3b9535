"""A sweep's charts: latency against mult_adds and against memory access, and the Pareto front."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netprof.charts.files import save
from netprof.sweep.results import latency_of, pareto_front


def write_charts(rows: list[dict[str, Any]], accuracy: Mapping[str, float], directory: Path) -> list[Path]:
    """``latency.png/svg`` (and ``pareto.png/svg`` with accuracies); nothing without a latency column."""
    from matplotlib.figure import Figure

    timed = [row for row in rows if not row.get("error") and latency_of(row)]
    if not timed:
        return []
    kind = "measured" if timed[0].get("measured_s") else "predicted"
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    for ax, column, label in zip(
        figure.subplots(1, 2), ("mult_adds", "mem_access_bytes"), ("mult_adds", "memory access (bytes)")
    ):
        ax.scatter([row[column] for row in timed], [latency_of(row) * 1e3 for row in timed], s=12, alpha=0.7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(f"{kind} latency (ms)")
    figure.suptitle(f"{len(timed)} models")
    paths = save(figure, directory / "latency")
    known = [
        (row["name"], latency_of(row), accuracy[row["name"]]) for row in timed if row["name"] in accuracy
    ]
    if known:
        front = set(pareto_front(known))
        figure = Figure(figsize=(7, 5), layout="constrained")
        ax = figure.add_subplot()
        ax.scatter([t * 1e3 for _, t, _ in known], [a for _, _, a in known], s=12, alpha=0.5, label="models")
        edge = sorted((t * 1e3, a, n) for n, t, a in known if n in front)
        ax.plot(
            [t for t, _, _ in edge],
            [a for _, a, _ in edge],
            color="tab:red",
            marker="o",
            label="Pareto front",
        )
        for t, a, name in edge:
            ax.annotate(name, (t, a), fontsize=7, textcoords="offset points", xytext=(3, 3))
        ax.set_xscale("log")
        ax.set_xlabel(f"{kind} latency (ms)")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=8)
        paths += save(figure, directory / "pareto")
    return paths
