"""``netprof rules`` and ``netprof explain``: the rules netprof check runs, and their documents."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from netprof import rules
from netprof.cli import common
from netprof.rules import all_rules
from netprof.rules.base import RuleError, Severity


def document(rule_id: str) -> str | None:
    """A rule's document, or None when it has none (a plugin without one)."""
    try:
        return rules.docs.load(rule_id)
    except (LookupError, OSError):
        return None


def register(commands: Any) -> None:
    listing = common.add_command(
        commands,
        "rules",
        list_rules,
        help="list the rules",
        description="List every rule netprof check runs.",
    )
    listing.add_argument("--format", choices=["table", "json"], default="table")
    explain = common.add_command(
        commands,
        "explain",
        explain_rule,
        help="print a rule's document",
        description="Print the document of a rule, e.g. netprof explain G1.",
    )
    explain.add_argument("rule", help="rule id, e.g. G1")


def list_rules(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
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


def explain_rule(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    ids = {rule.id.upper(): rule.id for rule in all_rules()}
    rule_id = ids.get(args.rule.upper())
    if rule_id is None:
        raise RuleError(f"unknown rule {args.rule!r}; known: {', '.join(sorted(ids.values()))}")
    doc = rules.docs.load(rule_id)
    if out.is_terminal:
        out.print(Markdown(doc))
    else:
        sys.stdout.write(doc if doc.endswith("\n") else doc + "\n")
    return common.ExitStatus.SUCCESS
