"""Version 2 of ``orders_v1.py`` with a fraud check before the charge, guarded by ``ctx.patched``: an
execution version 1 recorded past that point takes the old path on every replay; the others, and every
new one, check for fraud first. The marker the patch records numbers no child, so both keep their ids.
Once no execution in flight takes the old path (``python -m pytest_durable check-patch``), the guard
and the old path may go."""

from __future__ import annotations

from pytest_durable import Context, function

PICKUP_WAIT = 2.0


@function
async def reserve(order: str, line: int) -> str:
    return f"{order} line {line} reserved"


@function
async def fraud_check(order: str, amount: int) -> bool:
    return amount < 1_000_000


@function
async def charge(order: str, amount: int) -> str:
    return f"{order} charged {amount}"


@function
async def ship(order: str) -> str:
    return f"{order} shipped"


@function
async def fulfil(ctx: Context, order: str, lines: int) -> str:
    reservations = [await ctx.run(reserve, order, line).spawn() for line in range(lines)]
    reserved = [await r for r in reservations]
    if await ctx.patched("fraud-check") and not await ctx.run(fraud_check, order, 10 * lines):
        return f"{order} held for review"
    receipt = await ctx.run(charge, order, 10 * lines)
    await ctx.sleep(PICKUP_WAIT)
    shipped = await ctx.run(ship, order)
    return f"{len(reserved)} reserved; {receipt}; {shipped}"
