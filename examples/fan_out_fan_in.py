"""Fan-out / fan-in with durable per-item recovery.

Each item runs as its own durable child (``ctx.run(process_item, item).spawn()``), so after a crash
the items that finished are replayed from the store and only pending ones run again.

Run it: ``python examples/fan_out_fan_in.py`` (add a number for the variable-N shape: ``… 100``).
"""

from __future__ import annotations

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


@function
async def process_item(item: WorkItem) -> WorkResult:
    """The leaf: one durable child per item."""
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


async def main(n: int | None = None) -> list[WorkResult]:
    worker = Worker()
    worker.register(fan_out_fan_in, fan_out_fan_in_n, process_item)
    async with worker.running():
        if n is None:
            handle = await worker.run("fan-out-fan-in", fan_out_fan_in, make_items(3))
        else:
            handle = await worker.run(f"fan-out-fan-in-{n}", fan_out_fan_in_n, make_items(n))
        return await handle.result()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for result in trio.run(main, n):
        print(result.output)


def scenario(n: int = 3) -> Scenario:
    """The simulator's view of this example: ``python -m sim run examples/fan_out_fan_in.py:scenario``."""
    from sim import Scenario

    items = make_items(n)
    expected = [WorkResult(id=i.id, output=f"Processed: {i.data} (item #{i.id})") for i in items]
    return Scenario(fan_out_fan_in_n, (items,), functions=(process_item,), root_id="fan-out-fan-in",
                    expected=expected)
