"""Durable schedules as promises: a schedule's definition, its ticks' roots, and the operations on them.

Everything lives in the store under the store contract as it is (no table of its own):

- the registry ``durable:schedules``, a bookkeeping root that never settles, whose children
  (``durable:parent``) are the definitions, so ``get_branch`` lists every schedule in one read;
- a definition ``durable:schedule:ID``: its param holds the cadence, the call and the group; it has a
  task of group ``durable:schedules`` that no worker serves: the worker holding its lease fires the
  schedule (``live.scheduler``), and deleting settles the definition (``rejected_canceled``), which
  completes that task, so the holder's fence is dead and no tick can start after ``delete`` returns;
- one root per tick, ``ID@2026-12-08T00:00:00Z`` (the tick's instant, UTC), tagged
  ``durable:schedule: ID``: created idempotently by id, so two workers (or a zombie) firing the same tick
  start it once, and created with the holder's fence, so a worker that lost the lease starts nothing.

Ticks are fired in order, so the fired ticks of the catch-up window are a prefix of its ticks and the
last one is found by a binary search over them (``last_fired``: O(log n) reads).
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from ..core.codec import encode_call
from ..core.errors import NotFound, UsageError
from ..core.ids import check_root_id
from ..core.records import Fence, PromiseRecord, PromiseState
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_SCOPE, Store
from ..sdk.function import DurableFunction
from .bookkeeping import PREFIX, is_bookkeeping
from .cadence import Cadence, instant_text, parse_cadence

#: The registry: every definition is its child.
REGISTRY = "durable:schedules"
#: The group of the definitions' tasks: no worker serves it; holding a definition's lease is the right to fire.
GROUP = "durable:schedules"
#: The tag naming, on every root a schedule starts, the schedule that started it.
TAG_SCHEDULE = "durable:schedule"
#: Bookkeeping promises never time out in practice.
FOREVER = 100 * 365 * 86_400.0
#: Missed ticks are caught up for this long by default (seconds), at most ``MAX_CATCH_UP`` of them.
CATCH_UP = 3600.0
MAX_CATCH_UP = 1000


def definition_id(schedule: str) -> str:
    """The id of the promise that defines ``schedule``."""
    return f"{PREFIX}schedule:{schedule}"


def tick_id(schedule: str, instant: float) -> str:
    """The id of the root a schedule starts at ``instant``."""
    return f"{schedule}@{instant_text(instant)}"


@attrs.frozen
class Schedule:
    """One schedule as its definition records it: start ``call`` (an encoded call of ``function``) on
    ``group`` at every tick of ``cadence`` since ``created_on``, each root with ``timeout`` seconds to
    settle; a tick missed by more than ``catch_up`` seconds is skipped. ``deleted`` once deleted."""

    id: str
    cadence: Cadence
    function: str
    args: str
    call: str
    group: str
    catch_up: float
    timeout: float
    created_on: float = 0.0
    deleted: bool = False

    def param(self) -> str:
        return json.dumps({"cron": self.cadence.text, "function": self.function, "args": self.args,
                           "call": self.call, "group": self.group, "catch_up": self.catch_up,
                           "timeout": self.timeout}, sort_keys=True)

    def same_as(self, other: Schedule) -> bool:
        """Whether ``other`` starts the same roots at the same ticks (``args`` is only how the call was written)."""
        fields = ("cadence", "function", "call", "group", "catch_up", "timeout")
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    def window(self, now: float) -> list[float]:
        """The ticks a holder starts now if none was started yet: those in the catch-up window, never
        one before the schedule was created."""
        return self.cadence.latest(max(self.created_on, now - self.catch_up), now, MAX_CATCH_UP)

    def describe(self) -> str:
        state = "deleted" if self.deleted else "active"
        return (f"{self.id} {state}: {self.cadence.text!r} {self.function} {self.args} on group {self.group!r}, "
                f"catch-up {self.catch_up:g}s")


def schedule_of(record: PromiseRecord) -> Schedule:
    """The schedule a definition promise records."""
    data: dict[str, Any] = json.loads(record.param)
    cadence = parse_cadence(data["cron"], where=f"schedule {record.id}")
    return Schedule(id=record.id.removeprefix(definition_id("")), cadence=cadence, function=data["function"],
                    args=data["args"], call=data["call"], group=data["group"], catch_up=float(data["catch_up"]),
                    timeout=float(data["timeout"]), created_on=record.created_on, deleted=record.settled)


def check_schedule_id(id: str, *, where: str) -> str:
    """``id`` if it may name a schedule: a root id's rules, and none of the runtime's ids or a tick's ``@``."""
    check_root_id(id, where=where, advice="name the schedule after what it starts, e.g. 'nightly-report'")
    if is_bookkeeping(id) or "@" in id:
        raise UsageError(f"{where}: schedule id {id!r} may neither start with {PREFIX!r} nor hold '@' "
                         "(its roots are named ID@INSTANT); e.g. 'nightly-report'")
    return id


def new_schedule(id: str, cron: str, fn: DurableFunction[..., Any], positional: list[Any], keywords: dict[str, Any],
                 args_text: str, *, group: str, catch_up: float = CATCH_UP, timeout: float = 86_400.0,
                 where: str) -> Schedule:
    """A schedule checked as far as it can be before it is written: id, cadence, arguments, numbers."""
    check_schedule_id(id, where=where)
    cadence = parse_cadence(cron, where=where)
    fn.check_arguments(tuple(positional), keywords, where=where)
    for name, value in (("--catch-up", catch_up), ("--timeout", timeout)):
        if not value > 0 or value == float("inf"):
            raise UsageError(f"{where}: {name} must be a positive number of seconds, got {value:g}")
    call = encode_call(fn.name, positional, keywords, names=fn.param_names)
    return Schedule(id=id, cadence=cadence, function=fn.name, args=" ".join(args_text.split()), call=call,
                    group=group, catch_up=float(catch_up), timeout=float(timeout))


async def create_schedule(store: Store, schedule: Schedule, *, now: float, where: str) -> tuple[Schedule, bool]:
    """Write ``schedule`` (idempotent: the same definition again is the existing one); ``(schedule as
    stored, whether it is new)``. Another definition under the id, or a deleted one, is a ``UsageError``."""
    try:
        await store.get_promise(definition_id(schedule.id))
        new = False
    except NotFound:
        new = True
    await store.create_promise(REGISTRY, "{}", now + FOREVER, {TAG_ORIGIN: REGISTRY})
    tags = {TAG_PARENT: REGISTRY, TAG_ORIGIN: REGISTRY, TAG_SCOPE: "global"}
    record = await store.create_promise(definition_id(schedule.id), schedule.param(), now + FOREVER, tags,
                                        target=GROUP)
    stored = schedule_of(record)
    if record.settled:
        raise UsageError(f"{where}: schedule {schedule.id!r} was deleted; an id names one schedule for good "
                         "(its roots keep it), so pick another id")
    if not stored.same_as(schedule):
        raise UsageError(f"{where}: schedule {schedule.id!r} exists as {stored.describe()}; delete it first, "
                         "or pick another id")
    return stored, new


async def list_schedules(store: Store) -> list[Schedule]:
    """Every schedule, deleted ones included, in creation order (one read)."""
    try:
        branch = await store.get_branch(REGISTRY)
    except NotFound:
        return []
    return [schedule_of(r) for r in branch[1:] if r.tags.get(TAG_PARENT) == REGISTRY]


async def get_schedule(store: Store, id: str, *, where: str) -> Schedule:
    """Schedule ``id`` as stored; an unknown id is one ``UsageError`` saying how to list them."""
    try:
        return schedule_of(await store.get_promise(definition_id(id)))
    except NotFound:
        raise UsageError(f"{where}: no schedule {id!r}; `schedule ls` lists them") from None


async def delete_schedule(store: Store, id: str, *, where: str) -> tuple[Schedule, bool]:
    """Delete schedule ``id``: ``(its record, whether this call deleted it)``. From the moment this
    returns no tick of it starts (the holder's lease ended with the definition's task)."""
    before = await get_schedule(store, id, where=where)
    record = await store.settle_promise(definition_id(id), PromiseState.REJECTED_CANCELED, None)
    return schedule_of(record), not before.deleted


async def tick_started(store: Store, schedule: str, instant: float) -> bool:
    """Whether the root of ``schedule``'s tick at ``instant`` exists (one read)."""
    try:
        await store.get_promise(tick_id(schedule, instant))
    except NotFound:
        return False
    return True


async def last_fired(store: Store, schedule: Schedule, now: float) -> float | None:
    """The latest tick of the catch-up window whose root exists, by binary search (the started ticks of
    the window are a prefix of it, since a holder starts them in order); ``None`` if none has started."""
    ticks = schedule.window(now)
    lo, hi = 0, len(ticks)  # ticks[:lo] started, ticks[hi:] not
    while lo < hi:
        mid = (lo + hi) // 2
        if await tick_started(store, schedule.id, ticks[mid]):
            lo = mid + 1
        else:
            hi = mid
    return ticks[lo - 1] if lo else None


async def start_tick(store: Store, schedule: Schedule, instant: float, fence: Fence | None, *, now: float) -> str:
    """Create the root of ``schedule``'s tick at ``instant`` (idempotent by id) under ``fence``."""
    id = tick_id(schedule.id, instant)
    tags = {TAG_ORIGIN: id, TAG_SCOPE: "global", TAG_SCHEDULE: schedule.id}
    await store.create_promise(id, schedule.call, now + schedule.timeout, tags, target=schedule.group, fence=fence)
    return id


__all__ = [
    "CATCH_UP", "GROUP", "MAX_CATCH_UP", "REGISTRY", "TAG_SCHEDULE", "Schedule", "create_schedule",
    "definition_id", "delete_schedule", "get_schedule", "last_fired", "list_schedules", "new_schedule",
    "start_tick", "tick_id",
]
