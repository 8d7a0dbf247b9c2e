"""Durable schedules in one process (issue 25, item 7): when ticks fall, finding the last tick started in
O(log n) reads, and firers over the reference store on trio's virtual clock: one root per tick across
two workers, the schedule handed on at once when its holder stops, nothing started by a zombie or after
a delete. The live test with worker processes killed -9 is ``test_schedules_live.py``."""

from __future__ import annotations

import calendar
from typing import Any

import pytest
import trio
import trio.testing

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.errors import Fenced, UsageError
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import Fence, TaskState
from pytest_durable.live.cadence import instant_text, parse_cadence
from pytest_durable.live.scheduler import fire_schedules
from pytest_durable.live.schedules import (
    GROUP,
    TAG_SCHEDULE,
    Schedule,
    create_schedule,
    definition_id,
    delete_schedule,
    last_fired,
    new_schedule,
    start_tick,
    tick_id,
)
from tests.helpers.schedule_app import tick

DEC_8 = calendar.timegm((2026, 12, 8, 0, 0, 0))


def test_every_ticks_at_multiples_of_its_interval_since_the_epoch() -> None:
    every = parse_cadence("@every  2m", where="t")
    assert every.every == 120
    assert every.after(DEC_8) == DEC_8 + 120 and every.after(DEC_8 - 1) == DEC_8
    assert every.latest(DEC_8 - 300, DEC_8, 10) == [DEC_8 - 240, DEC_8 - 120, DEC_8]
    assert every.latest(DEC_8 - 300, DEC_8, 2) == [DEC_8 - 120, DEC_8], "the latest ones when capped"


def test_cron_with_five_or_six_fields_and_aliases() -> None:
    daily = parse_cadence("0 3 * * *", where="t")
    assert instant_text(daily.after(DEC_8)) == "2026-12-08T03:00:00Z"
    assert [instant_text(t) for t in daily.latest(DEC_8 - 3 * 86400, DEC_8 + 4 * 3600, 10)] == [
        "2026-12-05T03:00:00Z", "2026-12-06T03:00:00Z", "2026-12-07T03:00:00Z", "2026-12-08T03:00:00Z"]
    seconds = parse_cadence("*/15 * * * * *", where="t")
    assert seconds.seconds_first and seconds.after(DEC_8) == DEC_8 + 15
    assert seconds.latest(DEC_8, DEC_8 + 30, 10) == [DEC_8 + 15, DEC_8 + 30], "(start, end]: end counts"
    assert parse_cadence("@hourly", where="t").after(DEC_8) == DEC_8 + 3600


@pytest.mark.parametrize(("cron", "says"), [
    ("61 * * * *", "CRON '61 * * * *' is not a cron expression ([61 * * * *] is not acceptable, out of range)"),
    ("* * *", "CRON '* * *' has 3 field(s); write 5 fields"),
    ("* * * * * * *", "CRON '* * * * * * *' has 7 field(s)"),
    ("@every 0s", "CRON '@every 0s': the interval must be at least 1 second"),
    ("@every soon", "CRON '@every soon': write the interval as '@every 30s', '@every 5m' or '@every 2h'"),
])
def test_a_bad_cadence_is_one_line_naming_it(cron: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cadence(cron, where="schedule create")
    assert str(caught.value).startswith(f"schedule create: {says}") and "\n" not in str(caught.value)


def beat(catch_up: float = 3600.0) -> Schedule:
    return new_schedule("beat", "@every 1s", tick, [7], {}, "[7]", group="default", catch_up=catch_up, where="t")


class CountingStore(MemoryStore):
    """The reference store, counting the reads of single promises."""

    reads = 0

    async def get_promise(self, id: str) -> Any:
        self.reads += 1
        return await super().get_promise(id)


def test_the_last_tick_started_is_found_in_log_n_reads() -> None:
    async def main() -> None:
        store = CountingStore(TrioClock())
        stored, _ = await create_schedule(store, beat(), now=0.0, where="t")
        await trio.sleep(1000.0)
        assert await last_fired(store, stored, 1000.0) is None
        for instant in range(1, 701):
            await start_tick(store, stored, float(instant), None, now=1000.0)
        store.reads = 0
        assert await last_fired(store, stored, 1000.0) == 700.0
        assert store.reads <= 11, f"{store.reads} reads for a window of 1000 ticks"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_two_firers_start_one_root_per_tick_hand_it_on_when_stopped_and_stop_at_delete() -> None:
    holders: list[str] = []
    deleted_at = 0.0

    async def main() -> MemoryStore:
        nonlocal deleted_at
        clock = TrioClock()
        store = MemoryStore(clock)
        await create_schedule(store, beat(), now=clock.now(), where="t")
        scopes = {name: trio.CancelScope() for name in ("w1", "w2")}

        async def firer(name: str) -> None:
            with scopes[name]:
                await fire_schedules(store, clock, name, ttl=30.0, poll=5.0)

        async with trio.open_nursery() as nursery:
            for name in scopes:
                nursery.start_soon(firer, name)
            await trio.sleep(5.5)
            holders.append(str((await store.get_task(definition_id("beat"))).lease_owner))
            scopes[holders[0]].cancel()  # the holder stops: it gives the lease back, the other takes it at once
            await trio.sleep(5.0)
            holders.append(str((await store.get_task(definition_id("beat"))).lease_owner))
            await delete_schedule(store, "beat", where="t")
            deleted_at = clock.now()
            await trio.sleep(5.0)
            nursery.cancel_scope.cancel()
        return store

    store = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert sorted(holders) == ["w1", "w2"], holders
    roots = [p for p in store.promises() if p.tags.get(TAG_SCHEDULE) == "beat"]
    assert [p.id for p in roots] == [tick_id("beat", float(t)) for t in range(1, 11)], "ticks 1..10, once each"
    assert all(p.created_on - float(i + 1) < 0.5 for i, p in enumerate(roots)), "none waited out a lease"
    definition = {t.id: t for t in store.tasks()}[definition_id("beat")]
    assert deleted_at == 10.5 and definition.state is TaskState.FULFILLED


def test_a_zombie_holder_and_a_deleted_schedule_start_nothing() -> None:
    async def main() -> None:
        store = MemoryStore(TrioClock())
        stored, _ = await create_schedule(store, beat(), now=0.0, where="t")
        zombie = await store.acquire_task(definition_id("beat"), "zombie", 2.0)
        await trio.sleep(3.0)  # its lease runs out; another worker takes the schedule
        holder = await store.acquire_task(definition_id("beat"), "holder", 2.0)
        with pytest.raises(Fenced):
            await start_tick(store, stored, 3.0, Fence(zombie.id, zombie.version), now=3.0)
        await start_tick(store, stored, 3.0, Fence(holder.id, holder.version), now=3.0)
        await delete_schedule(store, "beat", where="t")
        with pytest.raises(Fenced):
            await start_tick(store, stored, 4.0, Fence(holder.id, holder.version), now=4.0)
        assert [p.id for p in store.promises() if p.tags.get(TAG_SCHEDULE)] == [tick_id("beat", 3.0)]
        assert (await store.dispatch(GROUP, 10)) == [], "a deleted schedule is offered to no worker"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_tick_ids_read_as_utc_instants() -> None:
    assert tick_id("nightly", DEC_8 + 3 * 3600) == "nightly@2026-12-08T03:00:00Z"


def test_a_worker_started_before_the_first_schedule_takes_it_up_within_its_poll() -> None:
    async def main() -> list[tuple[str, float]]:
        clock = TrioClock()
        store = MemoryStore(clock)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: fire_schedules(store, clock, "w1", ttl=30.0, poll=5.0))
            await trio.sleep(2.5)
            await create_schedule(store, beat(), now=clock.now(), where="t")
            await trio.sleep(6.0)
            nursery.cancel_scope.cancel()
        return [(p.id, p.created_on) for p in store.promises() if p.tags.get(TAG_SCHEDULE)]

    roots = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert [id for id, _ in roots] == [tick_id("beat", float(t)) for t in range(3, 9)]
    assert [at for _, at in roots[:3]] == [5.0, 5.0, 5.0], "found at the poll after it was created, caught up"
