"""A buggy leaf: it charges the card without an idempotency key.

A leaf is at-least-once: when its process crashes after the body ran but before the result was
settled, the leaf runs again on recovery. Recording a durable promise makes the *workflow* exactly
once, not the outside effect of a leaf; that needs an idempotency key where the effect lands (as
``examples/side_effect_bug.py``'s ``charge`` has). The simulator and the crash search find it:

    python -m sim run examples/retry_bug.py:buggy --seeds 300 --faults crash
    python -m sim bench search
"""

from __future__ import annotations

from side_effect_bug import ORDER, Order, reserve, ship

from pytest_durable import Context, function
from sim import Scenario, exactly_once, ledger


@function
async def charge_without_key(order: Order) -> str:
    ledger().record(f"charge:{order.id}")  # BUG: no idempotency key, and a leaf may run twice
    return f"charged {order.amount}"


@function
async def checkout_without_key(ctx: Context, order: Order) -> list[str]:
    reserved = await ctx.run(reserve, order)
    charged = await ctx.run(charge_without_key, order)
    shipped = await ctx.run(ship, order)
    return [reserved, charged, shipped]


def buggy() -> Scenario:
    return Scenario(checkout_without_key, (ORDER,), functions=(reserve, charge_without_key, ship),
                    root_id="checkout", invariants=(exactly_once("charge:"),))
