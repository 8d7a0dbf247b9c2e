"""The leases a worker holds, kept by one task per worker rather than one per execution.

Most executions end (return or suspend) long before their first heartbeat is due, so a heartbeat task
started and cancelled for each would be pure overhead (in the simulator, a few task steps of every
execution). The keeper sleeps until the earliest heartbeat any held lease needs; a new lease only moves
its deadline, which wakes nobody. When a beat is due it runs in a task of its own, so a slow or lost
heartbeat of one task never delays another's.
"""

from __future__ import annotations

import math

import trio

from ..core.errors import Fenced, NotFound, PlatformError
from ..core.records import Fence
from ..core.store import Store


class Lease:
    """One held task: its fence, when its lease ends (counted from when the acquire or last heartbeat
    was sent), when its next heartbeat is due, and the cancel scope of its execution."""

    __slots__ = ("beating", "execution", "fence", "lease_until", "next_beat")

    def __init__(self, fence: Fence, lease_until: float, next_beat: float, execution: trio.CancelScope) -> None:
        self.fence = fence
        self.lease_until = lease_until
        self.next_beat = next_beat
        self.execution = execution
        self.beating = False


class LeaseKeeper:
    """Heartbeats every held lease each ``ttl/3`` and stops an execution the moment its lease may be lost
    (self-fencing): the lease is counted from when the request was *sent*, never later than the store
    counts it, so a worker that cannot renew stops before anyone else can take the task. Fencing refuses
    a zombie's writes; only this keeps it from running bodies."""

    def __init__(self, store: Store, ttl: float, name: str) -> None:
        self.store = store
        self.ttl = ttl
        self.name = name
        self._leases: dict[str, Lease] = {}
        self._wait: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None

    def serve_in(self, nursery: trio.Nursery) -> None:
        """Where the keeper and its beats run (the worker's nursery); the keeper starts with the first lease
        held, so a worker that never takes a task never runs it."""
        self._nursery = nursery
        self._wait = None

    def hold(self, fence: Fence, lease_until: float, execution: trio.CancelScope) -> Lease:
        """Keep ``fence``'s lease while ``execution`` runs."""
        lease = Lease(fence, lease_until, min(trio.current_time() + self.ttl / 3, lease_until), execution)
        self._leases[fence.task_id] = lease
        if self._wait is None:
            assert self._nursery is not None, "LeaseKeeper.hold before serve_in"
            self._wait = trio.CancelScope(deadline=lease.next_beat)
            self._nursery.start_soon(self._keep, self._nursery, name=f"durable leases of {self.name}")
        elif lease.next_beat < self._wait.deadline:
            self._wait.deadline = lease.next_beat
        return lease

    def drop(self, lease: Lease) -> None:
        """The execution ended: its lease needs no more beats."""
        if self._leases.get(lease.fence.task_id) is lease:
            del self._leases[lease.fence.task_id]

    async def _keep(self, nursery: trio.Nursery) -> None:
        """Until cancelled: sleep until a beat is due, then start it (in ``nursery``)."""
        while True:
            assert self._wait is not None
            with self._wait:
                await trio.sleep_forever()
            self._wait = trio.CancelScope(deadline=math.inf)
            now = trio.current_time()
            for lease in list(self._leases.values()):
                if lease.beating or lease.next_beat > now:
                    continue
                if now >= lease.lease_until:
                    self._lost(lease)
                    continue
                lease.beating = True
                nursery.start_soon(self._beat, lease, name=f"durable heartbeat {lease.fence.task_id}")
            self._wait.deadline = self._next_beat()

    def _next_beat(self) -> float:
        return min((lease.next_beat for lease in self._leases.values() if not lease.beating), default=math.inf)

    def _lost(self, lease: Lease) -> None:
        lease.execution.cancel()
        self.drop(lease)

    async def _beat(self, lease: Lease) -> None:
        sent = trio.current_time()
        with trio.move_on_at(lease.lease_until):
            try:
                await self.store.heartbeat_task(lease.fence)
            except (Fenced, NotFound):
                self._lost(lease)  # the lease is gone: a zombie must stop writing
                return
            except PlatformError:
                pass  # unreachable: try again at the next beat, while the lease lasts
            else:
                lease.lease_until = sent + self.ttl
        now = trio.current_time()
        if now >= lease.lease_until:
            self._lost(lease)
            return
        lease.beating = False
        lease.next_beat = min(now + self.ttl / 3, lease.lease_until)
        wait = self._wait
        if wait is not None and lease.next_beat < wait.deadline and lease.fence.task_id in self._leases:
            wait.deadline = lease.next_beat


__all__ = ["Lease", "LeaseKeeper"]
