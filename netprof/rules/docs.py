"""The long document of each rule, ``rules/<ID>.md``.

The canonical copies live at the top of the repository. An editable install reads them
there; a wheel installs them under ``<prefix>/share/netprof/rules`` (``data-files`` in
pyproject.toml), which is searched next. A plugin rule's document is its ``doc``
attribute, else its docstring.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from netprof.errors import NetprofError

SHARE = Path("share", "netprof", "rules")


class DocumentNotFound(NetprofError, LookupError, ValueError):
    """No document for a rule id: a LookupError for callers that look things up, a ValueError
    like every other bad rule id."""


def search_path() -> list[Path]:
    """Where documents are looked for, in order."""
    prefixes = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix, site.getuserbase()]
    roots = [Path(__file__).resolve().parents[2] / "rules"]
    roots += [Path(prefix) / SHARE for prefix in dict.fromkeys(prefixes) if prefix]
    return roots


def load(rule_id: str, plugins: Sequence[str] = ()) -> str:
    """The Markdown document of ``rule_id``; ``DocumentNotFound`` naming it when there is none."""
    name = f"{rule_id}.md"
    if "/" not in rule_id and "\\" not in rule_id:
        for root in search_path():
            path = root / name
            if path.is_file():
                return path.read_text(encoding="utf-8")
    from netprof.rules.registry import entries

    entry = entries(plugins).get(rule_id)
    if entry is not None:
        text = getattr(entry.rule, "doc", None) or type(entry.rule).__doc__ or entry.rule.__doc__
        if text:
            return text
    raise DocumentNotFound(f"no document for rule {rule_id!r}")


def find(rule_id: str) -> str | None:
    """A rule's document, or None when it has none (a plugin without one)."""
    try:
        return load(rule_id)
    except (LookupError, OSError):
        return None
