"""Version 1 of an order workflow, the one in production when a deploy comes: it reserves each line,
charges the order, waits for the warehouse's pick-up slot and ships. Its three successors in this
folder are what a team might deploy over executions this version left in flight:

- ``orders_v2_leaf_only.py``: a leaf's body changed and a workflow added (safe);
- ``orders_v2_reordered.py``: the charge moved before the reservations (breaks every execution in flight);
- ``orders_v2_patched.py``: a fraud check added before the charge, guarded by ``ctx.patched`` (safe).

Every version registers its functions under the same names, as a deploy of one module would.
"""

from __future__ import annotations

from pytest_durable import Context, function

#: Seconds the workflow waits for the pick-up slot (a durable timer): executions sit in flight here.
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
    """Reserve every line (fanned out), charge 10 per line, wait for the pick-up slot, ship."""
    reservations = [await ctx.run(reserve, order, line).spawn() for line in range(lines)]
    reserved = [await r for r in reservations]
    receipt = await ctx.run(charge, order, 10 * lines)
    await ctx.sleep(PICKUP_WAIT)
    shipped = await ctx.run(ship, order)
    return f"{len(reserved)} reserved; {receipt}; {shipped}"
