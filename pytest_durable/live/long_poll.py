"""``LongPoll``: the waiting half of a SQL store's ``dispatch(..., wait=)`` and ``await_settled``, as the
reference ``MemoryStore`` waits (docs/architecture.md, "The store contract").

A long poll reads the store (the engine's ``poll``: one query when nothing is due for it, else the real
dispatch, one transaction), and when that answers nothing yet, sleeps until one of three things: a write
of this process that may answer it (the keys the engine's transactions noted, handed to ``core.wakeups``
by ``publish`` after each operation), the next instant something falls due by time alone (a retry,
timeout or lease expiry: the engine computes it with the read, in the same query), or a change of
another process (the store's ``Watch``, pumped only while somebody waits). Then it reads again; after
``wait`` seconds it answers what it has, without a last read when nothing woke it and nothing fell due
since the one before (that read would answer the same, and a worker's next poll reads at once).

``run`` is how an operation is run: in place (``SqlStore``: the simulator applies a request in one
step, so nothing here suspends except the sleep itself) or in a thread (``Threaded``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import attrs
import trio

from ..core.clock import Clock
from ..core.records import PromiseRecord, TaskRecord
from ..core.wakeups import SCHEDULE, Wakeups, due_key, settled_key
from .sql_engine import Polled, SqlEngine
from .watch import Watch

T = TypeVar("T")
#: Runs one engine operation (given as a call without arguments) and returns its value.
Runner = Callable[[Callable[[], T]], Awaitable[T]]


@attrs.define(eq=False)
class _Added:
    """The earliest timeout or lease expiry this process's commits added since a poll's read (``inf``:
    none); compared by identity, as each poll holds its own."""

    earliest: float = math.inf


class LongPoll:
    """The long polls of one store: ``engine()`` is its engine now (a SQLite store may reopen it),
    ``wakeups`` where its waiters sleep, ``watch`` how other processes' changes reach them (``None``
    when no other process shares the store, as in the simulator)."""

    def __init__(self, engine: Callable[[], SqlEngine], clock: Clock, wakeups: Wakeups, watch: Watch | None) -> None:
        self._engine = engine
        self.clock = clock
        self.wakeups = wakeups
        self.watch = watch
        #: The clock time a waiter of this process sleeps towards at most (a due instant it computed):
        #: a write that adds an earlier timeout or lease notifies ``SCHEDULE``, a later one does not.
        self.known_next = math.inf
        self._since: list[_Added] = []  # one per waiting poll
        self._busy: set[str] = set()  # the targets whose last poll here found tasks

    def publish(self) -> None:
        """Wake this process's waiters that the committed transactions may answer (call it on the trio
        thread after every operation, refused ones included: they may commit lazy timeouts)."""
        keys, earliest = self._engine().transactions.take_changes()
        for key in keys:
            self.wakeups.notify(key)
        for since in self._since:
            since.earliest = min(since.earliest, earliest)
        if earliest < self.known_next:
            self.known_next = earliest
            self.wakeups.notify(SCHEDULE)

    async def dispatch(self, run: Runner[Polled], target: str, limit: int, wait: float) -> list[TaskRecord]:
        if not wait > 0:
            return (await run(lambda: Polled(self._engine().dispatch(target, limit), math.inf, math.inf))).tasks
        if self.watch is not None:
            await self.watch.arm()
        keys = (due_key(target), SCHEDULE)
        deadline: float | None = None  # counted from the end of the first read, as the reference store does
        look = target not in self._busy  # an idle worker's poll: look (one query) before taking the lock
        while True:
            with self.wakeups.armed(keys) as changed, self._adding() as added:
                out, next_due, next_entry = await run(functools.partial(self._poll, target, limit, look))
                now = trio.current_time()
                if deadline is None:
                    deadline = now + wait
                if out:
                    self._busy.add(target)
                    return out
                self._busy.discard(target)
                if now >= deadline:
                    return out
                self.known_next = next_due
                await self._sleep(changed, min(deadline, now + max(next_due - self.clock.now(), 0.0)))
                if (trio.current_time() >= deadline and not changed.is_set()
                        and min(next_due, next_entry, added.earliest) > self.clock.now()):
                    # Nothing was written that it waits for, and nothing fell due since the read: a read
                    # now would find nothing and change nothing (the caller's next poll reads at once).
                    return []
                # woken by a write it waits for, or by the instant something falls due: expect to find it
                look = trio.current_time() >= deadline

    async def await_settled(self, run: Runner[PromiseRecord], id: str, wait: float) -> PromiseRecord:
        if not wait > 0:
            return await run(lambda: self._engine().get_promise(id))
        if self.watch is not None:
            await self.watch.arm()
        deadline: float | None = None
        while True:
            with self.wakeups.armed((settled_key(id),)) as changed:
                record = await run(lambda: self._engine().get_promise(id))  # NotFound before any wait
                now = trio.current_time()
                if deadline is None:
                    deadline = now + wait
                if record.settled or now >= deadline:
                    return record
                # its own timeout settles it too, whether or not anybody sweeps
                await self._sleep(changed, min(deadline, now + max(record.timeout_at - self.clock.now(), 0.0)))

    async def sleep_until_due(self, run: Runner[float], at_most: float) -> float:
        """Sleep until the next timeout or lease expiry falls due, an earlier one is added by this process,
        or ``at_most`` seconds pass, whichever is first: a sweeper's sleep (another process's new timeout
        is seen at the next of these). Returns the clock time of the next due instant as it then stands
        (``-inf``: an earlier one was added, look again)."""
        deadline = trio.current_time() + at_most
        with self.wakeups.armed((SCHEDULE,)) as changed:
            found = await run(lambda: self._engine().next_due())
            self.known_next = found
            with trio.move_on_at(min(deadline, trio.current_time() + max(found - self.clock.now(), 0.0))):
                await changed.wait()
                return -math.inf
            return found

    def _poll(self, target: str, limit: int, look_first: bool) -> Polled:
        return self._engine().poll(target, limit, look_first=look_first)

    @contextmanager
    def _adding(self) -> Iterator[_Added]:
        """While it lasts, what this process's commits add (``publish``), so that a poll knows whether
        a read would now find something due."""
        since = _Added()
        self._since.append(since)
        try:
            yield since
        finally:
            self._since.remove(since)

    async def _sleep(self, changed: trio.Event, until: float) -> None:
        """Until trio time ``until``, or until ``changed`` is set (by this process or, through the watch,
        another)."""
        with trio.move_on_at(until):
            if self.watch is None:
                await changed.wait()
                return
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.watch.pump)
                await changed.wait()
                nursery.cancel_scope.cancel()


__all__ = ["LongPoll", "Runner"]
