"""A store clock that follows trio's virtual time while a long poll runs, so store tests driven by a
``ManualClock`` can let a ``dispatch(..., wait=)`` or ``await_settled`` wait in a ``MockClock`` run."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

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
