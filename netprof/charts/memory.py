"""Live memory over a run, stacked by kind, with the peak marked (and the phase boundaries of a training step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netprof.analysis import Analysis
from netprof.analysis.memory import KINDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

KIND_COLORS = {
    "parameters": "tab:blue",
    "buffers": "tab:cyan",
    "gradients": "tab:red",
    "optimizer_state": "tab:purple",
    "inputs": "tab:gray",
    "activations": "tab:orange",
    "temporaries": "tab:olive",
}


def plot_memory(ax: Axes, analysis: Analysis, title: str = "") -> None:
    memory = analysis.memory
    assert memory is not None
    kinds = [kind for kind in KINDS if any(memory.timeline[kind])]
    steps = range(len(memory.timeline[KINDS[0]]))
    scale, unit = _scale(memory.peak_bytes)
    ax.stackplot(
        steps,
        [[value / scale for value in memory.timeline[kind]] for kind in kinds],
        labels=[kind.replace("_", " ") for kind in kinds],
        colors=[KIND_COLORS[kind] for kind in kinds],
        alpha=0.85,
    )
    ax.axvline(memory.peak_op, color="black", linestyle=":", linewidth=1)
    ax.annotate(
        f"peak {memory.peak_bytes / scale:.3g} {unit}",
        (memory.peak_op, memory.peak_bytes / scale),
        textcoords="offset points",
        xytext=(4, 4),
        fontsize=8,
    )
    top = memory.peak_bytes / scale * 1.08
    for name, first in analysis.phases:
        if first:
            ax.axvline(first, color="gray", linewidth=0.8)
        ax.text(first, top, f" {name}", va="bottom", fontsize=8, color="dimgray")
    ax.set_ylim(0, top * 1.08)
    ax.set_xlabel("op (execution order)")
    ax.set_ylabel(f"live memory ({unit})")
    ax.set_xlim(0, max(len(steps) - 1, 1))
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(title, fontsize=9)


def _scale(peak: int) -> tuple[float, str]:
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if peak >= scale:
            return scale, unit
    return 1.0, "B"
