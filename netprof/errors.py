"""The errors a user can fix, and their one-line messages: the CLI prints them, never a traceback.

Every error netprof raises for bad input (a SPEC, a shape, a config, a baseline,
a rule option) is a ``NetprofError``; the CLI maps that one family to exit
status 2, and anything else to 3, an internal error.
"""

from __future__ import annotations


class NetprofError(Exception):
    """Bad input a user can fix; the message names the cause in one line."""


class TimedOut(BaseException):
    """``--timeout`` ran out. A BaseException, as KeyboardInterrupt is, so that no ``except Exception``
    in a user's model or in netprof's own fallbacks can swallow it."""


def one_line(error: BaseException) -> str:
    """``"TypeError: first line of the message"``, the form every netprof error takes."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
