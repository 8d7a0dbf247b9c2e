"""An application for the fleet tests: an order whose charge is an rpc to the group ``billing``, so a test can
leave that group without a worker and see ``get``/``tree`` say so. Worker processes import it by name."""

from __future__ import annotations

from pytest_durable import Context, function


@function
async def charge(order: str) -> str:
    """The leaf the billing group runs."""
    return f"charged {order}"


@function
async def order(ctx: Context, order: str) -> str:
    """A workflow of the default group that waits for a billing worker."""
    return await ctx.rpc(charge, order).options(target="billing")
