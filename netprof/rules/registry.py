"""The table of rules: the built-ins (G1-G4, M1, D1, D2), then plugins.

Plugins come from the ``netprof.rules`` entry point group (each entry point loads a rule
object) and from ``"package.module:OBJECT"`` specs passed by the caller. A rule is any
object with ``id``, ``title``, ``default_severity``, ``default_options`` and ``check``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from netprof.rules import (
    d1_postprocessing,
    d2_head_fragmentation,
    g1_equal_channels,
    g2_group_convolution,
    g3_fragmentation,
    g4_elementwise,
    memory_budget,
)
from netprof.rules.base import Rule, RuleError, Status

ENTRY_POINT_GROUP = "netprof.rules"
REQUIRED = ("id", "title", "default_severity", "default_options", "check")


@dataclass(frozen=True)
class RuleEntry:
    rule: Rule
    status: Status
    origin: str  # "builtin", the entry point name, or the plugin spec


BUILTIN: dict[str, RuleEntry] = {
    entry.rule.id: entry
    for entry in (
        RuleEntry(g1_equal_channels.RULE, Status.STABLE, "builtin"),
        RuleEntry(g2_group_convolution.RULE, Status.STABLE, "builtin"),
        RuleEntry(g3_fragmentation.RULE, Status.STABLE, "builtin"),
        RuleEntry(g4_elementwise.RULE, Status.STABLE, "builtin"),
        RuleEntry(memory_budget.RULE, Status.STABLE, "builtin"),
        RuleEntry(d1_postprocessing.RULE, Status.STABLE, "builtin"),
        RuleEntry(d2_head_fragmentation.RULE, Status.STABLE, "builtin"),
    )
}


def _checked(rule: Any, origin: str) -> RuleEntry:
    missing = [name for name in REQUIRED if not hasattr(rule, name)]
    if missing:
        raise RuleError(f"rule plugin {origin}: {type(rule).__name__} lacks {', '.join(missing)}")
    return RuleEntry(rule, Status(getattr(rule, "status", Status.STABLE)), origin)


def load_plugin(spec: str) -> RuleEntry:
    """``"package.module:OBJECT"`` (``OBJECT`` may be dotted) -> its rule."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise RuleError(f"rule plugin {spec!r}: expected 'package.module:OBJECT'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise RuleError(f"rule plugin {spec!r}: {error}") from error
    return _checked(target, spec)


def entries(plugins: Sequence[str] = ()) -> dict[str, RuleEntry]:
    """Every rule by id: built-ins, entry points, then ``plugins``; a reused id is an error."""
    table = dict(BUILTIN)
    found = [(f"entry point {ep.name!r}", ep) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    loaded: list[RuleEntry] = []
    for origin, ep in found:
        try:
            rule = ep.load()
        except Exception as error:  # a broken third-party package: name it
            raise RuleError(f"rule plugin {origin} ({ep.value}): {error}") from error
        loaded.append(_checked(rule, origin))
    loaded += [load_plugin(spec) for spec in plugins]
    for entry in loaded:
        if entry.rule.id in table:
            raise RuleError(
                f"rule plugin {entry.origin}: id {entry.rule.id!r} is already used by {table[entry.rule.id].origin}"
            )
        table[entry.rule.id] = entry
    return table
