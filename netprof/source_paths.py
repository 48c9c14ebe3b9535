"""Source file paths as a report shows them: relative to a root when inside it, never as this
machine's absolute path when that can be helped.

The root is the repository's (the nearest directory above the working directory holding ``.git``,
else the working directory) for what people read and for code scanning, the working directory for
the JSON report and for where a rule's class is defined. A file of an installed package is shown
as ``package/module.py``, the part after ``site-packages`` or ``dist-packages``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePath

_PACKAGE_DIRS = ("site-packages", "dist-packages")


def relative_to(path: str, root: Path) -> str | None:
    """``path`` (absolute, or relative to the working directory) relative to ``root`` in POSIX form;
    None when it lies outside ``root``."""
    try:
        return Path(os.path.abspath(path)).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


@lru_cache(maxsize=32)
def _root_of(cwd: str) -> Path:
    here = Path(cwd)
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def repository_root() -> Path:
    """The git work tree holding the working directory, else the working directory."""
    return _root_of(str(Path.cwd().resolve()))


def installed(path: str) -> str | None:
    """``package/module.py`` for a file under a ``site-packages`` or ``dist-packages`` directory."""
    parts = PurePath(path).parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in _PACKAGE_DIRS and i + 1 < len(parts):
            return PurePath(*parts[i + 1 :]).as_posix()
    return None


def repository_path(path: str, root: Path | None = None) -> str | None:
    """``path`` relative to the repository root; None outside it or in an installed package."""
    if installed(path) is not None:
        return None
    return relative_to(path, root or repository_root())


def display_path(path: str, root: Path | None = None) -> str:
    """An installed package's file: ``package/module.py``; inside the repository: relative to its root;
    anything else as given."""
    return installed(path) or repository_path(path, root) or path
