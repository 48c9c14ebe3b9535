"""Draw a netprof trace file (``netprof analyze SPEC --time --trace FILE``) the way Perfetto shows it.

One row per nesting depth, the model on top, each module below its parent and the ops innermost,
coloured by netprof category; the overhead no op accounts for is the hatched slice at the end. The
top panel is the whole pass, the bottom one zooms into one module's slice. Usage (from the
repository root):

    netprof analyze torchvision.models:resnet18 --time --repeat 5 --threads 1 \\
        --trace reports/trace_resnet18.json
    python reports/render_trace.py reports/trace_resnet18.json -o reports/trace_resnet18.png --zoom layer1.0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from netprof.charts.common import CATEGORY_COLORS, category_color

MODULE_COLOR = "#c9d3e0"
OVERHEAD = "overhead"
EPSILON_US = 1e-6


def with_depths(events: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Every complete ("X") slice with its nesting depth, found as a viewer finds it: by containment."""
    slices = sorted((e for e in events if e["ph"] == "X"), key=lambda e: (e["ts"], -e["dur"]))
    out: list[tuple[int, dict[str, Any]]] = []
    stack: list[float] = []  # end times of the open slices
    for event in slices:
        while stack and event["ts"] >= stack[-1] - EPSILON_US and event["dur"] > 0:
            stack.pop()
        out.append((len(stack), event))
        stack.append(event["ts"] + event["dur"])
    return out


def labels(event: dict[str, Any]) -> list[str]:
    """What to write on a slice, longest first: the first that fits is drawn."""
    if event["cat"] == "module" and event["args"]["path"]:
        path = event["args"]["path"]
        return [event["name"], path, path.rsplit(".", 1)[-1]]
    return [event["name"]]


def draw(ax: Any, slices: list[tuple[int, dict[str, Any]]], start_us: float, end_us: float) -> None:
    width_px = ax.get_window_extent().width
    span = end_us - start_us
    for depth, event in slices:
        left, dur = event["ts"], event["dur"]
        if left + dur < start_us or left > end_us:
            continue
        if event["cat"] == "module":
            color, hatch = MODULE_COLOR, None
        elif event["cat"] == OVERHEAD:
            color, hatch = "white", "///"
        else:
            color, hatch = category_color(event["cat"]), None
        ax.barh(
            -depth,
            dur / 1e3,
            left=left / 1e3,
            height=0.9,
            color=color,
            hatch=hatch,
            edgecolor="0.35",
            linewidth=0.3,
        )
        visible = (min(left + dur, end_us) - max(left, start_us)) / span * width_px
        text = next((t for t in labels(event) if visible > 6.5 * len(t) + 4), None)
        if text is not None:
            middle = (max(left, start_us) + min(left + dur, end_us)) / 2
            dark = event["cat"] not in ("module", OVERHEAD, "view", "elementwise")
            ax.text(
                middle / 1e3,
                -depth,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
                clip_on=True,
            )
    depth_max = max(depth for depth, e in slices if e["ts"] + e["dur"] > start_us and e["ts"] < end_us)
    ax.set_ylim(-depth_max - 0.6, 0.6)
    ax.set_yticks([-d for d in range(depth_max + 1)])
    ax.set_yticklabels([f"depth {d}" for d in range(depth_max + 1)], fontsize=7)
    ax.set_xlim(start_us / 1e3, end_us / 1e3)
    ax.set_xlabel("ms", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def render(document: dict[str, Any], output: Path, zoom: str | None) -> None:
    slices = with_depths(document["traceEvents"])
    other = document["otherData"]
    panels = 2 if zoom else 1
    fig = Figure(figsize=(15, 3.2 * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)
    fig.canvas.draw()  # so that axes know their size in pixels for the labels
    end = max(e["ts"] + e["dur"] for _, e in slices)
    draw(axes[0][0], slices, 0.0, end)
    axes[0][0].set_title(
        f"{other['model']} on {other['device']}, {other['threads']} thread(s): each op's median of "
        f"{other['repeat']} timed passes laid end to end ({other['attributed_s'] * 1e3:.1f} ms of ops + "
        f"{other['overhead_s'] * 1e3:.1f} ms overhead = {other['end_to_end_median_s'] * 1e3:.1f} ms)",
        fontsize=9,
        loc="left",
    )
    if zoom:
        target = next(
            e for _, e in slices if e["cat"] == "module" and e["args"]["path"] == zoom
        )  # its first call
        draw(axes[1][0], slices, target["ts"], target["ts"] + target["dur"])
        axes[1][0].set_title(f"zoom: {target['name']}", fontsize=9, loc="left")
    used = sorted({e["cat"] for _, e in slices if e["cat"] in CATEGORY_COLORS})
    handles = [Patch(facecolor=MODULE_COLOR, edgecolor="0.35", label="module")]
    handles += [Patch(facecolor=category_color(c), edgecolor="0.35", label=c) for c in used]
    handles += [Patch(facecolor="white", hatch="///", edgecolor="0.35", label="overhead")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trace", type=Path, help="a trace file of netprof analyze --time --trace")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--zoom", metavar="MODULE", help="also draw the first slice of this module path")
    args = parser.parse_args()
    render(json.loads(args.trace.read_text()), args.output, args.zoom)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
