"""Scenarios shared by the simulator's tests (durable functions must live at module level)."""

from __future__ import annotations

import attrs
import trio

from pytest_durable import Context, Never, Rejected, function
from sim import Scenario, at_most_once, ledger


@attrs.frozen
class Item:
    id: int


@function
async def leaf(item: Item) -> int:
    await trio.sleep(0.5)
    return item.id * 2


@function
async def fan_out(ctx: Context, n: int) -> list[int]:
    handles = [await ctx.run(leaf, Item(i)).spawn() for i in range(n)]
    return [await h for h in handles]


def fan_out_scenario(n: int = 5, *, workers: int = 2) -> Scenario:
    return Scenario(fan_out, (n,), functions=(leaf,), root_id="job", workers={"default": workers},
                    expected=[i * 2 for i in range(n)])


@function
async def remote_pipeline(ctx: Context, n: int) -> int:
    """rpc children (their own tasks), a durable timer and a recorded random number."""
    total = 0
    for i in range(n):
        total += await ctx.rpc(leaf, Item(i))
    await ctx.sleep(2.0)
    draw = await ctx.random()
    return total + (0 if 0 <= draw < 1 else -1)


def remote_scenario(n: int = 3, *, workers: int = 2) -> Scenario:
    return Scenario(remote_pipeline, (n,), functions=(leaf,), root_id="pipe", workers={"default": workers},
                    expected=sum(i * 2 for i in range(n)))


@function
async def coin_flip(ctx: Context) -> int:
    """A bug: the workflow reads random.random() directly instead of ctx.random()."""
    import random

    if random.random() < 0.5:
        return await ctx.run(leaf, Item(1))
    return await ctx.run(leaf, Item(2))


def random_scenario() -> Scenario:
    return Scenario(coin_flip, (), functions=(leaf,), root_id="flip")


_RUNS = [0]


@function
async def grows_each_run(ctx: Context) -> int:
    """A bug: the fan-out width depends on state outside the world (a module-level counter), so no
    two runs of one world are the same."""
    _RUNS[0] += 1
    handles = [await ctx.run(leaf, Item(i)).spawn() for i in range(1 + _RUNS[0] % 4)]
    return sum([await h for h in handles])


def growing_scenario() -> Scenario:
    # isolate=False: the counter is meant to be state outside the world that leaks from run to run
    # (with isolation each process incarnation would start from a fresh counter)
    return Scenario(grows_each_run, (), functions=(leaf,), root_id="grow", isolate=False)


@function
async def nap(ctx: Context, seconds: float) -> int:
    """A durable timer, then one leaf: the world is idle for ``seconds`` in between."""
    await ctx.sleep(seconds)
    return await ctx.run(leaf, Item(1))


def sleeping_scenario(seconds: float) -> Scenario:
    return Scenario(nap, (seconds,), functions=(leaf,), root_id="nap", expected=2)


@function(retry=Never())
async def charge_card(order: str) -> str:
    ledger().record(f"charge:{order}", idempotency_key=f"charge-{order}")
    return f"charged {order}"


@function
async def refund_unkeyed(order: str) -> str:
    ledger().record(f"refund:{order}")  # BUG: no key, and the leaf may stop right after it
    await trio.sleep(0.1)  # the bank confirms the refund
    return f"refunded {order}"


@function
async def refund_keyed(order: str) -> str:
    ledger().record(f"refund:{order}", idempotency_key=f"refund-{order}")
    await trio.sleep(0.1)
    return f"refunded {order}"


@function
async def compensating_checkout(ctx: Context, order: str, keyed: bool) -> str:
    """A charge that is never retried; when it fails, a refund compensates. The refund's bug (an effect
    without a key before an await) shows only when a crash lands in the compensation, a path only a
    rejected charge opens: two faults at two exact points."""
    try:
        return await ctx.run(charge_card, order)
    except Rejected:
        return await ctx.run(refund_keyed if keyed else refund_unkeyed, order)


def compensation_scenario(*, keyed: bool) -> Scenario:
    return Scenario(compensating_checkout, ("order-9", keyed), functions=(charge_card, refund_unkeyed, refund_keyed),
                    root_id="saga", invariants=(at_most_once("refund:"), at_most_once("charge:")))
