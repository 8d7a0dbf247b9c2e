"""Two shapes of real workflows with outside parties, each beside a buggy twin (issue 23's "Done when"):

- an order that waits for a person's approval, which may come early (before the workflow awaits it,
  even before it made the promise), late (after its timeout), twice, or never; the workflow falls back
  to escalating when it times out. The twin takes a timeout for an approval and ships anyway.
- a checkout that waits for the payment provider's webhook, then starts a detached dispatch workflow
  and returns at once. The twin's dispatch ships through a leaf without an idempotency key, so a crash
  after the shipment, before its settle, ships again: a bug only a world that waits for detached
  children can show, since the checkout settles before its dispatch runs.

Effects go to the world's ledger, where the invariants below read them.
"""

from __future__ import annotations

from typing import Any

from pytest_durable import Context, TimedOut, function
from sim import Scenario, actors, at_most_once, exactly_once, ledger

ORDER = "7"
APPROVAL = f"approval-{ORDER}"
PAYMENT = f"payment-{ORDER}"
#: How long the approval is waited for; the approver answers within a window that ends after it.
APPROVAL_TIMEOUT = 120.0
APPROVER_WINDOW = (0.0, 180.0)
PAYMENT_TIMEOUT = 300.0
WEBHOOK_WINDOW = (0.0, 60.0)


# -- approval ---------------------------------------------------------------------------------------------

@function
async def ask_approver(order: str) -> str:
    return f"asked about {order}"


@function
async def ship_order(order: str) -> str:
    ledger().record(f"ship:{order}", idempotency_key=f"ship-{order}")
    return f"shipped {order}"


@function
async def escalate(order: str) -> str:
    ledger().record(f"escalate:{order}", idempotency_key=f"escalate-{order}")
    return f"escalated {order}"


@function
async def approve_order(ctx: Context, order: str) -> str:
    approval = await ctx.promise(id=f"approval-{order}", timeout=APPROVAL_TIMEOUT)
    await ctx.run(ask_approver, order)  # the answer may already be in by the time this returns
    try:
        approved = await approval
    except TimedOut:
        await ctx.run(escalate, order)
        return "escalated"
    if not approved:
        return "declined"
    await ctx.run(ship_order, order)
    return "shipped"


@function
async def approve_order_buggy(ctx: Context, order: str) -> str:
    approval = await ctx.promise(id=f"approval-{order}", timeout=APPROVAL_TIMEOUT)
    await ctx.run(ask_approver, order)
    try:
        approved = await approval
    except TimedOut:
        approved = True  # BUG: no answer is taken for a yes
    if not approved:
        return "declined"
    await ctx.run(ship_order, order)
    return "shipped"


def shipped_only_if_approved(result: Any) -> list[str]:
    """The order ships only when its approval promise was resolved with a yes."""
    approval = next((p for p in result.promises if p.id == APPROVAL), None)
    if not result.ledger.count(f"ship:{ORDER}"):
        return []
    if approval is None or approval.state.value != "resolved" or approval.value != "true":
        state = "never made" if approval is None else approval.state.value
        return [f"order {ORDER} shipped but its approval {APPROVAL} is {state}, not resolved with true"]
    return []


def approver() -> actors.Actor:
    """The approver: says yes once or twice, at drawn times from before the workflow asks to after it
    stopped waiting, or (drawn) never."""
    return actors.resolve(APPROVAL, True, at=APPROVER_WINDOW, times=2, maybe=True)


def approval(workflow: Any = approve_order) -> Scenario:
    return Scenario(workflow, (ORDER,), functions=(ask_approver, ship_order, escalate), root_id=f"order-{ORDER}",
                    outcomes=("shipped", "escalated"), actors=(approver(),),
                    invariants=(shipped_only_if_approved, at_most_once("ship:"), at_most_once("escalate:")))


def approval_buggy() -> Scenario:
    return approval(approve_order_buggy)


# -- checkout with a payment webhook and a detached dispatch ----------------------------------------------

@function
async def pack(order: str) -> str:
    return f"packed {order}"


@function
async def ship_parcel(order: str) -> str:
    ledger().record(f"parcel:{order}", idempotency_key=f"parcel-{order}")
    return f"parcel {order} sent"


@function
async def ship_parcel_without_key(order: str) -> str:
    ledger().record(f"parcel:{order}")  # BUG: at-least-once leaf, no idempotency key
    return f"parcel {order} sent"


@function
async def dispatch(ctx: Context, order: str) -> str:
    await ctx.run(pack, order)
    return await ctx.run(ship_parcel, order)


@function
async def dispatch_buggy(ctx: Context, order: str) -> str:
    await ctx.run(pack, order)
    return await ctx.run(ship_parcel_without_key, order)


@function
async def checkout(ctx: Context, order: str) -> str:
    payment = await ctx.promise(id=f"payment-{order}", timeout=PAYMENT_TIMEOUT)
    try:
        await payment
    except TimedOut:
        return "cancelled"
    await ctx.detach(dispatch, order)
    return "paid"


@function
async def checkout_buggy(ctx: Context, order: str) -> str:
    payment = await ctx.promise(id=f"payment-{order}", timeout=PAYMENT_TIMEOUT)
    try:
        await payment
    except TimedOut:
        return "cancelled"
    await ctx.detach(dispatch_buggy, order)
    return "paid"


def webhook() -> actors.Actor:
    """The payment provider's webhook: delivered twice (at least once, as providers do), at drawn times,
    the first possibly before the checkout made the payment promise."""
    return actors.resolve(PAYMENT, {"paid": 1999}, at=WEBHOOK_WINDOW, times=2)


def checkout_scenario(workflow: Any = checkout) -> Scenario:
    return Scenario(workflow, (ORDER,), functions=(pack, ship_parcel, ship_parcel_without_key, dispatch,
                                                   dispatch_buggy),
                    root_id=f"checkout-{ORDER}", outcomes=("paid", "cancelled"), actors=(webhook(),),
                    invariants=(exactly_once("parcel:", keys=[f"parcel:{ORDER}"]),))


def checkout_buggy_scenario() -> Scenario:
    return checkout_scenario(checkout_buggy)
