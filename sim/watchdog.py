"""A wall-clock watchdog for one world: stops a body that never yields (``while True: pass``).

A world runs on virtual time, so a step of a trio task that never awaits freezes it for good. The
watchdog sits outside the world: a trio instrument counts task steps, and a thread notices when the
count has not moved for ``limit`` seconds of wall time. It then interrupts the main thread, whose
signal handler raises ``StuckBody`` (naming the promise whose body runs there) into the stuck step.
It draws nothing, traces nothing and never touches a world that keeps stepping, so a passing world is
the same with it or without it. It works only on the main thread (where signals are delivered);
elsewhere it is off.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import trio

from pytest_durable.core.errors import Interrupted
from pytest_durable.sdk.running import current_promise

#: The wall clock, taken when this module loads: a world may put virtual time behind ``time.monotonic``
#: for the user's code (and tests guard it), but the watchdog lives outside the world.
_wall = time.monotonic

#: The signal the watchdog thread raises in the main thread (only simulated: ``interrupt_main``).
SIGNAL = getattr(signal, "SIGUSR2", None)


class StuckBody(Interrupted):
    """A step of a world ran longer than the wall-clock limit without yielding to trio."""

    def __init__(self, promise: str | None, limit: float) -> None:
        self.promise = promise
        self.limit = limit
        where = f"the body of {promise}" if promise else "a step outside any body"
        super().__init__(f"{where} ran for more than {limit:g} s of wall time without yielding")


class Watchdog(trio.abc.Instrument):
    """Counts task steps (as a trio instrument) and, once armed, interrupts a step that runs too long."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.steps = 0
        self._due = -1  # the step the thread asked to stop, until the handler has stopped it
        self._armed = False
        self._stop = threading.Event()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1

    def _watch(self) -> None:
        seen, since = self.steps, _wall()
        while not self._stop.wait(min(self.limit / 4, 0.5)):
            now = _wall()
            if self.steps != seen:
                seen, since = self.steps, now
            elif now - since >= self.limit:
                self._due = seen
                since = now  # if the step swallows it, interrupt it again after another limit
                _thread.interrupt_main(SIGNAL)  # type: ignore[arg-type]

    def _on_signal(self, previous: Any) -> Any:
        def handler(signum: int, frame: FrameType | None) -> None:
            if self._armed and self._due >= 0 and self._due == self.steps:
                self._due = -1
                raise StuckBody(current_promise.get(), self.limit)
            if callable(previous):  # a real signal, not ours: hand it on
                previous(signum, frame)

        return handler

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Within the block, watch the steps this instrument counts (on the main thread only)."""
        if SIGNAL is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(SIGNAL)
        signal.signal(SIGNAL, self._on_signal(previous))
        thread = threading.Thread(target=self._watch, name="durable world watchdog", daemon=True)
        self._armed = True
        thread.start()
        try:
            yield
        finally:
            self._armed = False  # an interrupt still on its way does nothing now
            self._stop.set()
            thread.join()
            signal.signal(SIGNAL, previous)
