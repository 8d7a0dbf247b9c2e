"""A workflow that reads a worker's dependency, and the set-up that gives it one: the deploy commands
replay it with what ``--setup`` sets, as a worker would run it."""

from __future__ import annotations

from pytest_durable import Context, Worker, dependency, function


@function
async def unit_price(n: int) -> int:
    return n


@function
async def priced_order(ctx: Context, n: int) -> int:
    price: int = await ctx.run(unit_price, n)
    return price * int(dependency("rate"))


def setup(worker: Worker) -> None:
    worker.set_dependency("rate", 3)
