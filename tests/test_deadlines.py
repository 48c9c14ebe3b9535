"""The one deadline primitive, in this process: raised again when swallowed, never during the cleanup of
its own exception, and gone once its block ends. Every loop here gives up after a few seconds, so a broken
deadline fails a test rather than hanging the suite."""

import signal
import sys
import time
import weakref

import pytest

from netprof.deadlines import REPEAT_S, Deadline
from netprof.errors import TimedOut

GIVE_UP_S = 5.0


def spin(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


def swallowing(kind: type[BaseException], swallowed: list[BaseException], start=lambda: None) -> None:
    """Spin until ``kind`` comes, and swallow it, as a model's own ``except`` might."""
    try:
        start()
        spin(GIVE_UP_S)
    except kind as error:
        swallowed.append(error)


def test_a_timed_out_swallowed_by_the_code_is_raised_again():
    swallowed = []
    with pytest.raises(TimedOut, match="^late$"), Deadline(0.05, "late"):
        for _ in range(3):
            swallowing(BaseException, swallowed)
        spin(GIVE_UP_S)  # the fourth one is let through
    assert [type(error) for error in swallowed] == [TimedOut] * 3


def test_a_timed_out_lost_in_a_finalizer_is_raised_again_and_not_printed(monkeypatch):
    # The finalizer runs until the alarm stops it: the first TimedOut is raised there, where it cannot leave.
    ran, printed = [], []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)  # what prints "Exception ignored"

    def finalizer() -> None:
        ran.append(True)
        spin(GIVE_UP_S)

    with pytest.raises(TimedOut), Deadline(0.05, "late"):
        weakref.finalize(type("Dying", (), {})(), finalizer)
        assert ran == [True]
        spin(GIVE_UP_S)
    assert printed == []


def test_the_cleanup_of_its_own_exception_is_not_interrupted():
    # The cleanup takes 10 repeats; a TimedOut raised again inside it would skip the rest.
    cleaned = []
    with pytest.raises(TimedOut), Deadline(0.05, "late"):
        try:
            spin(GIVE_UP_S)
        finally:
            spin(10 * REPEAT_S)
            cleaned.append(True)
    assert cleaned == [True]


def test_nothing_is_left_armed_after_the_block():
    before = signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT), sys.unraisablehook
    with pytest.raises(TimedOut), Deadline(0.05, "late", ctrl_c=True):
        spin(GIVE_UP_S)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert (signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT), sys.unraisablehook) == before
    with Deadline(10, "late", ctrl_c=True):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_ctrl_c_is_raised_again_until_it_leaves_the_block():
    # What was in force before: Python's handler, or SIG_IGN where the suite runs in a background job.
    before = signal.getsignal(signal.SIGINT)
    swallowed = []
    with pytest.raises(KeyboardInterrupt), Deadline(None, "", ctrl_c=True):
        swallowing(KeyboardInterrupt, swallowed, lambda: signal.raise_signal(signal.SIGINT))
        swallowing(KeyboardInterrupt, swallowed)
        spin(GIVE_UP_S)
    assert len(swallowed) == 2
    assert signal.getsignal(signal.SIGINT) == before
