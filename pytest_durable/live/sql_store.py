"""``SqlStore``: the async ``Store`` face and the sync ``Inspect`` protocol over a ``SqlEngine``, shared by
``SqliteStore`` and ``PostgresStore``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..core.clock import Clock
from ..core.inspection import StoreSnapshot
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from .sql_engine import SqlEngine


class SqlStore:
    """The async ``Store`` and the sync ``Inspect`` protocol over an ``SqlEngine``.

    The async methods never suspend (each runs its transaction to the end before returning), so the
    simulator applies a request in one step; a live worker may instead run ``engine``'s sync methods
    in a thread.
    """

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        self.engine.close()

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

    def next_due(self) -> float:
        """The earliest instant, later than now, at which time alone changes an answer (``MemoryStore.next_due``)."""
        return self.engine.next_due()

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        """Every record now; with ``apply_due``, as a sweep would leave them (rolled back, not applied)."""
        return self.engine.snapshot(apply_due=apply_due)

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
        return self.engine.create_promise(id, param, timeout_at, tags, target=target, fence=fence)

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        return self.engine.settle_promise(id, state, value, fence=fence)

    async def get_promise(self, id: str) -> PromiseRecord:
        return self.engine.get_promise(id)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        return self.engine.get_branch(id)

    async def get_task(self, id: str) -> TaskRecord:
        return self.engine.get_task(id)

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        return self.engine.dispatch(target, limit)

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        return self.engine.get_promise(id)

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        return self.engine.acquire_task(id, owner, ttl)

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        return self.engine.heartbeat_task(fence)

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        return self.engine.release_task(fence, error=error)

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        return self.engine.fulfill_task(fence, state, value)

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        return self.engine.suspend_task(fence, awaiting)

    async def sweep(self) -> None:
        self.engine.sweep()
