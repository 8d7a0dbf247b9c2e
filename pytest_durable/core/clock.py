"""Clocks the store reads time from, so tests and the simulator can own time."""

from __future__ import annotations

from typing import Protocol

import attrs
import trio


class Clock(Protocol):
    """Anything that tells the current time in seconds."""

    def now(self) -> float: ...


@attrs.define
class ManualClock:
    """A clock that moves only when told to; the store's property tests drive it."""

    time: float = 0.0

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        self.time += seconds


class TrioClock:
    """Reads ``trio.current_time()``: real time in a live run, virtual time under a MockClock."""

    def now(self) -> float:
        return trio.current_time()


class WallClock:
    """Seconds since the Unix epoch (``time.time()``): the clock of a production store.

    It means the same in every process on every machine whose clock is synchronised, and after a
    restart, so a timeout or lease stamped by one worker is read right by another. Trio's clock has
    a random per-run offset and must never stamp stored times; a simulated world passes its
    ``TrioClock`` (virtual time) instead.
    """

    def now(self) -> float:
        import time

        return time.time()
