"""A detector's post-processing per NMS load (``--detections``) in every format: one row per load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof.detection.load import LoadPoint
from netprof.report.html import StaticTable
from netprof.report.tables import markdown_table
from netprof.units import count, nbytes, seconds, share

TITLE = "Post-processing per NMS load"
_HEADER = ("candidates", "into NMS", "NMS calls", "flops", "mem_access", "time", "% of ops", "predicted", "%")
_NOTE = (
    "candidates: asked for (--detections); into NMS: the boxes its NMS calls received; time and predicted: "
    "the post-processing stage's ops, measured and predicted, and their share of all the model's ops"
)


def _rows(points: Sequence[LoadPoint]) -> list[list[str]]:
    return [
        [
            f"{point.candidates:,}",
            f"{point.nms_boxes:,}",
            str(point.nms_calls),
            count(point.postprocess.totals.flops),
            nbytes(point.postprocess.totals.mem_access_bytes),
            seconds(point.postprocess.time_s),
            "-" if point.ops_s is None else share(point.postprocess.time_s, point.ops_s),
            seconds(point.postprocess.predicted_s),
            "-"
            if point.predicted_ops_s is None
            else share(point.postprocess.predicted_s, point.predicted_ops_s),
        ]
        for point in points
    ]


def render(points: Sequence[LoadPoint], console: Console) -> None:
    """The loads in 80 columns: the NMS calls and the memory access are left to JSON and Markdown."""
    shown = [i for i, column in enumerate(_HEADER) if column not in ("NMS calls", "mem_access")]
    table = Table(title=TITLE, title_justify="left")
    for i in shown:
        table.add_column(_HEADER[i], justify="right", no_wrap=True)
    for row in _rows(points):
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    console.print(_NOTE, highlight=False)


def static_table(points: Sequence[LoadPoint]) -> StaticTable:
    """The loads for the HTML page."""
    return StaticTable(TITLE, _HEADER, _rows(points), (_NOTE,))


def markdown(points: Sequence[LoadPoint]) -> str:
    table = markdown_table(_HEADER, _rows(points), ["---:"] * len(_HEADER))
    return f"\n### {TITLE}\n\n" + "\n".join(table) + f"\n\n{_NOTE}\n"


def to_dict(points: Sequence[LoadPoint]) -> list[dict[str, Any]]:
    return [
        {
            "candidates": point.candidates,
            "nms_boxes": point.nms_boxes,
            "nms_calls": point.nms_calls,
            "postprocess": {
                "mult_adds": point.postprocess.totals.mult_adds,
                "flops": point.postprocess.totals.flops,
                "mem_access_bytes": point.postprocess.totals.mem_access_bytes,
                "ops": point.postprocess.totals.ops,
                "time_s": point.postprocess.time_s,
                "predicted_s": point.postprocess.predicted_s,
            },
            "ops_s": point.ops_s,
            "predicted_ops_s": point.predicted_ops_s,
        }
        for point in points
    ]
