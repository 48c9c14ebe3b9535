"""Reading the files a user hands netprof (a baseline, an analysis, a config), with one-line errors, and
writing every file netprof makes atomically.

Each caller states what the file is and which error it raises; the three ways a
read fails (no such file, a syntax error, an unreadable file) are worded the same
way for all of them, naming the path.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def read_json(path: Path, error: type[Exception], missing: str = "file not found") -> Any:
    """The JSON document in ``path``; ``error`` with a one-line message when it cannot be had."""
    return _read(path, error, missing, "JSON", json.JSONDecodeError, lambda: json.loads(path.read_text()))


def read_toml(path: Path, error: type[Exception], missing: str = "file not found") -> dict[str, Any]:
    """The TOML document in ``path``; ``error`` with a one-line message when it cannot be had."""

    def parse() -> dict[str, Any]:
        with path.open("rb") as handle:
            return tomllib.load(handle)

    return _read(path, error, missing, "TOML", tomllib.TOMLDecodeError, parse)


def _read(
    path: Path,
    error: type[Exception],
    missing: str,
    syntax: str,
    invalid: type[Exception],
    parse: Callable[[], Any],
) -> Any:
    try:
        return parse()
    except FileNotFoundError:
        raise error(f"{missing}: {path}") from None
    except invalid as cause:
        raise error(f"{path}: invalid {syntax}: {cause}") from None
    except OSError as cause:
        raise error(f"{path}: cannot read: {cause.strerror}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed onto it when the block succeeds and removed when it
    does not: readers see the old file or the new one, never a partial one, and two writers of one
    cache never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # as a plain open() would have made it
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """``path.write_text(text)``, atomically (``replaced``)."""
    with replaced(path) as temporary:
        temporary.write_text(text)
