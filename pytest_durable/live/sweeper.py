"""One sweeper at a time: which worker process applies due timeouts and lease expiries.

A store applies a due timeout lazily whenever a record is touched, but a timer nobody reads, or a
lease nobody asks about, waits for a sweep. If every worker swept on every poll, N workers would
take the store's write lock N times per interval for the same work. Instead the right to sweep is a
task of the store itself (``durable:sweeper``, group ``durable:sweeper``, never settled): the worker
holding its lease sweeps and heartbeats; when it dies the lease expires and the next worker to try
acquires it. This uses the store contract as it is: acquire, heartbeat, fencing.

The holder does not sweep on a clock: it sleeps until the next timeout or lease expiry falls due, or a
write of its own process adds an earlier one, or its lease needs a heartbeat (every ttl/3), where the
store can tell it (``sleep_until_due``, as the SQL stores have); otherwise it sweeps every ``interval``.
So an idle fleet costs its store a few requests per ttl, not one per second.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable

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
#: The sweeper's lease is this many times a task's: a due timeout is applied anyway by whoever reads it,
#: and every long poll wakes for it, so only a timeout nobody waits for waits longer for a new holder,
#: while an idle fleet's store pays a third as many heartbeats (with the default 30 s ttl: one per 30 s).
SWEEPER_TTL_FACTOR = 3.0


async def sweep_when_holding(store: Store, clock: Clock, owner: str, *, interval: float = 1.0,
                             ttl: float = 10.0) -> None:
    """Until cancelled: try to hold the sweeper lease; while holding it, sweep whenever something falls due.

    A worker that cannot renew stops sweeping before its lease ends (counted from when it asked), so
    two workers never both believe they hold it; the store fences a late heartbeat anyway."""
    with contextlib.suppress(PlatformError):
        await store.create_promise(SWEEPER, "{}", clock.now() + FOREVER, {TAG_ORIGIN: SWEEPER}, target=GROUP)
    sleep_until_due: Callable[[float], Awaitable[float]] | None = getattr(store, "sleep_until_due", None)
    while True:
        asked = trio.current_time()
        fence = await _acquire(store, owner, ttl)
        if fence is None:
            await trio.sleep(ttl / 2)
            continue
        held_until = asked + ttl
        next_beat = asked + ttl / 3
        due_at = -math.inf  # when something falls due next, as far as this sweeper knows: sweep at once
        while trio.current_time() < held_until - interval:
            asked = trio.current_time()
            try:
                if due_at <= clock.now():  # else it woke for a heartbeat alone: nothing to sweep
                    await store.sweep()
                if asked >= next_beat:
                    await store.heartbeat_task(fence)
                    held_until, next_beat = asked + ttl, asked + ttl / 3
            except (Fenced, NotFound):
                break  # someone else holds it now
            except PlatformError:
                await trio.sleep(interval)
                continue
            left = max(next_beat - trio.current_time(), 0.0)
            if sleep_until_due is None:
                await trio.sleep(min(interval, left))
            else:
                due_at = await sleep_until_due(left)


async def _acquire(store: Store, owner: str, ttl: float) -> Fence | None:
    try:
        task = await store.get_task(SWEEPER)
        if task.state is not TaskState.PENDING:
            return None
        task = await store.acquire_task(SWEEPER, owner, ttl)
    except (TaskStateError, NotFound, PlatformError):
        return None
    return Fence(task.id, task.version)


__all__ = ["GROUP", "SWEEPER", "SWEEPER_TTL_FACTOR", "sweep_when_holding"]
