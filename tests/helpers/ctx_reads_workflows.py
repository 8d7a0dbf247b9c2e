"""Workflows that read something outside ``ctx`` in one way each, and ones that read nothing else, for
the test of ``sim.checks.ctx_only`` (durable functions must live at module level)."""

from __future__ import annotations

import random

import attrs

from pytest_durable import Context, Rejected, function

LIMIT = 3
SEEN: list[int] = []
MODE = "fast"


@attrs.frozen
class Part:
    n: int

    def doubled(self) -> int:
        return self.n * 2


@attrs.frozen
class Noisy:
    n: int

    def jitter(self) -> float:
        return self.n + random.random()


class Counter(Exception):
    hits: list[int] = []  # noqa: RUF012 (state on a class: the point of this workflow)


def helper(n: int) -> int:
    return min(n, LIMIT)


def leaky_helper(n: int) -> int:
    SEEN.append(n)
    return n


@function
async def step(n: int) -> int:
    return n


@function
async def switch_mode(mode: str) -> str:
    global MODE
    MODE = mode
    return mode


@function
async def pure(ctx: Context, n: int) -> list[int]:
    futures = [await ctx.run(step, Part(i).doubled()).spawn() for i in range(helper(n))]
    out = []
    for future in futures:
        try:
            out.append(await future)
        except Rejected:
            out.append(-1)
    return [*out, int(await ctx.random() * 0)]


@function
async def reads_a_list(ctx: Context) -> int:
    return await ctx.run(step, len(SEEN))


@function
async def through_a_helper(ctx: Context) -> int:
    return await ctx.run(step, leaky_helper(1))


@function
async def reads_a_rebound_global(ctx: Context) -> int:
    return await ctx.run(step, 1 if MODE == "fast" else 2)


@function
async def calls_a_leaf_body(ctx: Context) -> int:
    return await step(1)


@function
async def watches_progress(ctx: Context) -> int:
    future = await ctx.run(step, 1).spawn()
    return 1 if future.done else await future


@function
async def iterates_a_set(ctx: Context, part: Part) -> int:
    return sum([await ctx.run(step, n) for n in {part, Part(2)}])


@function
async def imports(ctx: Context) -> int:
    import time

    return await ctx.run(step, int(time.time()) % 2)


@function
async def reads_a_module(ctx: Context) -> int:
    return await ctx.run(step, int(random.random() * 2))


@function
async def uses_a_noisy_class(ctx: Context) -> float:
    return Noisy(1).jitter()


@function
async def counts_on_a_class(ctx: Context) -> int:
    Counter.hits.append(1)
    return len(Counter.hits)


@function
async def calls_a_local(ctx: Context) -> int:
    pick = min
    return pick(1, 2)


@function
async def reads_id(ctx: Context) -> int:
    return id(ctx) % 2


@function
async def formats_a_future(ctx: Context) -> str:
    future = await ctx.run(step, 1).spawn()
    return f"{future}"  # "<DurableFuture ... running>" in the run, "... resolved" in a replay


@function
async def formats_with_percent(ctx: Context) -> str:
    return "%s" % ctx  # noqa: UP031 (an address, whichever way it is formatted)
