"""A SQL store for a live worker: every operation runs in a worker thread, off the trio loop.

``SqlStore``'s async methods never suspend (the simulator needs each request applied in one step), so
a live worker calling them directly would stop its whole event loop while SQLite waits for another
process's write lock (up to the busy timeout) or PostgreSQL answers: heartbeats would starve and the
worker would lose leases it holds. ``Threaded`` runs the same synchronous engine in a thread (the
engine serialises its connection with a lock) and turns the database driver's operational errors
(locked, disconnected) into ``StoreUnavailable``, which the worker retries like a lost request.

Long polls wait as ``SqlStore``'s do, on the same ``wakeups`` and watch (``live.long_poll``): each
operation's thread returns before its commit wakes anybody, because a ``trio.Event`` is set on the
trio thread only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import trio

from ..core.clock import Clock
from ..core.errors import StoreUnavailable
from ..core.inspection import StoreSnapshot
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from ..core.wakeups import Wakeups
from .sql_listing import Listed, ListQuery
from .sql_store import SqlStore

T = TypeVar("T")


class Threaded:
    """``store``'s operations in a thread each; ``transient`` are the driver's errors that mean
    "try again" (e.g. ``sqlite3.OperationalError``)."""

    def __init__(self, store: SqlStore, *, transient: tuple[type[BaseException], ...] = ()) -> None:
        self.store = store
        self.engine = store.engine
        self.transient = transient

    @property
    def clock(self) -> Clock:
        return self.store.clock

    def close(self) -> None:
        self.store.close()

    @property
    def wakeups(self) -> Wakeups:
        """Where this process's long polls wait (the wrapped store's)."""
        return self.store.wakeups

    async def _run(self, op: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await trio.to_thread.run_sync(functools.partial(op, *args, **kwargs))
        except self.transient as exc:
            raise StoreUnavailable(f"{self.engine.where}: {type(exc).__name__}: {exc}") from exc
        finally:
            self.store.long_poll.publish()

    async def _call(self, op: Callable[[], T]) -> T:
        return await self._run(op)

    def next_due(self) -> float:
        return self.store.next_due()

    async def sleep_until_due(self, at_most: float) -> float:
        """Sleep until the next timeout or lease expiry, an earlier one added here, or ``at_most`` seconds;
        the clock time of the next due instant (``-inf``: look again)."""
        return await self.store.long_poll.sleep_until_due(self._call, at_most)

    # -- Inspect: quick reads, done in place -----------------------------------------------------------

    def promises(self) -> list[PromiseRecord]:
        return self.store.promises()

    def tasks(self) -> list[TaskRecord]:
        return self.store.tasks()

    def promise(self, id: str) -> PromiseRecord | None:
        return self.store.promise(id)

    def promise_count(self) -> int:
        return self.store.promise_count()

    def promise_map(self) -> Mapping[str, PromiseRecord]:
        return self.store.promise_map()

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        return self.store.snapshot(apply_due=apply_due)

    async def listing(self, query: ListQuery) -> tuple[list[Listed], bool]:
        """A page of promises for ``ls`` (``SqlEngine.listing``), in a thread like every operation."""
        return await self._run(self.engine.listing, query)

    # -- Store -----------------------------------------------------------------------------------------

    async def create_promise(self, id: str, param: str, timeout_at: float, tags: Mapping[str, str] | None = None, *,
                             target: str | None = None, fence: Fence | None = None) -> PromiseRecord:
        return await self._run(self.engine.create_promise, id, param, timeout_at, tags, target=target, fence=fence)

    async def settle_promise(self, id: str, state: PromiseState, value: str | None, *,
                             fence: Fence | None = None) -> PromiseRecord:
        return await self._run(self.engine.settle_promise, id, state, value, fence=fence)

    async def get_promise(self, id: str) -> PromiseRecord:
        return await self._run(self.engine.get_promise, id)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        return await self._run(self.engine.get_branch, id)

    async def get_task(self, id: str) -> TaskRecord:
        return await self._run(self.engine.get_task, id)

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        return await self.store.long_poll.dispatch(self._call, target, limit, wait)

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        return await self.store.long_poll.await_settled(self._call, id, wait)

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        return await self._run(self.engine.acquire_task, id, owner, ttl)

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        return await self._run(self.engine.reclaim_tasks, target, owner, ttl)

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        return await self._run(self.engine.heartbeat_task, fence)

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        return await self._run(self.engine.release_task, fence, error=error)

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        return await self._run(self.engine.fulfill_task, fence, state, value)

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        return await self._run(self.engine.suspend_task, fence, awaiting)

    async def sweep(self) -> None:
        await self._run(self.engine.sweep)


__all__ = ["Threaded"]
