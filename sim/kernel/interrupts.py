"""The user's interrupts: found wherever trio put them, and not lost in a finalizer.

A ``KeyboardInterrupt`` (or a ``SystemExit`` from outside a body) stops the run instead of failing a
world; trio may hand it over inside an exception group, or, when it landed in trio's own machinery, as
the cause of a ``TrioInternalError``. ``interrupt_in`` finds it there (it lives in the SDK,
``pytest_durable/sdk/interrupts.py``, whose replay engine needs it too).

Python runs a signal handler between any two bytecodes, a ``__del__`` included (a world leaves cycles
of trio objects that the garbage collector finalizes, often between two worlds), and an exception a
finalizer raises is printed as "Exception ignored in ..." and dropped. A Ctrl-C that lands there would
be lost: the sweep goes on. While ``keep_interrupts()`` is active, a ``KeyboardInterrupt`` handed to
``sys.unraisablehook`` is sent again a millisecond later from a short-lived thread (sent at once, it
lands in the hook and is dropped too), so it lands in the main thread, through whatever handler is
current (trio's inside a run), after the finalizer; one that lands in a finalizer again goes round again,
and one that lands while the hook itself still runs (a loaded machine can fire the timer that soon, and
Python only prints an exception the hook raises) is caught there and sent again.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_durable.sdk.interrupts import afresh, interrupt_in

_active = False


@contextmanager
def keep_interrupts() -> Iterator[None]:
    """Within the block (on the main thread), a Ctrl-C dropped by a finalizer is delivered again."""
    global _active
    if _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous(unraisable)
            return
        while True:
            try:
                later = threading.Timer(0.001, _thread.interrupt_main, args=(signal.SIGINT,))
                later.daemon = True
                later.start()
                break
            except KeyboardInterrupt:
                # On a loaded machine the timer may fire before this hook returns: an interrupt raised
                # inside the unraisable hook is only printed, so it is caught here and sent again. Once
                # out of the ``try`` nothing is called before the hook returns, so none lands there.
                continue

    sys.unraisablehook = hook
    _active = True
    try:
        yield
    finally:
        _active = False
        if sys.unraisablehook is hook:
            sys.unraisablehook = previous


__all__ = ["afresh", "interrupt_in", "keep_interrupts"]
