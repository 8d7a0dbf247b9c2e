"""One sweeper at a time: which worker process applies due timeouts and lease expiries.

A store applies a due timeout lazily whenever a record is touched, but a timer nobody reads, or a
lease nobody asks about, waits for a sweep. If every worker swept on every poll, N workers would
take the store's write lock N times per interval for the same work. Instead the right to sweep is a
task of the store itself (``durable:sweeper``, group ``durable:sweeper``, never settled): the worker
holding its lease sweeps every ``interval`` and heartbeats; when it dies the lease expires and the next
worker to try acquires it. This uses the store contract as it is: acquire, heartbeat, fencing.
"""

from __future__ import annotations

import contextlib

import trio

from ..core.clock import Clock
from ..core.errors import Fenced, NotFound, PlatformError, TaskStateError
from ..core.records import Fence, TaskState
from ..core.store import TAG_ORIGIN, Store

#: The promise (and task) whose lease is the right to sweep.
SWEEPER = "durable:sweeper"
#: Its group: no worker serves it, so no worker ever runs it.
GROUP = "durable:sweeper"
#: How far away its deadline is: it never times out in practice.
FOREVER = 100 * 365 * 86_400.0


async def sweep_when_holding(store: Store, clock: Clock, owner: str, *, interval: float = 1.0,
                             ttl: float = 10.0) -> None:
    """Until cancelled: try to hold the sweeper lease; while holding it, sweep every ``interval``.

    A worker that cannot renew stops sweeping before its lease ends (counted from when it asked), so
    two workers never both believe they hold it; the store fences a late heartbeat anyway."""
    with contextlib.suppress(PlatformError):
        await store.create_promise(SWEEPER, "{}", clock.now() + FOREVER, {TAG_ORIGIN: SWEEPER}, target=GROUP)
    while True:
        fence = await _acquire(store, owner, ttl)
        if fence is None:
            await trio.sleep(ttl / 2)
            continue
        held_until = trio.current_time() + ttl
        while trio.current_time() < held_until - interval:
            asked = trio.current_time()
            try:
                await store.sweep()
                await store.heartbeat_task(fence)
            except (Fenced, NotFound):
                break  # someone else holds it now
            except PlatformError:
                await trio.sleep(interval)
                continue
            held_until = asked + ttl
            await trio.sleep(interval)


async def _acquire(store: Store, owner: str, ttl: float) -> Fence | None:
    try:
        task = await store.get_task(SWEEPER)
        if task.state is not TaskState.PENDING:
            return None
        task = await store.acquire_task(SWEEPER, owner, ttl)
    except (TaskStateError, NotFound, PlatformError):
        return None
    return Fence(task.id, task.version)


__all__ = ["GROUP", "SWEEPER", "sweep_when_holding"]
