"""The reports of ``calibrate`` (this machine's roof and device profile) and ``rules`` (every rule)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from netprof.prediction import DeviceProfile
from netprof.prediction import profile as profiles
from netprof.report.prediction import render_profile
from netprof.report.timing import render_calibration
from netprof.timing import calibrate
from netprof.timing.calibrate import Calibration


@dataclass(frozen=True)
class CalibrationReport:
    roof: Calibration
    profile: DeviceProfile


def calibration_table(report: CalibrationReport) -> Callable[[Console], None]:
    def draw(console: Console) -> None:
        render_calibration(report.roof, console)
        render_profile(report.profile, console)

    return draw


def calibration_json(report: CalibrationReport) -> str:
    document = {"roof": calibrate.to_dict(report.roof), "profile": profiles.to_dict(report.profile)}
    return json.dumps(document, indent=1) + "\n"


RuleRows = Sequence[Mapping[str, Any]]  # id, title, severity, status, options


def rules_table(rows: RuleRows) -> Callable[[Console], None]:
    def draw(console: Console) -> None:
        table = Table(show_edge=False, pad_edge=False)
        for name in ("id", "title", "severity", "status", "options"):
            table.add_column(name, overflow="fold")
        for row in rows:
            options = ", ".join(f"{k}={v}" for k, v in row["options"].items())
            table.add_row(row["id"], row["title"], row["severity"], row["status"], options, style=None)
        console.print(table)
        console.print("[dim]netprof explain ID prints a rule's document.[/dim]")

    return draw


def rules_json(rows: RuleRows) -> str:
    return json.dumps(list(rows), indent=1) + "\n"
