"""Workflows whose bugs only a crash in production shows: process memory, wall-clock reads, str hash
order (issue 8, items 8, 9 and 12); each with its correct twin. Used by tests/sim/test_fidelity.py."""

from __future__ import annotations

import itertools
import sys
import time

import trio

from pytest_durable import Context, function
from sim import Scenario, exactly_once, ledger

# -- item 8: module-level state is process memory -----------------------------------------------------

_CHARGED: set[str] = set()  # BUG when used as a guard: a crashed process forgets it


@function
async def reserve(order: str) -> str:
    await trio.sleep(0.5)
    return f"reserved {order}"


@function
async def charge_guarded(order: str) -> str:
    if order not in _CHARGED:  # BUG: "already charged" lives in process memory
        ledger().record(f"charge:{order}")
        _CHARGED.add(order)
    await trio.sleep(0.5)  # the payment API's answer takes a while
    return f"charged {order}"


@function
async def charge_keyed(order: str) -> str:
    ledger().record(f"charge:{order}", idempotency_key=f"charge-{order}")  # the payment API deduplicates
    await trio.sleep(0.5)
    return f"charged {order}"


@function
async def checkout_guarded(ctx: Context, order: str) -> list[str]:
    return [await ctx.run(reserve, order), await ctx.run(charge_guarded, order)]


@function
async def checkout_keyed(ctx: Context, order: str) -> list[str]:
    return [await ctx.run(reserve, order), await ctx.run(charge_keyed, order)]


def guarded_charge() -> Scenario:
    return Scenario(checkout_guarded, ("order-7",), functions=(reserve, charge_guarded), root_id="checkout",
                    invariants=(exactly_once("charge:"),))


def keyed_charge() -> Scenario:
    return Scenario(checkout_keyed, ("order-7",), functions=(reserve, charge_keyed), root_id="checkout",
                    invariants=(exactly_once("charge:"),))


#: One per (fresh) copy of this module: which copy a leaf ran in. Numbered from a counter kept on
#: ``sys`` (shared by every copy), not ``id(object())``: an id is reused once an old copy is collected.
_TOKEN = next(sys.__dict__.setdefault("_durable_fidelity_tokens", itertools.count()))


@function
async def whose_memory(i: int) -> int:
    ledger().record(f"token {_TOKEN}")
    await trio.sleep(0.5)
    return i


@function
async def spread(ctx: Context, n: int) -> list[int]:
    futures = [await ctx.rpc(whose_memory, i).spawn() for i in range(n)]
    return [await f for f in futures]


def spread_scenario() -> Scenario:
    return Scenario(spread, (8,), functions=(whose_memory,), root_id="spread")


# -- item 12: wall-clock reads in a workflow body -----------------------------------------------------

QUOTE_VALID = 5.0  # seconds a price quote stays valid


@function
async def quote(order: str) -> tuple[int, float]:
    await trio.sleep(0.5)
    return (1999, time.time())  # a leaf's result is recorded: reading the clock here is fine


@function
async def confirm(order: str, price: int) -> int:
    await trio.sleep(0.5)
    return price


@function
async def requote(order: str, price: int) -> int:
    await trio.sleep(0.5)
    return price


@function
async def pay_wallclock(ctx: Context, order: str) -> int:
    price, quoted_at = await ctx.run(quote, order)
    if time.time() - quoted_at > QUOTE_VALID:  # BUG: re-read on every replay, hours later after a crash
        return await ctx.run(requote, order, price)
    return await ctx.run(confirm, order, price)


@function
async def pay_recorded(ctx: Context, order: str) -> int:
    price, quoted_at = await ctx.run(quote, order)
    if await ctx.now() - quoted_at > QUOTE_VALID:  # recorded once: a replay takes the same branch
        return await ctx.run(requote, order, price)
    return await ctx.run(confirm, order, price)


def wallclock_quote() -> Scenario:
    return Scenario(pay_wallclock, ("order-9",), functions=(quote, confirm, requote), root_id="pay",
                    expected=1999)


def recorded_quote() -> Scenario:
    return Scenario(pay_recorded, ("order-9",), functions=(quote, confirm, requote), root_id="pay",
                    expected=1999)


# -- item 9: str hash order ---------------------------------------------------------------------------

CUSTOMERS = ("ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal")


@function
async def notify(name: str) -> str:
    await trio.sleep(0.1)
    return f"told {name}"


@function
async def notify_set(ctx: Context) -> int:
    for name in set(CUSTOMERS):  # BUG: the order depends on PYTHONHASHSEED
        await ctx.run(notify, name)
    return len(CUSTOMERS)


@function
async def notify_sorted(ctx: Context) -> int:
    for name in sorted(set(CUSTOMERS)):
        await ctx.run(notify, name)
    return len(CUSTOMERS)


def set_order() -> Scenario:
    return Scenario(notify_set, (), functions=(notify,), root_id="notify")


def sorted_order() -> Scenario:
    return Scenario(notify_sorted, (), functions=(notify,), root_id="notify")


@function
async def read_clocks() -> tuple[float, float, str, float]:
    import datetime
    from time import monotonic

    now = datetime.datetime.now(datetime.UTC)
    assert isinstance(now, datetime.datetime)
    return (time.time(), now.timestamp(), datetime.date.today().isoformat(), monotonic())


@function
async def clocks_later(ctx: Context) -> tuple[float, float, str, float]:
    await ctx.sleep(30.0)
    return await ctx.run(read_clocks)


def clocks_scenario() -> Scenario:
    return Scenario(clocks_later, (), functions=(read_clocks,), root_id="clocks")
