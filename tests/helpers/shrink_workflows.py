"""Workflows for the shrinking and pinning tests (durable functions must live at module level)."""

from __future__ import annotations

import attrs

from pytest_durable import Context, function
from sim import Scenario, exactly_once, ledger


@attrs.frozen
class Order:
    id: str


@function
async def charge(order: Order) -> str:
    ledger().record(f"charge:{order.id}")  # BUG: no idempotency key, and a leaf may run twice
    return "charged"


@function
async def checkout(ctx: Context, order: Order) -> str:
    return await ctx.run(charge, order)


def checkout_scenario(order_id: str) -> Scenario:
    """The checkout of one order, whose id the test makes fresh (a uuid) on every run."""
    return Scenario(checkout, (Order(order_id),), functions=(charge,), root_id="checkout",
                    invariants=(exactly_once("charge:"),))
