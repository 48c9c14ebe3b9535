"""Plain data from frozen results, for JSON: the one way a report lists a result's fields."""

from __future__ import annotations

from typing import Any


def pick(record: object, *names: str) -> dict[str, Any]:
    """``{name: record.name}`` for each of ``names``, in that order (the order the JSON document keeps)."""
    return {name: getattr(record, name) for name in names}
