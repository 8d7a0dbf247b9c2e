"""Workflows whose outcome a fault may rightly change (issue 12, items 1, 6 and 8), each with a buggy
twin: a compensating saga, a timeout fallback, and module state that must not leak between worlds.
Durable functions live at module level so every process incarnation gets fresh copies of them."""

from __future__ import annotations

import attrs
import trio

from pytest_durable import Constant, Context, Rejected, TimedOut, current_promise_id, function
from sim import Scenario, at_most_once, exactly_once, ledger

# -- a saga: reserve, charge; a charge rejected after its retries releases the reservation --------------


@attrs.frozen
class Order:
    id: str
    amount: int


@function
async def reserve(order: Order) -> str:
    ledger().record(f"reserve:{order.id}", idempotency_key=current_promise_id())
    return f"reserved {order.id}"


@function(retry=Constant(delay=1, max_retries=1))
async def charge(order: Order) -> str:
    ledger().record(f"charge:{order.id}", idempotency_key=current_promise_id())
    return f"charged {order.amount}"


@function
async def refund(order: Order) -> str:
    if ledger().count(f"charge:{order.id}"):  # the payment API refunds a charge it took; else a no-op
        ledger().record(f"refund:{order.id}", idempotency_key=f"refund-{order.id}")
    return f"refunded {order.id}"


@function
async def release(order: Order) -> str:
    ledger().record(f"release:{order.id}", idempotency_key=current_promise_id())
    return f"released {order.id}"


@function
async def saga(ctx: Context, order: Order) -> str:
    await ctx.run(reserve, order)
    try:
        await ctx.run(charge, order)
    except Rejected:
        # compensate: a rejected charge may still have gone through (its body ran, a crash came before
        # its settle, and the attempts after it were rejected), so refund it, then release the reservation
        await ctx.run(refund, order)
        await ctx.run(release, order)
        return "refunded"
    return "completed"


@function
async def saga_buggy(ctx: Context, order: Order) -> str:
    await ctx.run(reserve, order)
    await ctx.run(charge, order)  # BUG: a charge rejected after its retries leaves the reservation held
    return "completed"


def released_unless_completed(result: object) -> list[str]:
    """A saga that did not complete gave its reservation back; one that completed kept it."""
    from sim import RunResult

    assert isinstance(result, RunResult)
    if not result.settled:
        return []
    released = result.ledger.count("release:order-7")
    completed = result.root is not None and result.root.state.value == "resolved" and result.value == "completed"
    if completed and released:
        return ["the saga completed but released its reservation"]
    if not completed and not released:
        return [f"the saga ended {result.outcome()[0]} without releasing its reservation"]
    if not completed and result.ledger.count("charge:order-7") != result.ledger.count("refund:order-7"):
        return ["the saga did not complete but kept a charge"]
    return []


SAGA_OUTCOMES = ("completed", "refunded")
SAGA_INVARIANTS = (exactly_once("reserve:"), at_most_once("charge:"), at_most_once("refund:"), at_most_once("release:"),
                   released_unless_completed)


def saga_scenario() -> Scenario:
    return Scenario(saga, (Order("order-7", 1999),), functions=(reserve, charge, refund, release), root_id="saga",
                    outcomes=SAGA_OUTCOMES, invariants=SAGA_INVARIANTS)


def saga_buggy_scenario() -> Scenario:
    return Scenario(saga_buggy, (Order("order-7", 1999),), functions=(reserve, charge, release), root_id="saga",
                    outcomes=SAGA_OUTCOMES, invariants=SAGA_INVARIANTS)


# -- a timeout fallback: a quote that takes too long falls back to a cached price -----------------------


@function(retry=Constant(delay=1, max_retries=3))
async def live_quote(sku: str) -> int:
    await trio.sleep(1.0)
    return 120


@function
async def price(ctx: Context, sku: str) -> int:
    try:
        return await ctx.run(live_quote, sku).options(timeout=4)
    except TimedOut:
        return 100  # the cached price


@function
async def price_buggy(ctx: Context, sku: str) -> int:
    return await ctx.run(live_quote, sku).options(timeout=4)  # BUG: TimedOut is not handled


PRICES = (120, 100)


def price_scenario() -> Scenario:
    return Scenario(price, ("sku-1",), functions=(live_quote,), root_id="price", outcomes=PRICES)


def price_buggy_scenario() -> Scenario:
    return Scenario(price_buggy, ("sku-1",), functions=(live_quote,), root_id="price", outcomes=PRICES)


# -- cause first: a double charge (the cause) makes the bank hold the card, so the root never settles ----


@function
async def charge_twice_holds(order: Order) -> str:
    ledger().record(f"charge:{order.id}")  # BUG: no idempotency key, and a crash re-runs this leaf
    if ledger().count(f"charge:{order.id}") > 1:
        await trio.sleep_forever()  # the bank holds a duplicate charge for review and never answers
    return f"charged {order.amount}"


@function
async def pay_held(ctx: Context, order: Order) -> str:
    return await ctx.run(charge_twice_holds, order)


def held_scenario() -> Scenario:
    return Scenario(pay_held, (Order("order-7", 1999),), functions=(charge_twice_holds,), root_id="pay",
                    invariants=(exactly_once("charge:"),))


# -- no leakage between worlds: a module-level set one world fills -------------------------------------

TAKEN: set[str] = set()


class SeatTaken(Exception):
    pass


@function(retry=Constant(delay=1, max_retries=0))
async def take_seat(seat: str) -> str:
    if seat in TAKEN:  # in production, a fresh process starts with an empty set
        raise SeatTaken(f"{seat} is taken in this process")
    TAKEN.add(seat)
    return f"took {seat}"


@function
async def book(ctx: Context, seat: str) -> str:
    return await ctx.run(take_seat, seat)


def booking_scenario(isolate: bool = True) -> Scenario:
    return Scenario(book, ("12A",), functions=(take_seat,), root_id="book", expected="took 12A", isolate=isolate)


# -- cause first: a loyalty point added twice (the cause) makes the root return 2 points (the symptom) ---


@function
async def add_point(customer: str) -> int:
    ledger().record(f"point:{customer}")  # BUG: no idempotency key, and a crash re-runs this leaf
    await trio.sleep(0.1)
    return ledger().count(f"point:{customer}")


@function
async def reward(ctx: Context, customer: str) -> int:
    return await ctx.run(add_point, customer)


def reward_scenario() -> Scenario:
    return Scenario(reward, ("ada",), functions=(add_point,), root_id="reward", outcomes=(1,),
                    invariants=(exactly_once("point:"),))


# -- a batch saga (the shape): pay every item in parallel; any payment rejected refunds the rest --


@function(retry=Constant(delay=1, max_retries=1))
async def pay_item(i: int) -> int:
    await trio.sleep(0.2)
    ledger().record(f"pay:{i}", idempotency_key=current_promise_id())
    return i


@function
async def refund_item(i: int) -> int:
    if ledger().count(f"pay:{i}"):  # the payment API refunds a payment it took; any other is a no-op
        ledger().record(f"refund:{i}", idempotency_key=f"refund-{i}")
    return i


@function
async def batch(ctx: Context, n: int) -> str:
    handles = [await ctx.run(pay_item, i).spawn() for i in range(n)]
    paid: list[int] = []
    failed = False
    for handle in handles:
        try:
            paid.append(await handle)
        except Rejected:
            failed = True
    if not failed:
        return "completed"
    # a rejected payment may still have gone through (its body ran, then a later attempt failed), so
    # every item is refunded: the extra children a fault brought about, batch.3, batch.4 and batch.5
    for i in range(n):
        await ctx.run(refund_item, i)
    return "refunded"


def refunded_what_was_paid(result: object) -> list[str]:
    from sim import RunResult

    assert isinstance(result, RunResult)
    if not result.settled or result.value == "completed":
        return []
    paid = {key.removeprefix("pay:") for key in result.ledger.counts("pay:")}
    refunded = {key.removeprefix("refund:") for key in result.ledger.counts("refund:")}
    return [f"payments not refunded: {sorted(paid - refunded)}"] if paid != refunded else []


def batch_scenario() -> Scenario:
    return Scenario(batch, (3,), functions=(pay_item, refund_item), root_id="batch", outcomes=SAGA_OUTCOMES,
                    invariants=(at_most_once("pay:"), at_most_once("refund:"), refunded_what_was_paid))
