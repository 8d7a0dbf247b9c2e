"""Version 2 of ``orders_v1.py`` that breaks executions in flight: it charges before reserving the
lines. A version-1 execution recorded its reservations as children 0 to n-1 and the charge as child n;
replayed by this code, child 0 is a charge where the store recorded a reservation."""

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
    return f"{order} shipped"


@function
async def fulfil(ctx: Context, order: str, lines: int) -> str:
    receipt = await ctx.run(charge, order, 10 * lines)  # moved first: every recorded child shifts
    reservations = [await ctx.run(reserve, order, line).spawn() for line in range(lines)]
    reserved = [await r for r in reservations]
    await ctx.sleep(PICKUP_WAIT)
    shipped = await ctx.run(ship, order)
    return f"{len(reserved)} reserved; {receipt}; {shipped}"
