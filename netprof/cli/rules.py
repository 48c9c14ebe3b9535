"""``netprof rules``: the rules netprof check runs."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from netprof import rules
from netprof.cli import common
from netprof.rules import all_rules
from netprof.rules.base import Severity


def document(rule_id: str) -> str | None:
    """A rule's document, or None when it has none (a plugin without one)."""
    try:
        return rules.docs.load(rule_id)
    except (LookupError, OSError):
        return None


NAME = "rules"
HELP = "list the rules"
DESCRIPTION = "List every rule netprof check runs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table")


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    rows = [
        {
            "id": r.id,
            "title": r.title,
            "severity": str(Severity(r.default_severity)),
            "status": str(getattr(r, "status", "stable")),
            "options": dict(getattr(r, "default_options", {}) or {}),
        }
        for r in sorted(all_rules(), key=lambda rule: rule.id)
    ]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return common.ExitStatus.SUCCESS
    table = Table(show_edge=False, pad_edge=False)
    for name in ("id", "title", "severity", "status", "options"):
        table.add_column(name, overflow="fold")
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row["options"].items())
        table.add_row(row["id"], row["title"], row["severity"], row["status"], options, style=None)
    out.print(table)
    out.print("[dim]netprof explain ID prints a rule's document.[/dim]")
    return common.ExitStatus.SUCCESS
