"""One-line error messages: the CLI prints them, never a traceback."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """``"TypeError: first line of the message"``, the form every netprof error takes."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
