"""Version 2 of ``orders_v1.py`` that is safe to deploy over executions in flight: a leaf's body
changed (``ship`` books a courier first) and a new workflow came (``refund``); ``fulfil`` makes the
same calls in the same order with the same arguments, so a replay of a version-1 execution reads every
recorded child as it was recorded."""

from __future__ import annotations

from pytest_durable import Context, function

PICKUP_WAIT = 2.0


@function
async def reserve(order: str, line: int) -> str:
    return f"{order} line {line} reserved"


@function
async def charge(order: str, amount: int) -> str:
    return f"{order} charged {amount}"


@function
async def ship(order: str) -> str:
    courier = "courier-" + str(sum(map(ord, order)) % 7)  # the new body: a leaf's body is not replayed
    return f"{order} shipped" if courier else f"{order} not shipped"


@function
async def fulfil(ctx: Context, order: str, lines: int) -> str:
    reservations = [await ctx.run(reserve, order, line).spawn() for line in range(lines)]
    reserved = [await r for r in reservations]
    receipt = await ctx.run(charge, order, 10 * lines)
    await ctx.sleep(PICKUP_WAIT)
    shipped = await ctx.run(ship, order)
    return f"{len(reserved)} reserved; {receipt}; {shipped}"


@function
async def refund(ctx: Context, order: str, amount: int) -> str:
    """A new workflow: no execution recorded it, so nothing in flight can disagree with it."""
    return await ctx.run(charge, order, -amount)
