"""Firing schedules in a worker process: hold a schedule's lease, start each tick's root in order.

Every worker process long-polls the definitions' group (``live.schedules.GROUP``) beside its own; a
definition's task that is due (new, or its holder's lease ran out) is acquired by one of them, which
then holds it: it finds the last tick started (``last_fired``), starts every later tick of the catch-up
window, then sleeps until the next tick or heartbeat. Its creates carry its fence, so once its lease is
gone (a kill -9 and another holder, or ``schedule delete``) it starts nothing more; two holders at once
(a zombie) would still start a tick once, since the root's id is the tick's. On cancellation (the
process stopping) it gives the lease back, so another worker takes the schedule at once.
"""

from __future__ import annotations

import contextlib
import math

import trio

from ..core.clock import Clock
from ..core.errors import Fenced, NotFound, PlatformError, TaskStateError
from ..core.records import Fence
from ..core.store import Store
from .schedules import GROUP, MAX_CATCH_UP, REGISTRY, last_fired, schedule_of, start_tick

#: How many definitions one poll may hand a worker.
BATCH = 16
#: After a store error, how long a holder waits before it tries again (seconds).
BACKOFF = 1.0


async def fire_schedules(store: Store, clock: Clock, owner: str, *, ttl: float, poll: float = 30.0) -> None:
    """Until cancelled: take every schedule whose lease is free and fire it while holding its lease.

    Until the store has a schedule, this costs it one read per ``poll`` seconds (a long poll of its own
    would also wake at every other process's commit on SQLite): a fleet's first schedule is taken up
    within ``poll`` seconds of its creation, its missed ticks caught up."""
    while not await _has_schedules(store):
        await trio.sleep(poll)
    held: set[str] = set()
    async with trio.open_nursery() as nursery:
        while True:
            try:
                tasks = await store.dispatch(GROUP, BATCH, wait=poll)
            except PlatformError:
                await trio.sleep(BACKOFF)
                continue
            for task in tasks:
                if task.id not in held:
                    held.add(task.id)
                    nursery.start_soon(_hold, store, clock, owner, task.id, ttl, held)


async def _has_schedules(store: Store) -> bool:
    try:
        await store.get_promise(REGISTRY)
    except PlatformError:  # NotFound: no schedule yet; or the store is away: ask again later
        return False
    return True


async def _hold(store: Store, clock: Clock, owner: str, task_id: str, ttl: float, held: set[str]) -> None:
    try:
        try:
            task = await store.acquire_task(task_id, owner, ttl)
        except PlatformError:  # another worker took it first, or the store failed: it is offered again
            return
        fence = Fence(task.id, task.version)
        try:
            await _fire(store, clock, fence, ttl)
        except (Fenced, NotFound, TaskStateError):
            return  # deleted, or the lease is gone and another worker holds it
        finally:
            with trio.CancelScope(shield=True) as scope:  # stopping: hand the schedule on at once
                scope.deadline = trio.current_time() + BACKOFF
                # not held any more (deleted, taken over), or the store is away: then the lease ends it
                with contextlib.suppress(PlatformError):
                    await store.release_task(fence)
    finally:
        held.discard(task_id)


async def _fire(store: Store, clock: Clock, fence: Fence, ttl: float) -> None:
    schedule = schedule_of(await store.get_promise(fence.task_id))
    last = await last_fired(store, schedule, clock.now())
    next_beat = trio.current_time() + ttl / 3
    while True:
        try:
            now = clock.now()
            lower = max(schedule.created_on, now - schedule.catch_up, -math.inf if last is None else last)
            for instant in schedule.cadence.latest(lower, now, MAX_CATCH_UP):
                await start_tick(store, schedule, instant, fence, now=clock.now())
                last = instant
            if trio.current_time() >= next_beat:
                await store.heartbeat_task(fence)
                next_beat = trio.current_time() + ttl / 3
        except (Fenced, NotFound, TaskStateError):
            raise
        except PlatformError:
            await trio.sleep(BACKOFF)
            continue
        until_tick = schedule.cadence.after(now) - clock.now()
        await trio.sleep(max(min(until_tick, next_beat - trio.current_time()), 0.0))


__all__ = ["fire_schedules"]
