"""Charts saved to disk, and the timed model's figures.

Every chart netprof writes is saved here (``save``, ``save_figure``): as PNG (dpi 120) and SVG,
each file replaced atomically. The figures of a timed model, a comparison, a prediction and a
memory timeline are built here too; the sweep (``netprof.sweep.charts``), serving
(``netprof.serving.charts``) and ``netprof bench`` build their own and save them here.
``matplotlib.figure.Figure`` is used directly, never pyplot, so no global state and no display
backend is touched (Agg renders both formats).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netprof.analysis import Analysis
from netprof.charts.breakdown import plot_breakdown
from netprof.charts.common import timing_machine
from netprof.charts.layers import plot_layers
from netprof.charts.memory import plot_memory
from netprof.charts.predicted import plot_models, plot_ops
from netprof.charts.roofline import plot_roofline
from netprof.charts.stages import plot_stages
from netprof.charts.versus import plot_comparison
from netprof.charts.whatif import Point, plot_whatif
from netprof.datafiles import replaced
from netprof.detection import Stage
from netprof.prediction import Prediction
from netprof.timing.attribution import Timing
from netprof.timing.ranking import Comparison

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KINDS = ("layers", "roofline", "breakdown")


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def save_figure(figure: Figure, path: Path, **options: Any) -> None:
    """``figure.savefig(path)``, atomically: in the format of the path's suffix."""
    with replaced(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip("."), **options)


def svg_text(figure: Figure) -> str:
    """The figure as an SVG document, for pages that inline it."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


def save(figure: Figure, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.svg``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    save_figure(figure, paths[0], dpi=120)
    save_figure(figure, paths[1])
    return paths


def model_figure(timing: Timing, kind: str, name: str) -> Figure:
    """The ``kind`` chart (``layers``, ``roofline``, ``breakdown``) of one timed model."""
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
    timing: Timing,
    directory: Path,
    name: str,
    kinds: Sequence[str] = KINDS,
    prediction: Prediction | None = None,
) -> list[Path]:
    """``directory/<kind>.png`` and ``.svg`` for each kind, and ``predicted`` with a prediction."""
    paths: list[Path] = []
    for kind in kinds:
        paths += save(model_figure(timing, kind, name), directory / kind)
    if prediction is not None:
        paths += save(predicted_figure(prediction, timing, name), directory / "predicted")
    return paths


def comparison_figure(comparison: Comparison, timings: Sequence[tuple[str, Timing]]) -> Figure:
    figure = _figure((12, 5.5))
    machine = (
        timing_machine(timings[0][1]) if timings else f"{comparison.device}, {comparison.threads} threads"
    )
    plot_comparison(figure, comparison, machine)
    return figure


def breakdown_figure(timings: Sequence[tuple[str, Timing]]) -> Figure:
    """One Figure-2 bar per model."""
    figure = _figure((max(6.0, 1.1 * len(timings) + 3), 5.5))
    ax = figure.add_subplot()
    machine = timing_machine(timings[0][1]) if timings else ""
    plot_breakdown(ax, timings, title=f"Run-time breakdown (ShuffleNet V2 Figure 2 classes)\n{machine}")
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def predicted_figure(prediction: Prediction, timing: Timing, name: str) -> Figure:
    """Each op's predicted time against its measured time, on the profile's device."""
    figure = _figure((9, 6.5))
    ax = figure.add_subplot()
    title = (
        f"{name}: predicted vs measured per op\n{timing_machine(timing)}; profile {prediction.profile.key}"
    )
    plot_ops(ax, prediction, timing, title=title)
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def predicted_models_figure(models: Sequence[tuple[str, float, float]], machine: str) -> Figure:
    """Each model's predicted latency against its measured one."""
    figure = _figure((7.5, 6.5))
    ax = figure.add_subplot()
    plot_models(ax, models, title=f"Predicted vs measured latency per model\n{machine}")
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def memory_figure(analysis: Analysis) -> Figure:
    """Live memory by kind over the run, the peak marked."""
    figure = _figure((10, 5))
    plot_memory(figure.add_subplot(), analysis, title=f"{analysis.model}: live memory by kind")
    figure.set_layout_engine("constrained")
    return figure


def write_memory_chart(analysis: Analysis, directory: Path) -> list[Path]:
    """``memory.png`` and ``memory.svg`` in ``directory``."""
    return save(memory_figure(analysis), directory / "memory")


def whatif_figure(points: Sequence[Point], model: str, where: str) -> Figure:
    """Each what-if variant's latency against its mult_adds (the base first)."""
    figure = _figure((8, 6))
    ax = figure.add_subplot()
    plot_whatif(ax, points, title=f"{model}: compression what-ifs, latency vs mult_adds\n{where}")
    ax.title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def stages_figure(stages: Sequence[Stage], model: str) -> Figure:
    """A detector's stages: their shares of mult_adds, memory access and time, as stacked bars."""
    figure = _figure((9, 3.5))
    plot_stages(figure.add_subplot(), stages, title=f"{model}: stages")
    figure.axes[0].title.set_fontsize(9)
    figure.set_layout_engine("constrained")
    return figure


def write_stages_chart(stages: Sequence[Stage], directory: Path, model: str) -> list[Path]:
    """``stages.png`` and ``stages.svg`` in ``directory``."""
    return save(stages_figure(stages, model), directory / "stages")
