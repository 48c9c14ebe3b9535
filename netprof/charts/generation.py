"""Decode per token against context length, and the roofline of prefill against decode."""

from __future__ import annotations

from pathlib import Path

from netprof.charts.files import save
from netprof.serving.phases import GenerationAnalysis
from netprof.serving.predict import Roofline


def generation_figure(generation: GenerationAnalysis, roofline: Roofline | None):  # -> matplotlib Figure
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.5), layout="constrained")
    cost, place = figure.subplots(1, 2)
    decode = generation.decode
    if decode is not None:
        contexts = [step.context for step in decode.steps]
        per_token = [decode.per_token(step) for step in decode.steps]
        cost.plot(
            contexts, [t["flops"] / 1e9 for t in per_token], color="tab:olive", label="GFLOPs per token"
        )
        cost.plot(
            contexts,
            [t["mem_access_bytes"] / 1e9 for t in per_token],
            color="tab:red",
            label="GB moved per token",
        )
        cost.set_xlabel("context length (tokens)")
        cost.set_ylabel("per generated token")
        intensity = cost.twinx()
        intensity.plot(
            contexts, [s.intensity for s in decode.steps], color="tab:blue", linestyle="--", label="flop/byte"
        )
        intensity.set_ylabel("arithmetic intensity (flop/byte)")
        lines = cost.get_lines() + intensity.get_lines()
        cost.legend(lines, [line.get_label() for line in lines], loc="best", fontsize=8)
        cost.set_title("decode, per token, as the context grows")
    else:
        cost.set_axis_off()
    _roofline(place, generation, roofline)
    figure.suptitle(generation.model)
    return figure


_COLORS = {"encode": "tab:green", "prefill": "tab:blue"}  # decode: tab:red


def _roofline(ax, generation: GenerationAnalysis, roofline: Roofline | None) -> None:
    points = [(phase.name, phase.total.intensity) for phase in generation.phases]
    intensities = [value for _, value in points]
    low, high = min(intensities) / 10, max(intensities + ([roofline.ridge] if roofline else [])) * 10
    ax.set_xscale("log")
    ax.set_xlabel("arithmetic intensity (flop/byte)")
    if roofline is None:
        for name, value in points:
            ax.axvline(value, color=_COLORS.get(name, "tab:red"), label=f"{name}: {value:.1f}")
        ax.set_yticks([])
        ax.set_title("prefill vs decode (state --peak-tflops and --bandwidth-gbs for the roofline)")
    else:
        xs = [low, roofline.ridge, high]
        ax.plot(
            xs,
            [roofline.attainable(x) / 1e12 for x in xs],
            color="black",
            label="roof",
        )
        ax.set_yscale("log")
        ax.set_ylabel("attainable TFLOP/s")
        for name, value in points:
            attainable = roofline.attainable(value) / 1e12
            color = _COLORS.get(name, "tab:red")
            ax.scatter([value], [attainable], color=color, zorder=3, label=f"{name}: {value:.1f} flop/byte")
        ax.set_title(f"roofline ({roofline.describe().removeprefix('roofline: ')})")
    ax.set_xlim(low, high)
    ax.legend(loc="best", fontsize=8)


def write_generation_chart(
    generation: GenerationAnalysis, roofline: Roofline | None, directory: Path
) -> list[Path]:
    """``generation.png`` and ``generation.svg`` in ``directory``."""
    return save(generation_figure(generation, roofline), directory / "generation")
