"""``SqlStore``: the async ``Store`` face and the sync ``Inspect`` protocol over a ``SqlEngine``, shared by
``SqliteStore`` and ``PostgresStore``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ..core.clock import Clock
from ..core.inspection import StoreSnapshot
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from ..core.wakeups import Wakeups
from .long_poll import LongPoll
from .sql_engine import SqlEngine
from .sql_listing import Listed, ListQuery
from .watch import Watch

T = TypeVar("T")


class SqlStore:
    """The async ``Store`` and the sync ``Inspect`` protocol over an ``SqlEngine``.

    The async methods never suspend (each runs its transaction to the end before returning), except a
    long poll while it waits (``live.long_poll``), so the simulator applies a request in one step; a live
    worker runs the same operations in a thread (``Threaded``). ``watch`` brings other processes'
    changes to this store's long polls (``None``: no other process shares the store).
    """

    def __init__(self, engine: SqlEngine, *, watch: Callable[[Wakeups], Watch] | None = None) -> None:
        self.engine = engine
        #: Where this process's long polls wait; notified after each operation by what it committed.
        self.wakeups = Wakeups()
        self.watch = watch(self.wakeups) if watch is not None else None
        self.long_poll = LongPoll(lambda: self.engine, engine.clock, self.wakeups, self.watch)

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def close(self) -> None:
        """Close the connection (and the watch's); the store is unusable afterwards."""
        if self.watch is not None:
            self.watch.close()
        self.engine.close()

    def next_due(self) -> float:
        """The earliest instant, later than now, at which time alone changes an answer (``MemoryStore.next_due``)."""
        return self.engine.next_due()

    async def _now(self, op: Callable[[], T]) -> T:
        """Run ``op`` in place, then wake the waiters of this process that its commit may answer."""
        try:
            return op()
        finally:
            self.long_poll.publish()

    # -- Inspect ---------------------------------------------------------------------------------------

    def promises(self) -> list[PromiseRecord]:
        """Every promise record, in creation order, as stored (due timeouts not yet applied)."""
        return self.engine.promises()

    def tasks(self) -> list[TaskRecord]:
        """Every task record, in creation order."""
        return self.engine.tasks()

    def promise(self, id: str) -> PromiseRecord | None:
        """The stored record of ``id`` (a due timeout not applied), or ``None``."""
        return self.engine.promise(id)

    def promise_count(self) -> int:
        """How many promises the store holds."""
        return self.engine.promise_count()

    def promise_map(self) -> Mapping[str, PromiseRecord]:
        """A snapshot of promises by id."""
        return {r.id: r for r in self.engine.promises()}

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        """Every record now; with ``apply_due``, as a sweep would leave them (rolled back, not applied)."""
        return self.engine.snapshot(apply_due=apply_due)

    async def listing(self, query: ListQuery) -> tuple[list[Listed], bool]:
        """A page of promises for ``ls`` (``SqlEngine.listing``): outside the store contract."""
        return await self._now(lambda: self.engine.listing(query))

    # -- Store -----------------------------------------------------------------------------------------

    async def create_promise(
        self,
        id: str,
        param: str,
        timeout_at: float,
        tags: Mapping[str, str] | None = None,
        *,
        target: str | None = None,
        fence: Fence | None = None,
    ) -> PromiseRecord:
        return await self._now(
            lambda: self.engine.create_promise(id, param, timeout_at, tags, target=target, fence=fence)
        )

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        return await self._now(lambda: self.engine.settle_promise(id, state, value, fence=fence))

    async def get_promise(self, id: str) -> PromiseRecord:
        return await self._now(lambda: self.engine.get_promise(id))

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        return await self._now(lambda: self.engine.get_branch(id))

    async def get_task(self, id: str) -> TaskRecord:
        return await self._now(lambda: self.engine.get_task(id))

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        return await self.long_poll.dispatch(self._now, target, limit, wait)

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        return await self.long_poll.await_settled(self._now, id, wait)

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        return await self._now(lambda: self.engine.acquire_task(id, owner, ttl))

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        return await self._now(lambda: self.engine.reclaim_tasks(target, owner, ttl))

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        return await self._now(lambda: self.engine.heartbeat_task(fence))

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        return await self._now(lambda: self.engine.release_task(fence, error=error))

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        return await self._now(lambda: self.engine.fulfill_task(fence, state, value))

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        return await self._now(lambda: self.engine.suspend_task(fence, awaiting))

    async def sweep(self) -> None:
        await self._now(self.engine.sweep)

    async def sleep_until_due(self, at_most: float) -> float:
        """Sleep until the next timeout or lease expiry, an earlier one added here, or ``at_most`` seconds;
        the clock time of the next due instant (``-inf``: look again)."""
        return await self.long_poll.sleep_until_due(self._now, at_most)
