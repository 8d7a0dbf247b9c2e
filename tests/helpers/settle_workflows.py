"""Workflows for issue 23, items 6 and 7, in simulated worlds: a workflow that settles a promise another
one waits for (``ctx.resolve``/``ctx.reject``), draws a recorded ``ctx.uuid()``, reads its root's id from
a leaf, and leaves retried by an unbounded policy bounded by time and by a per-attempt timeout. Module
level, so every process incarnation gets fresh copies."""

from __future__ import annotations

import trio

from pytest_durable import AttemptTimedOut, Constant, Context, Rejected, current_root_id, function
from sim import Scenario

from .saga_shapes import CardDeclined

# -- item 6: one workflow answers the approval another waits for -----------------------------------------


@function
async def awaits_approval(ctx: Context, approval: str) -> object:
    """The other party: waits for ``approval``, made under a name the approver knows."""
    p = await ctx.promise(timeout=600, id=approval)
    try:
        return await p
    except CardDeclined as declined:
        return f"declined {declined.code}"


@function
async def root_of() -> str | None:
    return current_root_id()


@function
async def approver(ctx: Context, decline: bool) -> object:
    """Starts the waiter as its own task, answers it once the waiter made its promise (asking the store
    through a recorded step until then), and reads a UUID and the root's id from a leaf."""
    approval = f"{ctx.id}.approval"
    waiter = await ctx.rpc(awaits_approval, approval).options(id=f"{ctx.id}.waiter").spawn()
    for _ in range(60):
        try:
            settled = (await ctx.reject(approval, CardDeclined("05", 9)) if decline
                       else await ctx.resolve(approval, {"approved": True}))
            break
        except LookupError:  # the waiter has not made its promise yet: not an error, a race to wait out
            await ctx.sleep(1)
    else:
        raise RuntimeError("the waiter never made its promise")
    token = await ctx.uuid()
    root = await ctx.run(root_of).options(id=f"{ctx.id}.named-leaf")
    return (settled, await waiter, token.version, root)


def approver_scenario(decline: bool = False) -> Scenario:
    answer = "declined 05" if decline else {"approved": True}
    return Scenario(approver, (decline,), functions=(awaits_approval, root_of), root_id="approve",
                    expected=(True, answer, 4, "approve"))


@function
async def answers_itself(ctx: Context) -> object:
    """Makes a promise, resolves it as a step, then reads it: the step's ids are fixed (approve.1 the step,
    approve.self the target), so a test can crash the world around each write."""
    p = await ctx.promise(timeout=600, id=f"{ctx.id}.self")
    settled = await ctx.resolve(f"{ctx.id}.self", "yes")
    return (settled, await p, str(await ctx.uuid()))


def answers_itself_scenario() -> Scenario:
    return Scenario(answers_itself, (), functions=(), root_id="approve")


# -- item 7: an unbounded policy bounded by time; a per-attempt timeout ---------------------------------


@function(retry=Constant(delay=2, max_retries=None, max_duration=7))
async def flaky_until_late() -> str:
    if trio.current_time() < 4:  # the service is down for the first seconds of the world
        raise ConnectionError("service down")
    return "up"


@function(retry=Constant(delay=1, max_retries=3, attempt_timeout=2))
async def hangs_first() -> str:
    if trio.current_time() < 6:  # the first attempt (at ~4 s, after flaky_until_late) meets a hung connection
        await trio.sleep(30)
    return "answered"


@function
async def polls(ctx: Context) -> object:
    try:
        first = await ctx.run(flaky_until_late)
    except ConnectionError:  # still down when max_duration ran out (faults can delay the retries past it)
        first = "down"
    except Rejected:  # the simulator's injected failures outlasted the retries
        first = "failed"
    try:
        second = await ctx.run(hangs_first)
    except AttemptTimedOut:
        second = "gave up"
    except Rejected:
        second = "failed"
    return (first, second)


def retry_bounds_scenario() -> Scenario:
    return Scenario(polls, (), functions=(flaky_until_late, hangs_first), root_id="polls",
                    outcomes=tuple((a, b) for a in ("up", "down", "failed") for b in ("answered", "failed", "gave up")))
