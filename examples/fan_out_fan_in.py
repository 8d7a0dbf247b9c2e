"""Fan-out / fan-in with durable per-item recovery.

Each item runs as its own durable child (``ctx.run(process_item, item).spawn()``), so after a crash
the items that finished are replayed from the store and only pending ones run again.

Run it: ``python examples/fan_out_fan_in.py`` (add a number for the variable-N shape: ``… 100``). It
runs durably on a SQLite file (``fan_out_fan_in.db`` here, or ``--store URL``): stop it half-way
(Ctrl-C, or ``kill -9``) and run it again, and it resumes; the items that finished are not run again.
``--pace S`` makes item ``i`` take ``i * S`` seconds, so there is time to stop it:

    python examples/fan_out_fan_in.py 50 --pace 0.1     # Ctrl-C after a few items
    python examples/fan_out_fan_in.py 50 --pace 0.1     # resumes: only the rest run
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import attrs
import trio

from pytest_durable import Context, Worker, function

if TYPE_CHECKING:
    from sim import Scenario


@attrs.frozen
class WorkItem:
    id: int
    data: str


@attrs.frozen
class WorkResult:
    id: int
    output: str


#: Set for a run from the command line only (the simulator leaves them be): seconds per item id, and
#: whether a body says on stderr that it ran (so a resumed run shows which items ran again).
PACE = 0.0
SAY = False


@function
async def process_item(item: WorkItem) -> WorkResult:
    """The leaf: one durable child per item."""
    if SAY:
        print(f"  running item #{item.id}", file=sys.stderr, flush=True)
    if PACE:
        await trio.sleep(PACE * item.id)
    return WorkResult(id=item.id, output=f"Processed: {item.data} (item #{item.id})")


@function
async def fan_out_fan_in(ctx: Context, items: list[WorkItem]) -> list[WorkResult]:
    """The seed's shape: exactly three items, fanned out by index, fanned in in order."""
    h1 = await ctx.run(process_item, items[0]).spawn()
    h2 = await ctx.run(process_item, items[1]).spawn()
    h3 = await ctx.run(process_item, items[2]).spawn()
    return [await h1, await h2, await h3]


@function
async def fan_out_fan_in_n(ctx: Context, items: list[WorkItem]) -> list[WorkResult]:
    """Variable N: the same primitive in a loop; results come back in input order."""
    handles = [await ctx.run(process_item, item).spawn() for item in items]
    return [await h for h in handles]


def make_items(n: int) -> list[WorkItem]:
    return [WorkItem(id=i, data=f"item-{i}") for i in range(n)]


async def main(n: int | None = None, store: str = "sqlite:///fan_out_fan_in.db") -> list[WorkResult]:
    """Start (or resume) the workflow on a durable store and wait for its result."""
    from pytest_durable.core.clock import WallClock
    from pytest_durable.live import open_store

    # A short lease, so a run started after a kill takes the work over within seconds.
    worker = Worker(open_store(store), clock=WallClock(), ttl=3.0)
    worker.register(fan_out_fan_in, fan_out_fan_in_n, process_item)
    async with worker.running():
        if n is None:
            handle = await worker.run("fan-out-fan-in", fan_out_fan_in, make_items(3))
        else:
            handle = await worker.run(f"fan-out-fan-in-{n}", fan_out_fan_in_n, make_items(n))
        return await handle.result()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the fan-out/fan-in example durably.")
    parser.add_argument("n", nargs="?", type=int, default=None, help="items (default: the seed's three)")
    parser.add_argument("--store", default="sqlite:///fan_out_fan_in.db", help="store URL")
    parser.add_argument("--pace", type=float, default=0.0, help="item i takes i * PACE seconds")
    options = parser.parse_args()
    PACE, SAY = options.pace, options.pace > 0
    try:
        results = trio.run(main, options.n, options.store)
    except KeyboardInterrupt:
        print("stopped; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    for result in results:
        print(result.output)


def scenario(n: int = 3) -> Scenario:
    """The simulator's view of this example: ``python -m sim run examples/fan_out_fan_in.py:scenario``."""
    from sim import Scenario

    items = make_items(n)
    expected = [WorkResult(id=i.id, output=f"Processed: {i.data} (item #{i.id})") for i in items]
    return Scenario(fan_out_fan_in_n, (items,), functions=(process_item,), root_id="fan-out-fan-in",
                    expected=expected)
