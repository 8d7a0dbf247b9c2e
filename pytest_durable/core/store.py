"""The async store protocol every store implements (docs/architecture.md, "The store contract").

The executor talks to a store only through this protocol, so the simulator can put a faulty network
in between and the live runtime can put SQLite or PostgreSQL behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from .errors import UsageError
from .records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord

#: Tag keys recording lineage on every promise the SDK creates.
TAG_PARENT = "durable:parent"
TAG_ORIGIN = "durable:origin"
TAG_SCOPE = "durable:scope"
TAG_TARGET = "durable:target"
TAG_TIMER = "durable:timer"
#: On a child started by ``ctx.detach``: its parent does not join it, and its deadline is its own.
TAG_DETACHED = "durable:detached"
#: On the marker ``ctx.patched(id)`` records (its value: the patch id): the execution took the new path.
TAG_PATCH = "durable:patch"


def failure_delay(failures: int) -> float:
    """Seconds before a task released with an error is due again: 5 s, doubling, at most an hour, so a
    task that fails for a reason only a deploy can fix is not handed from worker to worker in a loop,
    and is taken up again on its own once the fix is out."""
    return float(min(5 * 2 ** max(failures - 1, 0), 3600))


def check_reclaim(owner: str, ttl: float) -> None:
    """The arguments of ``reclaim_tasks``, checked alike by every store: an owner to match, a lease > 0."""
    if not isinstance(owner, str) or not owner:
        raise UsageError(f"reclaim_tasks: owner must be a worker id (a non-empty string), got {owner!r}")
    if ttl <= 0:
        raise UsageError(f"reclaim_tasks({owner!r}): ttl must be > 0 seconds, got {ttl}")


class Store(Protocol):
    """Promises and the tasks that carry them to workers."""

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
        """Create ``id`` pending (with a task for ``target`` if given), or return the existing record."""
        ...

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        """Settle a pending promise; a settled one is returned unchanged."""
        ...

    async def get_promise(self, id: str) -> PromiseRecord:
        """The record of ``id``, or ``NotFound``."""
        ...

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        """The record of ``id`` as soon as it is settled (a timeout included), or as it stands after
        ``wait`` seconds; ``NotFound`` if there is no such promise. A client waits for a root with it."""
        ...

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        """``id`` and all its descendants (by the ``durable:parent`` tag), in creation order."""
        ...

    async def get_task(self, id: str) -> TaskRecord:
        """The task record, or ``NotFound``."""
        ...

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        """Pending tasks of ``target`` that are due, oldest first; each is not due again for a while.

        With none due and ``wait`` > 0 it is a long poll: it returns as soon as a task of ``target`` is
        due (created, released, resumed by a settle or a timeout, its lease or retry time run out), or
        empty after ``wait`` seconds. One request either way: waiting is the store's, not a loop of polls."""
        ...

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        """Take a pending task with a lease of ``ttl`` seconds; its version grows by one."""
        ...

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        """Every task of ``target`` whose live lease ``owner`` holds, taken again by ``owner`` with a new
        lease of ``ttl`` seconds and its version grown by one, in creation order. A worker restarted under
        the same id calls it first: its dead incarnation's tasks are its own again at once, and a zombie of
        that incarnation is fenced out (its version is stale). A lease already expired is a pending task."""
        ...

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        """Extend the lease of an acquired task by its ttl."""
        ...

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        """Give an acquired task back: pending again, due at once. With ``error`` (what stopped the
        execution, which no retry inside the worker can fix) it is recorded on the task, ``failures``
        grows by one and the task is due again only after ``failure_delay(failures)``."""
        ...

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        """Settle the task's promise and complete the task in one step."""
        ...

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        """Park the task until one of ``awaiting`` settles; ``REDIRECT`` if one already has."""
        ...

    async def sweep(self) -> None:
        """Apply every due timeout and lease expiry."""
        ...
