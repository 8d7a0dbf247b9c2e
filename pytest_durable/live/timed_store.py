"""A store that times each request it passes on: the worker's metrics measure store latency by wrapping
the store the worker uses, so every request the worker, its leases and its sweeper make is counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from ..core.store import Store

T = TypeVar("T")

#: Called with (operation, seconds) after each request, whether it answered or raised.
Observe = Callable[[str, float], None]


class TimedStore:
    """``store``, with the wall time of each ``Store`` request given to ``observe`` under the request's
    name. ``dispatch`` and ``await_settled`` are long polls: their time includes the wait for news.
    Anything else (``sleep_until_due``, ``wakeups``, ``engine``) is the wrapped store's own."""

    def __init__(self, store: Store, observe: Observe) -> None:
        self.inner = store
        self.observe = observe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _timed(self, operation: str, call: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        try:
            return await call()
        finally:
            self.observe(operation, time.perf_counter() - began)

    async def create_promise(self, id: str, param: str, timeout_at: float, tags: Mapping[str, str] | None = None,
                             *, target: str | None = None, fence: Fence | None = None) -> PromiseRecord:
        record: PromiseRecord = await self._timed("create_promise", lambda: self.inner.create_promise(
            id, param, timeout_at, tags, target=target, fence=fence))
        return record

    async def settle_promise(self, id: str, state: PromiseState, value: str | None, *,
                             fence: Fence | None = None) -> PromiseRecord:
        record: PromiseRecord = await self._timed(
            "settle_promise", lambda: self.inner.settle_promise(id, state, value, fence=fence))
        return record

    async def get_promise(self, id: str) -> PromiseRecord:
        record: PromiseRecord = await self._timed("get_promise", lambda: self.inner.get_promise(id))
        return record

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        record: PromiseRecord = await self._timed("await_settled", lambda: self.inner.await_settled(id, wait=wait))
        return record

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        records: list[PromiseRecord] = await self._timed("get_branch", lambda: self.inner.get_branch(id))
        return records

    async def get_task(self, id: str) -> TaskRecord:
        task: TaskRecord = await self._timed("get_task", lambda: self.inner.get_task(id))
        return task

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        tasks: list[TaskRecord] = await self._timed("dispatch", lambda: self.inner.dispatch(target, limit, wait=wait))
        return tasks

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        task: TaskRecord = await self._timed("acquire_task", lambda: self.inner.acquire_task(id, owner, ttl))
        return task

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        task: TaskRecord = await self._timed("heartbeat_task", lambda: self.inner.heartbeat_task(fence))
        return task

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        task: TaskRecord = await self._timed("release_task", lambda: self.inner.release_task(fence, error=error))
        return task

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        record: PromiseRecord = await self._timed(
            "fulfill_task", lambda: self.inner.fulfill_task(fence, state, value))
        return record

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        answer: SuspendResult = await self._timed("suspend_task", lambda: self.inner.suspend_task(fence, awaiting))
        return answer

    async def sweep(self) -> None:
        await self._timed("sweep", self.inner.sweep)


__all__ = ["TimedStore"]
