"""Held-out bugs for ``python -m sim bench search --held-out``: buggy workflows of other shapes than
``examples/``'s, so that the search's speed and its shrinking are not tuned to the examples alone.

Each is a workflow a user could write, with one mistake: a saga that does not compensate, a leaf
whose effect has no idempotency key and runs again after a failed attempt, a wait in memory instead
of a durable timer, and a child whose id comes from state outside ``ctx`` (so a replay spawns a
second one).
"""

from __future__ import annotations

import trio

from pytest_durable.core.errors import TimedOut
from pytest_durable.sdk import Context, current_promise_id, function

from ..scenario import Scenario
from ..trace import exactly_once, ledger
from ..world import RunResult


@function
async def hold_seat(trip: str) -> str:
    ledger().record(f"seat:{trip}", idempotency_key=f"seat-{trip}")
    return "held"


@function
async def release_seat(trip: str) -> str:
    ledger().record(f"release:{trip}", idempotency_key=f"release-{trip}")
    return "released"


@function
async def pay(trip: str) -> str:
    await trio.sleep(1.0)  # the payment provider is slow
    ledger().record(f"paid:{trip}", idempotency_key=f"paid-{trip}")
    return "paid"


@function
async def book_without_compensation(ctx: Context, trip: str) -> str:
    await ctx.run(hold_seat, trip)
    try:
        await ctx.run(pay, trip).options(timeout=5.0)
    except TimedOut:
        return "payment timed out"  # BUG: the seat stays held; the saga should release it
    return "booked"


def seat_paid_or_released(result: RunResult) -> list[str]:
    """A held seat is paid for or released once the saga is over."""
    held, paid, released = (result.ledger.count(f"{what}:trip-9") for what in ("seat", "paid", "release"))
    return ["ledger: seat:trip-9 held, neither paid nor released"] if held and not (paid or released) else []


@function
async def send_welcome(user: str) -> str:
    if not ledger().count(f"smtp-refused:{user}"):  # the mail server refuses the first connection
        ledger().record(f"smtp-refused:{user}")
        raise ConnectionError("smtp: connection refused")
    ledger().record(f"welcome:{user}")  # BUG: no idempotency key, and a leaf may run again
    return "sent"


@function
async def sign_up(ctx: Context, user: str) -> str:
    return await ctx.rpc(send_welcome, user)


@function
async def wait_then_remind(invoice: str) -> str:
    await trio.sleep(40.0)  # BUG: a wait in memory: a crash during it starts it over
    ledger().record(f"reminder:{invoice}", idempotency_key=f"reminder-{invoice}")
    return "reminded"


@function
async def remind_later(ctx: Context, invoice: str) -> str:
    return await ctx.rpc(wait_then_remind, invoice)


def reminded_on_time(result: RunResult) -> list[str]:
    """The reminder went out at most 30 s after it was due (t=40): recovering from a crash early in
    the wait fits in that, a crash late in it does not."""
    return [f"ledger: reminder:inv-5 sent at t={e.time:g}, due by t=70"
            for e in result.ledger.made("reminder:inv-5")[:1] if e.time > 70.0]


@function
async def ship(order: str) -> str:
    ledger().record(f"ship:{order}", idempotency_key=current_promise_id())  # its own id: once per child
    return "shipped"


@function
async def fulfil(ctx: Context, order: str) -> str:
    attempt = ledger().count(f"fulfil-started:{order}")  # BUG: state outside ctx names the child
    ledger().record(f"fulfil-started:{order}")
    handle = await ctx.run(ship, order).options(id=f"ship-{order}-{attempt}").spawn()
    return await handle


def saga() -> Scenario:
    return Scenario(book_without_compensation, ("trip-9",), functions=(hold_seat, release_seat, pay),
                    root_id="book", invariants=(seat_paid_or_released,))


def retried_leaf() -> Scenario:
    return Scenario(sign_up, ("ada",), functions=(send_welcome,), root_id="sign-up",
                    invariants=(exactly_once("welcome:"),))


def timer() -> Scenario:
    return Scenario(remind_later, ("inv-5",), functions=(wait_then_remind,), root_id="remind",
                    invariants=(reminded_on_time,))


def double_spawn() -> Scenario:
    return Scenario(fulfil, ("order-7",), functions=(ship,), root_id="fulfil",
                    invariants=(exactly_once("ship:"),))


#: The held-out bugs by name.
HELD_OUT = {"saga": saga, "retried_leaf": retried_leaf, "timer": timer, "double_spawn": double_spawn}
