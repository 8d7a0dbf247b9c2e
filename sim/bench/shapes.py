"""Workflows of the shapes teams run, for ``python -m sim bench throughput`` beside the seed's fan-out
of three: a batch (partitions on tasks of their own, each a sliding window of record child workflows,
also on tasks of their own, that sleep a drawn while) and a saga with retries and compensation.

Written against the public API only (``pytest_durable``, ``sim``), so the same file measures an older
checkout of the project too. Each scenario isolates this module, as a user's workflow module is.
"""

from __future__ import annotations

from pytest_durable import Constant, Context, Rejected, RemoteFuture, function
from sim import Scenario

#: The batch of the throughput bench: 3 partitions of 20 records, 4 records in flight per partition;
#: 304 promises in a world without faults.
PARTITIONS, RECORDS, WINDOW = 3, 20, 4


@function
async def fetch_record(partition: int, record: int) -> int:
    return partition * 1000 + record


@function
async def store_record(partition: int, record: int, value: int) -> str:
    return f"{partition}/{record}={value}"


@function
async def process_record(ctx: Context, partition: int, record: int) -> str:
    """Fetch, wait a drawn while (a rate limit, a backoff: 5 to 60 s), store."""
    value = await ctx.run(fetch_record, partition, record)
    pause = await ctx.random()
    await ctx.sleep(5.0 + 55.0 * pause)
    return await ctx.run(store_record, partition, record, value)


@function
async def process_partition(ctx: Context, partition: int, records: int, window: int) -> int:
    """Every record of the partition on a task of its own (any worker may take it), ``window`` at a time:
    a new one starts as the oldest finishes."""
    in_flight: list[RemoteFuture[str]] = []
    done = 0
    for record in range(records):
        if len(in_flight) == window:
            await in_flight.pop(0)
            done += 1
        in_flight.append(await ctx.rpc(process_record, partition, record).spawn())
    for future in in_flight:
        await future
        done += 1
    return done


@function
async def batch(ctx: Context, partitions: int, records: int, window: int) -> int:
    """Each partition on a task of its own (any worker may take it); the records processed in all."""
    futures = [await ctx.rpc(process_partition, p, records, window).spawn() for p in range(partitions)]
    return sum([await future for future in futures])


def batch_scenario() -> Scenario:
    return Scenario(batch, (PARTITIONS, RECORDS, WINDOW),
                    functions=(process_partition, process_record, fetch_record, store_record),
                    root_id="batch", expected=PARTITIONS * RECORDS, isolate=(__name__,))


@function(retry=Constant(delay=1.0, max_retries=3))
async def reserve_flight(trip: str) -> str:
    return f"flight for {trip}"


@function(retry=Constant(delay=1.0, max_retries=3))
async def reserve_hotel(trip: str) -> str:
    return f"hotel for {trip}"


@function(retry=Constant(delay=2.0, max_retries=2))
async def charge_card(trip: str) -> str:
    return f"charged {trip}"


@function(retry=Constant(delay=1.0, max_retries=10))
async def cancel_flight(trip: str) -> str:
    return f"flight cancelled for {trip}"


@function(retry=Constant(delay=1.0, max_retries=10))
async def cancel_hotel(trip: str) -> str:
    return f"hotel cancelled for {trip}"


@function
async def book_trip(ctx: Context, trip: str) -> str:
    """Flight, hotel, charge; a step whose retries run out undoes the steps before it."""
    await ctx.run(reserve_flight, trip)
    try:
        await ctx.run(reserve_hotel, trip)
    except Rejected:
        await ctx.run(cancel_flight, trip)
        return "cancelled"
    try:
        await ctx.run(charge_card, trip)
    except Rejected:
        await ctx.run(cancel_hotel, trip)
        await ctx.run(cancel_flight, trip)
        return "cancelled"
    return "booked"


def saga_scenario() -> Scenario:
    return Scenario(book_trip, ("trip-7",),
                    functions=(reserve_flight, reserve_hotel, charge_card, cancel_flight, cancel_hotel),
                    root_id="trip", outcomes=("booked", "cancelled"), isolate=(__name__,))
