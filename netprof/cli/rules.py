"""``netprof rules``: the rules netprof check runs."""

from __future__ import annotations

import argparse

from rich.console import Console

from netprof.cli import common
from netprof.rules import all_rules
from netprof.rules.base import Severity

NAME = "rules"
HELP = "list the rules"
DESCRIPTION = "List every rule netprof check runs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_format_argument(parser, NAME)


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
    common.emit(NAME, args.format, rows, None, out, err)
    return common.ExitStatus.SUCCESS
