"""Workflows that catch the platform's own signals (and their correct twins), for the swallowed-signal check."""

from __future__ import annotations

import trio

from pytest_durable import Context, Rejected, function
from sim import Scenario, ledger


@function
async def fetch(n: int) -> int:
    await trio.sleep(0.1)
    return n


@function
async def greedy_rpc(ctx: Context) -> int:
    """BUG: ``except BaseException`` around a remote child catches the suspension that hands the task back
    while the child is pending, and goes on with a made-up value."""
    try:
        return await ctx.rpc(fetch, 1)
    except BaseException:
        return -1


@function
async def careful_rpc(ctx: Context) -> int:
    try:
        return await ctx.rpc(fetch, 1)
    except Rejected:
        return -1


@function
async def greedy_local(ctx: Context) -> int:
    """BUG: a bare ``except`` around local children catches a crash's cancellation and records a
    fallback that no crashed process would ever record."""
    total = 0
    for i in range(3):
        try:
            total += await ctx.run(fetch, i)
        except:  # noqa: E722
            ledger().record("fallback")
    return total


@function
async def impatient(ctx: Context) -> int:
    """Not a bug of this kind: its own ``trio.move_on_after`` cancels the child's wait and catches what it
    made (the platform's signals pass)."""
    with trio.move_on_after(0.05):
        return await ctx.run(fetch, 7)
    return await ctx.run(fetch, 8)


def scenario(workflow: object) -> Scenario:
    return Scenario(workflow, (), functions=(fetch,), root_id="g")  # type: ignore[arg-type]
