"""The booking saga of issue 23 (item 4's shape): reserve a room, charge the card, and compensate by the
class of the error. A declined card (``CardDeclined``, raised by the charge leaf and never retried) is
caught by its class and only releases the room; any other rejection (a transient failure that outlasted
the retries) may have charged the card, so it refunds, then releases. The buggy twin catches only the
declined class: a transient failure rejects the saga with the room still held.

Durable functions live at module level so every process incarnation gets fresh copies of them; the live
test runs ``book_and_confirm`` in worker processes (``python -m pytest_durable worker
tests.helpers.saga_shapes``)."""

from __future__ import annotations

import attrs

from pytest_durable import Constant, Context, Rejected, current_promise_id, function
from sim import RunResult, Scenario, at_most_once, exactly_once, ledger


class CardDeclined(Exception):
    """The card's issuer said no: no retry changes that. Its ``__init__`` takes other arguments than the
    ``args`` it passes on, and it keeps them as attributes, which survive a rejection."""

    def __init__(self, code: str, amount: int) -> None:
        super().__init__(f"card declined (code {code}) for {amount}")
        self.code = code
        self.amount = amount


@attrs.frozen
class Booking:
    id: str
    card: str
    amount: int


@function
async def reserve_room(booking: Booking) -> str:
    ledger().record(f"reserve:{booking.id}", idempotency_key=current_promise_id())
    return f"room held for {booking.id}"


@function(retry=Constant(delay=1, max_retries=1, non_retryable=(CardDeclined,)))
async def charge_card(booking: Booking) -> str:
    if booking.card.startswith("declined"):
        raise CardDeclined("51", booking.amount)
    ledger().record(f"charge:{booking.id}", idempotency_key=current_promise_id())
    return f"charged {booking.amount}"


@function
async def refund_card(booking: Booking) -> str:
    if ledger().count(f"charge:{booking.id}"):  # the bank refunds a charge it took; else nothing to do
        ledger().record(f"refund:{booking.id}", idempotency_key=f"refund-{booking.id}")
    return f"refunded {booking.id}"


@function
async def release_room(booking: Booking) -> str:
    ledger().record(f"release:{booking.id}", idempotency_key=current_promise_id())
    return f"released {booking.id}"


@function
async def book(ctx: Context, booking: Booking) -> str:
    await ctx.run(reserve_room, booking)
    try:
        await ctx.run(charge_card, booking)
    except CardDeclined as declined:  # the card said no: nothing was charged, give the room back
        await ctx.run(release_room, booking)
        return f"declined {declined.code}"
    except Rejected:  # a transient failure outlasted the retries: the charge may have gone through
        await ctx.run(refund_card, booking)
        await ctx.run(release_room, booking)
        return "failed"
    return "booked"


@function
async def book_buggy(ctx: Context, booking: Booking) -> str:
    await ctx.run(reserve_room, booking)
    try:
        await ctx.run(charge_card, booking)
    except CardDeclined as declined:
        await ctx.run(release_room, booking)
        return f"declined {declined.code}"
    # BUG: a transient failure that outlasts the retries rejects the saga with the room still held
    return "booked"


def room_released_unless_booked(result: object) -> list[str]:
    """A saga that did not book gave the room back (and any charge); one that booked kept it."""
    assert isinstance(result, RunResult)
    if not result.settled:
        return []
    booked = result.root is not None and result.root.state.value == "resolved" and result.value == "booked"
    released = result.ledger.count("release:b-7")
    if booked and released:
        return ["the saga booked the room but released it"]
    if not booked and not released:
        return [f"the saga ended {result.outcome()[0]} without releasing the room"]
    if not booked and result.ledger.count("charge:b-7") != result.ledger.count("refund:b-7"):
        return ["the saga did not book but kept a charge"]
    return []


INVARIANTS = (exactly_once("reserve:"), at_most_once("charge:"), at_most_once("refund:"), at_most_once("release:"),
              room_released_unless_booked)
GOOD_CARD = Booking("b-7", "4242", 300)
DECLINED_CARD = Booking("b-7", "declined-0002", 300)
FUNCTIONS = (reserve_room, charge_card, refund_card, release_room)


def booking_scenario() -> Scenario:
    """A card that works: booked, or (faults outlasting the retries) failed and compensated."""
    return Scenario(book, (GOOD_CARD,), functions=FUNCTIONS, root_id="book", outcomes=("booked", "failed"),
                    invariants=INVARIANTS)


def declined_scenario() -> Scenario:
    """A declined card: caught by its class and compensated, whatever the faults (or failed, compensated)."""
    return Scenario(book, (DECLINED_CARD,), functions=FUNCTIONS, root_id="book",
                    outcomes=("declined 51", "failed"), invariants=INVARIANTS)


def booking_buggy_scenario() -> Scenario:
    return Scenario(book_buggy, (GOOD_CARD,), functions=FUNCTIONS, root_id="book", outcomes=("booked", "failed"),
                    invariants=INVARIANTS)


# -- across processes: the rejection is read again by another worker process after a suspension ----------


@function
async def book_and_confirm(ctx: Context, booking: Booking) -> str:
    """Charge (declined), then wait for a confirmation that only comes after the first worker process
    stopped: the worker that finishes replays the rejected charge from the store and must catch it by
    its class again."""
    try:
        await ctx.run(charge_card, booking)
        outcome = "charged"
    except CardDeclined as declined:
        outcome = f"declined {declined.code} for {declined.amount}"
    confirm = await ctx.promise(timeout=3600, id=f"{ctx.id}.confirm")
    await confirm
    return outcome
