"""Dotted module paths, as ``nn.Module.named_modules`` spells them (``""`` is the root)."""

from __future__ import annotations


def ancestors(path: str) -> list[str]:
    """``"a.b.c"`` -> ``["", "a", "a.b", "a.b.c"]``: the module itself and every module around it."""
    if not path:
        return [""]
    parts = path.split(".")
    return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]
