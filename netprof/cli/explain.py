"""``netprof explain``: print a rule's document."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markdown import Markdown

from netprof import rules
from netprof.cli import common
from netprof.rules.base import RuleError

NAME = "explain"
HELP = "print a rule's document"
DESCRIPTION = "Print the document of a rule, e.g. netprof explain G1."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", help="rule id, e.g. G1")


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    ids = {rule.id.upper(): rule.id for rule in rules.all_rules()}
    rule_id = ids.get(args.rule.upper())
    if rule_id is None:
        raise RuleError(f"unknown rule {args.rule!r}; known: {', '.join(sorted(ids.values()))}")
    doc = rules.docs.load(rule_id)
    if out.is_terminal:
        out.print(Markdown(doc))
    else:
        sys.stdout.write(doc if doc.endswith("\n") else doc + "\n")
    return common.ExitStatus.SUCCESS
