"""A deadline and a Ctrl-C that stop netprof whatever Python code runs when they fire.

Python runs a signal handler between two bytecodes of whatever code runs at that
moment. When that is a finalizer (``__del__``, a ``weakref.finalize`` or gc
callback), the handler's exception cannot leave it: Python prints "Exception
ignored" and the work goes on, so a one-shot alarm or a single Ctrl-C is lost.
Here, once the deadline has passed or Ctrl-C was pressed, a repeating timer
raises again every ``REPEAT_S`` until the exception leaves the ``with`` block.
While it is on its way out (handled in an ``except``, a ``finally`` or an
``__exit__``) it is not raised again, so cleanup runs undisturbed, and a copy
swallowed by a finalizer is not printed. A second Ctrl-C, once the first has
been seen, kills the process at once (SIGINT's default action).

POSIX only (SIGALRM), in the main thread, one ``Deadline`` at a time; elsewhere Ctrl-C is Python's own.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

from netprof.errors import NetprofError, TimedOut

REPEAT_S = 0.05  # how soon a swallowed TimedOut or KeyboardInterrupt is raised again


class Deadline:
    """Raise ``TimedOut(message)`` after ``seconds`` (None: never) and, with ``ctrl_c``, KeyboardInterrupt on
    SIGINT; either is raised again until it leaves the block."""

    def __init__(self, seconds: float | None, message: str, *, ctrl_c: bool = False) -> None:
        self.seconds = seconds
        self.message = message
        self.ctrl_c = ctrl_c
        usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
        self._armed = (seconds is not None or ctrl_c) and usable
        if seconds is not None and not usable:
            raise NetprofError("--timeout needs SIGALRM and the main thread, which this run does not have")
        self._active = False
        self._firing: type[BaseException] | None = None
        self._previous: dict[int, Any] = {}
        self._previous_hook = sys.unraisablehook

    def __enter__(self) -> Deadline:
        if not self._armed:
            return self
        self._active = True
        self._firing = None
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._alarm)
        if self.ctrl_c:
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._interrupt)
        if self.seconds is not None:
            signal.setitimer(signal.ITIMER_REAL, self.seconds, REPEAT_S)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if not self._armed:
            return
        self._active = False  # first, and without a call: from here on the handlers raise nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
        sys.unraisablehook = self._previous_hook

    def _alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._firing is None:
            self._firing = TimedOut
        self._raise(frame)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if not self._active:  # __exit__ is restoring the handlers: the block has already ended
            return
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C stops the process at once
        self._firing = KeyboardInterrupt
        signal.setitimer(signal.ITIMER_REAL, REPEAT_S, REPEAT_S)
        self._raise(frame)

    def _raise(self, frame: FrameType | None) -> None:
        # The handler may run at the first bytecode of __exit__, before it disarms anything: let it disarm.
        if not self._active or self._firing is None or (frame is not None and frame.f_code is _EXIT):
            return
        if self._on_its_way():
            return
        if self._firing is TimedOut:
            raise TimedOut(self.message)
        raise self._firing

    def _on_its_way(self) -> bool:
        """Whether an exception this deadline raised is being handled now (by a cleanup on its way out)."""
        error, seen = sys.exc_info()[1], set()
        while error is not None and id(error) not in seen:
            if isinstance(error, (TimedOut, KeyboardInterrupt)):
                return True
            seen.add(id(error))
            error = error.__cause__ or error.__context__
        return False

    def _unraisable(self, unraisable: Any) -> None:
        # Swallowed by a finalizer: the timer raises it again in a moment, so say nothing.
        if self._firing is not None and isinstance(unraisable.exc_value, (TimedOut, KeyboardInterrupt)):
            return
        self._previous_hook(unraisable)


_EXIT = Deadline.__exit__.__code__
