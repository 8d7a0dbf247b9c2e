"""Bodies that misuse the event loop or the SDK but still work: a synchronous sleep, a long CPU step,
a durable call built and never awaited. Used by tests/sim/test_misuse_warnings.py."""

from __future__ import annotations

import time

from pytest_durable import Context, function
from sim import Scenario


@function
async def nap(n: int) -> int:
    time.sleep(5)  # BUG: blocks the worker's event loop; `await trio.sleep(5)` does not
    return n


@function
async def napping(ctx: Context, n: int) -> list[int]:
    return [await ctx.run(nap, i) for i in range(n)]


@function
async def spin(loops: int) -> int:
    """A CPU loop: one step of ``loops`` iterations without an await (a world's clocks are virtual, so
    the loop counts instead of reading the time)."""
    total = 0
    for i in range(loops):
        total += i % 7
    return total


@function
async def spinning(ctx: Context) -> int:
    return await ctx.run(spin, 3_000_000)


@function
async def send(n: int) -> int:
    return n


@function
async def forgets(ctx: Context, n: int) -> int:
    ctx.run(send, -1)  # BUG: built, never awaited: it never runs
    total = await ctx.run(send, n).options(timeout=60)  # handed on to a copy, which is awaited: no warning
    spawned = ctx.run(send, n + 1)
    return total + await (await spawned.spawn())


def napping_scenario() -> Scenario:
    return Scenario(napping, (2,), functions=(nap,), root_id="naps")


def spinning_scenario() -> Scenario:
    return Scenario(spinning, (), functions=(spin,), root_id="spin")


def forgets_scenario() -> Scenario:
    return Scenario(forgets, (1,), functions=(send,), root_id="forgets", expected=3)
