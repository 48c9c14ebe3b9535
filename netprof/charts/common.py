"""What every netprof chart shares: the category colours and the line naming the machine.

matplotlib is never imported here: colours are matplotlib's named ``tab:`` colours, as strings.
"""

from __future__ import annotations

from typing import Any

from netprof.costs.types import Category
from netprof.timing.attribution import Timing
from netprof.timing.calibrate import device_key

# One fixed colour per netprof category, so that every chart of every model reads the same way.
CATEGORY_COLORS: dict[str, str] = {
    Category.CONV: "tab:blue",
    Category.GROUP_CONV: "tab:cyan",
    Category.DEPTHWISE_CONV: "tab:purple",
    Category.GEMM: "tab:olive",
    Category.ATTENTION: "tab:pink",
    Category.ELEMENTWISE: "tab:orange",
    Category.NORMALIZATION: "tab:red",
    Category.POOLING: "tab:green",
    Category.REDUCTION: "tab:brown",
    Category.DATA_MOVEMENT: "tab:gray",
    Category.VIEW: "lightgray",
    Category.OTHER: "black",
}
FIGURE2_COLORS: dict[str, str] = {
    "Conv": "tab:blue",
    "Data": "tab:gray",
    "Elemwise": "tab:orange",
    "Shuffle": "tab:purple",
    "Other": "tab:green",
}
OVERHEAD_COLOR = "white"


def category_color(category: str) -> str:
    return CATEGORY_COLORS.get(category, "black")


def scatter_category(ax: Any, category: str, xs: list[float], ys: list[float]) -> Any:
    """One category's points, in its colour, labelled with its count; ``gid`` is the category."""
    return ax.scatter(
        xs,
        ys,
        s=18,
        alpha=0.75,
        color=category_color(category),
        edgecolors="none",
        label=f"{category} ({len(xs)})",
        gid=category,
    )


def frame_category_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    """Labels, title, a light major grid and the category legend outside the axes, on the right,
    where it hides no point: the frame every per-op category scatter shares."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="category (ops)", title_fontsize=7
    )
    ax.grid(True, which="major", linewidth=0.3, alpha=0.5)


def machine(device: str, threads: int) -> str:
    """``Intel(R) Xeon(R) ... (2 CPUs), 1 thread`` or ``NVIDIA H200``: the line every chart carries."""
    import os

    name = device_key(device, threads).split("|")[1]
    if device.startswith("cuda"):
        return f"{name} ({device})"
    plural = "thread" if threads == 1 else "threads"
    return f"{name} ({os.cpu_count()} CPUs), {threads} {plural}"


def timing_machine(timing: Timing) -> str:
    return machine(timing.device, timing.threads)
