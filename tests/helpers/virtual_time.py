"""A store clock that follows trio's virtual time while a long poll runs, so store tests driven by a
``ManualClock`` can let a ``dispatch(..., wait=)`` or ``await_settled`` wait in a ``MockClock`` run; and
``write_at``, a write made during such a wait at an exact instant, in an order that does not depend on
trio's scheduler."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import trio
import trio.testing

from pytest_durable.core import ManualClock


@attrs.define
class FollowingClock(ManualClock):
    """A ``ManualClock`` that, inside ``in_virtual_time``, runs with trio's (virtual) time from where it stood."""

    origin: tuple[float, float] | None = None  # (clock time, trio time) when it began to follow

    def now(self) -> float:
        if self.origin is None:
            return self.time
        return self.origin[0] + (trio.current_time() - self.origin[1])

    def in_virtual_time(self, main: Callable[[], Awaitable[Any]]) -> Any:
        """``await main()`` in a trio run on a MockClock that jumps whenever every task waits; the clock
        follows it and stays where the run ended."""

        async def run() -> Any:
            self.origin = (self.time, trio.current_time())
            try:
                return await main()
            finally:
                self.time = self.now()
                self.origin = None

        return trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))


def close(a: float, b: float) -> bool:
    """Equal but for float rounding between a store's clock and trio's."""
    return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-6)


async def write_at(
    after: float, write: Callable[[], Awaitable[Any]], *, first: Literal["write", "wakes"] = "write",
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Make ``write`` ``after`` seconds (virtual time) after ``await nursery.start(write_at, after, write)``.

    A ``trio.sleep(after)`` before the write would race: when another task (a long poll) wakes at that
    same instant, which of the two runs first is the order trio's scheduler gives the batch of woken
    tasks (random, or drawn under Hypothesis from state the earlier runs of the example moved), so two
    runs of one test could see the write before or after the poll's read. Instead this task moves the
    clock itself, only while every task waits, deadline by deadline, and at ``after`` makes the write
    before any task woken at that instant runs (``first="write"``) or once they all wait again
    (``first="wakes"``; if the poll has returned by then, it cancels the write). The autojump of the
    ``in_virtual_time`` run is off until the write is made."""
    clock = trio.lowlevel.current_clock()
    assert isinstance(clock, trio.testing.MockClock), "write_at runs inside in_virtual_time"
    at = trio.current_time() + after  # the deadline a trio.sleep(after) would have
    threshold, clock.autojump_threshold = clock.autojump_threshold, math.inf
    task_status.started()
    try:
        while True:
            await trio.testing.wait_all_tasks_blocked()
            now = trio.current_time()
            next_wake = trio.lowlevel.current_statistics().seconds_to_next_deadline
            if next_wake < at - now:
                clock.jump(next_wake)  # a task wakes before the write: let it run
                continue
            clock.jump(at - now)
            if first == "wakes" and next_wake == at - now:
                await trio.testing.wait_all_tasks_blocked()
            await write()
            return
    finally:
        clock.autojump_threshold = threshold
