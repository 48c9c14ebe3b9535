"""Figures made and saved: the one place (with the CLI) that builds a ``Figure``.

Each chart is saved as PNG (dpi 120) and SVG. ``matplotlib.figure.Figure`` is
used directly, never pyplot, so no global state and no display backend is
touched (Agg renders both formats).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netprof.analysis import Analysis
from netprof.charts.breakdown import plot_breakdown
from netprof.charts.common import timing_machine
from netprof.charts.layers import plot_layers
from netprof.charts.roofline import plot_roofline
from netprof.charts.versus import plot_comparison
from netprof.timing.attribution import Timing
from netprof.timing.ranking import Comparison

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KINDS = ("layers", "roofline", "breakdown")


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def save(figure: Figure, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.svg``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    figure.savefig(paths[0], dpi=120)
    figure.savefig(paths[1])
    return paths


def _timing(analysis: Analysis) -> Timing:
    if analysis.timing is None:
        raise ValueError(f"{analysis.model}: charts need a timed analysis (analyze with time=True)")
    return analysis.timing


def model_figure(analysis: Analysis, kind: str, name: str | None = None) -> Figure:
    """The ``kind`` chart (``layers``, ``roofline``, ``breakdown``) of one timed analysis."""
    timing = _timing(analysis)
    name = name or analysis.model
    figure = _figure((11, 6.5) if kind != "breakdown" else (6, 5.5))
    ax = figure.add_subplot()
    machine = timing_machine(timing)
    runs = f"median of {timing.runs} timed passes"
    if kind == "layers":
        plot_layers(
            ax, timing, title=f"{name}: FLOPs vs latency per op ({len(timing.ops)} ops)\n{machine}; {runs}"
        )
    elif kind == "roofline":
        plot_roofline(ax, timing, title=f"{name}: roofline, every op\n{machine}; {runs}")
    elif kind == "breakdown":
        plot_breakdown(ax, [(name, timing)], title=f"{name}: run-time breakdown\n{machine}; {runs}")
    else:
        raise ValueError(f"unknown chart kind {kind!r}; known: {', '.join(KINDS)}")
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def write_model_charts(
    analysis: Analysis, directory: Path, kinds: Sequence[str] = KINDS, name: str | None = None
) -> list[Path]:
    """``directory/<kind>.png`` and ``.svg`` for each kind."""
    paths: list[Path] = []
    for kind in kinds:
        paths += save(model_figure(analysis, kind, name), directory / kind)
    return paths


def comparison_figure(comparison: Comparison, analyses: Sequence[tuple[str, Analysis]]) -> Figure:
    figure = _figure((12, 5.5))
    timing = _timing(analyses[0][1]) if analyses else None
    machine = timing_machine(timing) if timing else f"{comparison.device}, {comparison.threads} threads"
    plot_comparison(figure, comparison, machine)
    return figure


def breakdown_figure(analyses: Sequence[tuple[str, Analysis]]) -> Figure:
    """One Figure-2 bar per model."""
    timings = [(name, _timing(analysis)) for name, analysis in analyses]
    figure = _figure((max(6.0, 1.1 * len(timings) + 3), 5.5))
    ax = figure.add_subplot()
    machine = timing_machine(timings[0][1]) if timings else ""
    plot_breakdown(ax, timings, title=f"Run-time breakdown (ShuffleNet V2 Figure 2 classes)\n{machine}")
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure
