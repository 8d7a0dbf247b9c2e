"""Bodies that block the world's one event loop: a synchronous ``time.sleep``, or one step that runs long.

In production such a body stalls every other task of its worker (its heartbeats included), so it is the
user's bug; in a world it stalls the whole world, a sweep of many worlds most of all. Each is one
``BlockingCallWarning`` naming the function, said after the world has run (never inside it, so
``-W error`` cannot turn it into a failure of the world; the SDK's own misuse warnings, a durable call
never awaited, are kept until then too) and once per process (``pytest_durable.core.misuse``).
Neither changes what the world does:

- ``time.sleep`` inside a world returns at once. A real sleep would only cost wall time: virtual time
  does not move while a step runs, so the world traced the same with it; and moving the virtual clock
  instead would freeze every simulated process and the server with the sleeper, which no production
  run does. The warning tells the user to ``await trio.sleep(...)`` (or ``ctx.sleep`` for a durable
  timer) instead.
- a step that ran longer than ``slow`` seconds of real time (a CPU loop) is noted by a trio instrument
  that reads the wall clock (``pytest_durable.sdk.SlowSteps``, which a live worker uses too); a
  wall-clock measure is not deterministic, so it is only ever a warning, never a trace event, a draw or
  a violation (the watchdog stops a step that never ends).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from pytest_durable.core.misuse import BlockingCallWarning, deferred, warn_once
from pytest_durable.sdk import SlowSteps, current_function, current_promise, slow_step_message

#: The real sleep, taken when this module loads: the world replaces ``time.sleep``.
_real_sleep = time.sleep


class Blocking:
    """What blocked one world's event loop: the synchronous sleeps (function, seconds) and the long
    steps (function, seconds) its bodies made, in the order met."""

    def __init__(self, slow: float) -> None:
        self.slow = slow
        self.sleeps: list[tuple[str, float]] = []
        self.steps: list[tuple[str, float]] = []
        self.thread = threading.get_ident()

    def instruments(self) -> list[trio.abc.Instrument]:
        """The instrument that notes long steps for a world's run, unless ``slow`` is 0."""
        if self.slow <= 0:
            return []
        return [SlowSteps(self.slow, lambda function, took: self.steps.append((function, took)))]

    def said(self) -> None:
        """One warning per function (and per process) for what this world met."""
        for function, seconds in self.sleeps:
            warn_once(BlockingCallWarning, f"sleep {function}",
                      f"durable: {function} called time.sleep({seconds:g}) in a simulated world, which blocks its "
                      "worker's event loop (every other task of the worker, its heartbeats included, waits); the "
                      "world skipped the sleep: write `await trio.sleep(...)`, or `await ctx.sleep(...)` in a "
                      "workflow for a durable timer")
        for function, seconds in self.steps:
            warn_once(BlockingCallWarning, f"step {function}", slow_step_message(function, seconds, self.slow))


_current: Blocking | None = None


def sleep(seconds: float) -> None:
    """``time.sleep``: in a world, noted and skipped (see above); elsewhere, the real sleep."""
    world = _current
    if world is None or threading.get_ident() != world.thread or current_promise.get() is None:
        _real_sleep(seconds)
        return
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    caller = sys._getframe(1).f_code.co_qualname
    function = current_function() or caller
    world.sleeps.append((function if function == caller else f"{function} (in {caller})", seconds))


@contextmanager
def watched(slow: float) -> Iterator[Blocking]:
    """Within the block, ``time.sleep`` on this thread inside a body is noted and skipped, and the
    instrument it gives notes long steps; misuse warnings (these, and the SDK's) are kept. After it,
    ``time.sleep`` is what it was, and what was kept is said."""
    global _current
    outer, saved = _current, time.sleep
    _current = blocking = Blocking(slow)
    time.sleep = sleep  # type: ignore[assignment]
    try:
        with deferred():
            yield blocking
            blocking.said()
    finally:
        _current = outer
        time.sleep = saved
