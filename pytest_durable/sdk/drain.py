"""``Drain``: a stopping worker's rule for the executions it still runs (DESIGN §3, a clean stop).

Once a worker begins to stop, no body starts any more (one about to start waits, unstarted, until the
worker cancels its execution), while a leaf already running may finish and record its result: the
executions reach their next durable boundary. ``quiet`` is set as soon as no leaf is left between its
start and its recorded result, so the worker need not wait out its whole grace period.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio


class Drain:
    """Counts the leaves a worker's executions are running, and parks every body that would start once
    ``begin`` was called. Nothing here awaits before ``begin``: a worker that never stops runs exactly
    as without it (the simulator's worlds are unchanged)."""

    def __init__(self) -> None:
        self.stopping = False
        self._busy = 0
        #: Set once stopping and no leaf is running (every one recorded, or parked before its body).
        self.quiet = trio.Event()

    def begin(self) -> None:
        """The worker stops: from now on no body starts."""
        self.stopping = True
        self._check()

    @contextmanager
    def leaf(self) -> Iterator[None]:
        """Around a leaf's run and the write of its result: while inside, the worker is not quiet."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._check()

    async def before_body(self, *, in_leaf: bool) -> None:
        """Called as a body is about to start: returns at once (no checkpoint) unless the worker is
        stopping; then it never returns, and the execution waits here, its body unstarted, until it is
        cancelled. ``in_leaf``: the caller is inside ``leaf()``, which a parked leaf no longer keeps busy."""
        if not self.stopping:
            return
        if in_leaf:
            self._busy -= 1
            self._check()
        try:
            await trio.sleep_forever()
        finally:
            if in_leaf:
                self._busy += 1

    def _check(self) -> None:
        if self.stopping and self._busy == 0:
            self.quiet.set()


__all__ = ["Drain"]
