"""Presence (``live.presence``) over the reference store and a clock the test moves: a worker that holds its
lease serves its group, one killed stops counting once its lease runs out (and the next worker to start
settles its record as lost), one stopped cleanly is remembered with the time it stopped."""

from __future__ import annotations

import trio

from pytest_durable.core.clock import ManualClock
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.live.presence import (
    LOST,
    STOPPED,
    TTL,
    announce,
    enter,
    group_parent,
    presence_of,
    unserved_note,
)

T0 = 1_000.0


def test_a_killed_worker_stops_serving_when_its_lease_runs_out_and_the_next_one_settles_it() -> None:
    clock = ManualClock(T0)
    store = MemoryStore(clock)

    async def main() -> None:
        await enter(store, clock, "billing", "w1", TTL)  # what w1 holds when it is killed: nothing more runs
        assert (await presence_of(store, "billing")).workers == ("w1",)
        clock.advance(TTL - 1)
        served = await presence_of(store, "billing")
        assert unserved_note(served, "billing", rpc=True, now=clock.now()) is None
        clock.advance(1)  # w1 has not been heard of for TTL seconds
        gone = await presence_of(store, "billing")
        assert gone.workers == () and gone.last_stop is None
        assert unserved_note(gone, "billing", rpc=True, now=clock.now()) == (
            "rpc to group 'billing': no worker serves it — none seen in the last 90 s")
        await enter(store, clock, "billing", "w2", TTL)
        records = {r.id.split(":")[3]: r for r in (await store.get_branch(group_parent("billing")))[1:]}
        assert records["w1"].value == LOST and records["w2"].state.value == "pending"
        assert (await presence_of(store, "billing")).workers == ("w2",)

    trio.run(main)


def test_a_worker_that_stops_cleanly_says_when() -> None:
    clock = ManualClock(T0)
    store = MemoryStore(clock)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(announce, store, clock, "billing", "w1")
            assert (await presence_of(store, "billing")).workers == ("w1",)
            nursery.cancel_scope.cancel()  # a clean stop cancels the worker's nursery
        stopped = (await store.get_branch(group_parent("billing")))[1]
        assert (stopped.value, stopped.settled_on) == (STOPPED, T0)
        clock.advance(5)
        presence = await presence_of(store, "billing")
        assert presence.workers == () and presence.last_stop == T0
        assert unserved_note(presence, "default", rpc=False, now=clock.now()) == (
            "group 'default': no worker serves it — the last one stopped 5 s ago")
        clock.advance(TTL)
        assert unserved_note(presence, "default", rpc=False, now=clock.now()) == (
            "group 'default': no worker serves it — none seen in the last 90 s")

    trio.run(main)
