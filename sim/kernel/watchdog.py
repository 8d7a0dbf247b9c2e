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
from pytest_durable.sdk import current_promise

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

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1

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
        self._armed = True
        outer = _WATCHER.watch(self)
        try:
            yield
        finally:
            self._armed = False  # an interrupt still on its way does nothing now
            _WATCHER.watch(outer)
            signal.signal(SIGNAL, previous)


class _Watcher:
    """The one thread that watches whichever ``Watchdog`` is armed now. Starting and joining a thread
    for every world cost more than some worlds (two per world, with the oracle's replay), so it is
    started once and stays, a daemon that wakes twice a second and touches nothing while no world runs."""

    def __init__(self) -> None:
        self.current: Watchdog | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, dog: Watchdog | None) -> Watchdog | None:
        """Watch ``dog`` (None: nothing) from now on; the one watched before."""
        with self._lock:
            outer, self.current = self.current, dog
            if dog is not None and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="durable world watchdog", daemon=True)
                self._thread.start()
        return outer

    def _run(self) -> None:
        seen_dog: Watchdog | None = None
        seen, since = -1, _wall()
        while True:
            dog = self.current
            time.sleep(min(dog.limit / 4, 0.5) if dog is not None else 0.5)
            dog, now = self.current, _wall()
            if dog is None:
                seen_dog = None
            elif dog is not seen_dog or dog.steps != seen:
                seen_dog, seen, since = dog, dog.steps, now
            elif now - since >= dog.limit:
                dog._due = seen
                since = now  # if the step swallows it, interrupt it again after another limit
                _thread.interrupt_main(SIGNAL)  # type: ignore[arg-type]


_WATCHER = _Watcher()


def stuck_in(exc: BaseException) -> StuckBody | None:
    """The ``StuckBody`` that ended a trio run, wherever trio put it (itself, or inside a group)."""
    if isinstance(exc, StuckBody):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        group = exc.subgroup(StuckBody)
        if group is not None:
            return stuck_in(group.exceptions[0])
    return None
