"""A buggy workflow: it charges the card in the workflow body, outside ``ctx.run``.

A workflow runs again from the top after every crash, so an effect in its body happens again too;
only an effect inside a durable child (a leaf called with ``ctx.run``) is replayed from the store.
The simulator finds the double charge within a few hundred seeds:

    python -m sim run examples/side_effect_bug.py:buggy --seeds 200 --faults crash

and ``fixed`` passes the same sweep: the charge moved into a leaf (replayed, not re-run, once it
settled) that calls the payment API with an idempotency key (a leaf itself is at-least-once).
"""

from __future__ import annotations

import attrs

from pytest_durable import Context, function
from sim import Scenario, exactly_once, ledger


@attrs.frozen
class Order:
    id: str
    amount: int


@function
async def reserve(order: Order) -> str:
    return f"reserved {order.id}"


@function
async def charge(order: Order) -> str:
    # A leaf is at-least-once (a crash after the body ran, before its settle, runs it again), so the
    # payment API is called with an idempotency key: the order id.
    ledger().record(f"charge:{order.id}", idempotency_key=f"charge-{order.id}")
    return f"charged {order.amount}"


@function
async def ship(order: Order) -> str:
    return f"shipped {order.id}"


@function
async def checkout_buggy(ctx: Context, order: Order) -> list[str]:
    reserved = await ctx.run(reserve, order)
    ledger().record(f"charge:{order.id}")  # BUG: a side effect outside ctx.run runs on every replay
    shipped = await ctx.run(ship, order)
    return [reserved, f"charged {order.amount}", shipped]


@function
async def checkout(ctx: Context, order: Order) -> list[str]:
    reserved = await ctx.run(reserve, order)
    charged = await ctx.run(charge, order)
    shipped = await ctx.run(ship, order)
    return [reserved, charged, shipped]


ORDER = Order("order-42", 1999)


def buggy() -> Scenario:
    return Scenario(checkout_buggy, (ORDER,), functions=(reserve, ship), root_id="checkout",
                    invariants=(exactly_once("charge:"),))


def fixed() -> Scenario:
    return Scenario(checkout, (ORDER,), functions=(reserve, charge, ship), root_id="checkout",
                    invariants=(exactly_once("charge:"),))
