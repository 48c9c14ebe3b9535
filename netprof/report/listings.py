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
from netprof.runtimes import profile as runtime_profiles
from netprof.runtimes.profile import RuntimeProfile
from netprof.timing import calibrate
from netprof.timing.calibrate import Calibration


@dataclass(frozen=True)
class CalibrationReport:
    """Eager calibration: the roof and the device profile; a runtime's: its profile (no roof), whose
    measured fusion pairs are shown too."""

    roof: Calibration | None
    profile: DeviceProfile


def _fusion_table(profile: RuntimeProfile) -> Table:
    title = (
        "Fusion pairs: fused where the profiler saw one kernel in most places, else by nn-Meter's rule "
        "(T1 + T2 - T12 > 0.5 min(T1, T2), in us); a fused follower's price per flop"
    )
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in ("anchor", "follower", "T1", "T2", "T12", "one kernel", "fused", "ps/flop"):
        table.add_column(column, justify="left" if column in ("anchor", "follower") else "right")
    for pair in profile.fusion:
        times = (pair.first_s, pair.second_s, pair.both_s)
        cost = profile.fused_s_per_flop.get(pair.follower) if pair.fused else None
        table.add_row(
            pair.anchor,
            pair.follower,
            *(f"{t * 1e6:.1f}" if t else "-" for t in times),
            f"{pair.together}/{pair.seen}" if pair.seen else "not seen",
            "yes" if pair.fused else "no",
            "-" if cost is None else f"{cost * 1e12:.1f}",
        )
    return table


def calibration_table(report: CalibrationReport) -> Callable[[Console], None]:
    def draw(console: Console) -> None:
        if report.roof is not None:
            render_calibration(report.roof, console)
        render_profile(report.profile, console)
        if isinstance(report.profile, RuntimeProfile):
            console.print(_fusion_table(report.profile))

    return draw


def calibration_json(report: CalibrationReport) -> str:
    profile = report.profile
    document: dict[str, Any] = {} if report.roof is None else {"roof": calibrate.to_dict(report.roof)}
    document["profile"] = (
        runtime_profiles.to_dict(profile)
        if isinstance(profile, RuntimeProfile)
        else profiles.to_dict(profile)
    )
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
