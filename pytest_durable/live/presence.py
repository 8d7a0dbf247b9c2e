"""Which worker processes serve a group: each announces itself in the store, with the store contract as it is.

A worker process holds the lease of a presence task of its own, as the sweeper's holder holds its lease
(``live.sweeper``): ``durable:presence:GROUP:WORKER`` (a new one per process start), a child of
``durable:presence:GROUP``, itself a child of the one bookkeeping root ``durable:presence``. Its task's
group is ``durable:presence``, which no worker serves, so nobody runs it; the worker acquires it with a
lease of ``TTL`` seconds and heartbeats every ``TTL / 3``. A clean stop settles it (``"stopped"``: when is
its ``settled_on``); after a kill its lease runs out. So a group is served while one of its presence
tasks is held, and ``tree``/``get`` can say of a task waiting for a group that nobody holds one: "no
worker serves it", and since when they can tell. A worker that starts settles its group's presence
promises whose lease ran out (``"lost"``), so reading a group's presence looks at the live ones only.
"""

from __future__ import annotations

import contextlib
import secrets

import attrs
import trio

from ..core.clock import Clock
from ..core.errors import Fenced, NotFound, PlatformError, TaskStateError
from ..core.records import Fence, PromiseRecord, PromiseState, TaskState
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_TARGET, Store
from .sweeper import FOREVER

#: The bookkeeping root every presence promise is under (``ls`` and ``export`` leave it out).
PRESENCE = "durable:presence"
#: The group of presence tasks: no worker serves it, so no worker ever runs one.
GROUP = "durable:presence"
#: A presence lease, in seconds: a worker not heard of for this long is not counted as serving.
TTL = 90.0
#: The values a presence promise is settled with: its worker stopped cleanly, or its lease ran out.
STOPPED = '"stopped"'
LOST = '"lost"'


def group_parent(group: str) -> str:
    """The promise the presence promises of ``group``'s workers are children of."""
    return f"{PRESENCE}:{group}"


async def announce(store: Store, clock: Clock, group: str, worker: str, *, ttl: float = TTL,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Until cancelled: hold a presence lease for ``worker`` in ``group``, heartbeating it; on cancellation
    (a clean stop) settle it as stopped. Started (``nursery.start``) once the first try to take the lease
    is over, so a worker that says it serves is seen serving. A store that cannot be reached is asked
    again a little later; a lease lost anyway (the process stalled past ``ttl``) is replaced by a new
    presence promise."""
    first = True
    while True:
        try:
            fence = await enter(store, clock, group, worker, ttl)
        except PlatformError:
            if first:
                first = False
                task_status.started()
            await trio.sleep(min(ttl / 3, 5.0))
            continue
        if first:
            first = False
            task_status.started()
        try:
            await _keep(store, fence, ttl)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5.0), contextlib.suppress(PlatformError):
                await store.fulfill_task(fence, PromiseState.RESOLVED, STOPPED)


async def enter(store: Store, clock: Clock, group: str, worker: str, ttl: float) -> Fence:
    """Create this start's presence promise (and its parents), settle the group's lost ones, take its lease."""
    parent = group_parent(group)
    me = f"{parent}:{worker}:{secrets.token_hex(3)}"
    forever = clock.now() + FOREVER
    await store.create_promise(PRESENCE, "{}", forever, {TAG_ORIGIN: PRESENCE})
    await store.create_promise(parent, "{}", forever, {TAG_ORIGIN: PRESENCE, TAG_PARENT: PRESENCE})
    await store.create_promise(me, "{}", forever, {TAG_ORIGIN: PRESENCE, TAG_PARENT: parent}, target=GROUP)
    await _settle_lost(store, clock, parent, worker, ttl, keep=me)
    task = await store.acquire_task(me, worker, ttl)
    return Fence(task.id, task.version)


async def _keep(store: Store, fence: Fence, ttl: float) -> None:
    """Heartbeat ``fence`` every ``ttl / 3`` until cancelled; return when the lease is lost."""
    while True:
        await trio.sleep(ttl / 3)
        try:
            await store.heartbeat_task(fence)
        except (Fenced, NotFound):
            return
        except PlatformError:
            continue  # unreachable for now: the next beat tries again, within the lease


async def _settle_lost(store: Store, clock: Clock, parent: str, worker: str, ttl: float, *, keep: str) -> None:
    """Settle as lost the presence promises under ``parent`` whose lease ran out (one never taken counts
    once it is ``ttl`` old: its worker died between making and taking it)."""
    for record in (await store.get_branch(parent))[1:]:
        if record.settled or record.id == keep:
            continue
        try:
            task = await store.get_task(record.id)
            if task.state is not TaskState.PENDING or (task.version == 0 and record.created_on > clock.now() - ttl):
                continue
            task = await store.acquire_task(record.id, worker, ttl)
            await store.fulfill_task(Fence(task.id, task.version), PromiseState.RESOLVED, LOST)
        except (TaskStateError, Fenced, NotFound):
            continue  # another worker settled it first


@attrs.frozen
class Presence:
    """What a group's presence promises say: the workers holding a presence lease now, and when the
    last one that stopped cleanly stopped (store clock; ``None``: none did, or none is recorded)."""

    workers: tuple[str, ...]
    last_stop: float | None


async def presence_of(store: Store, group: str) -> Presence:
    """``group``'s presence as the store has it now (a lease that ran out counts as gone)."""
    try:
        branch = await store.get_branch(group_parent(group))
    except NotFound:
        return Presence((), None)
    workers: list[str] = []
    stops: list[float] = []
    for record in branch[1:]:
        if record.state is PromiseState.PENDING:
            with contextlib.suppress(NotFound):
                task = await store.get_task(record.id)
                if task.state is TaskState.ACQUIRED and task.lease_owner is not None:
                    workers.append(task.lease_owner)
        elif record.value == STOPPED and record.settled_on is not None:
            stops.append(record.settled_on)
    return Presence(tuple(workers), max(stops, default=None))


def unserved_note(presence: Presence, group: str, *, rpc: bool, now: float, ttl: float = TTL) -> str | None:
    """``rpc to group 'billing': no worker serves it — none seen in the last 90 s`` for a group no worker
    serves (``None`` when one does); ``rpc``: the waiting promise is a child, not a root."""
    if presence.workers:
        return None
    what = f"{'rpc to ' if rpc else ''}group {group!r}: no worker serves it"
    if presence.last_stop is not None and now - presence.last_stop < ttl:
        return f"{what} — the last one stopped {max(now - presence.last_stop, 0.0):.0f} s ago"
    return f"{what} — none seen in the last {ttl:g} s"


async def waiting_notes(store: Store, records: list[PromiseRecord], now: float) -> dict[str, str]:
    """For each pending promise of ``records`` whose task waits for a worker of a group that no worker
    serves, the note saying so (``unserved_note``), by promise id; each group's presence is read once."""
    groups: dict[str, Presence] = {}
    notes: dict[str, str] = {}
    for record in records:
        group = record.tags.get(TAG_TARGET)
        if record.settled or group is None or group.startswith("durable:"):
            continue
        try:
            task = await store.get_task(record.id)
        except NotFound:
            continue
        if task.state is not TaskState.PENDING:  # held by a worker, or waiting for its children
            continue
        if group not in groups:
            groups[group] = await presence_of(store, group)
        note = unserved_note(groups[group], group, rpc=TAG_PARENT in record.tags, now=now)
        if note is not None:
            notes[record.id] = note
    return notes


__all__ = ["GROUP", "PRESENCE", "TTL", "Presence", "announce", "enter", "group_parent",
           "presence_of", "unserved_note", "waiting_notes"]
