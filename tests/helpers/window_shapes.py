"""The sliding-window shape and the approval-or-timeout shape, written with ``ctx.select``, each with a
buggy twin (durable functions must live at module level).

The window runs N items with at most K child workflows in flight, starting the next item when the first
of the in-flight ones finishes; after each finish it notes its progress (a leaf), so the order in which
children finish is part of what the workflow records. The buggy twin waits with ``ctx.select`` but then
takes as finished the first child in list order whose ``done`` is set: a source no record holds, so a
replay, which finds more children finished, takes another one and notes progress differently.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from pytest_durable import Context, DurableFuture, function
from pytest_durable.core.codec import decode, decode_call
from sim import RunResult, Scenario


@attrs.frozen
class Item:
    id: int
    seconds: float


@function
async def transform(item: Item) -> int:
    """The work of one item, on a worker of its own (the child workflow calls it with ``ctx.rpc``)."""
    await trio.sleep(item.seconds)
    return item.id * 10


@function
async def process_item(ctx: Context, item: Item) -> int:
    """One child workflow of the window."""
    return await ctx.rpc(transform, item)


@function
async def note_progress(item_id: int, done: int) -> int:
    """A progress note: which item finished, as the ``done``-th."""
    return item_id * 1000 + done


@function
async def sliding_window(ctx: Context, items: list[Item], k: int) -> list[int]:
    """Every item's result, in item order; at most ``k`` children in flight at a time."""
    results = [0] * len(items)
    inflight: dict[DurableFuture[int], int] = {}
    started = 0
    while started < len(items) or inflight:
        while started < len(items) and len(inflight) < k:
            inflight[await ctx.run(process_item, items[started]).spawn()] = started
            started += 1
        winner = await ctx.select(*inflight)
        i = inflight.pop(winner)
        results[i] = await winner
        await ctx.run(note_progress, items[i].id, started - len(inflight))
    return results


@function
async def sliding_window_bug(ctx: Context, items: list[Item], k: int) -> list[int]:
    """The bug: after ``ctx.select`` returns, it takes the first child in list order that is done (a
    child's progress in this run, not the recorded winner)."""
    results = [0] * len(items)
    inflight: dict[DurableFuture[int], int] = {}
    started = 0
    while started < len(items) or inflight:
        while started < len(items) and len(inflight) < k:
            inflight[await ctx.run(process_item, items[started]).spawn()] = started
            started += 1
        await ctx.select(*inflight)
        winner = next(f for f in inflight if f.done)
        i = inflight.pop(winner)
        results[i] = await winner
        await ctx.run(note_progress, items[i].id, started - len(inflight))
    return results


def window_items(n: int) -> list[Item]:
    """N items whose work takes 1 to 4 s, not in item order, so children finish out of order."""
    return [Item(i, float(1 + (i * 7) % 4)) for i in range(n)]


def at_most_k_in_flight(k: int) -> Any:
    """A scenario invariant over the root's record: between two selects at most ``k`` children started
    and not yet taken by a recorded select, and each child taken exactly once."""
    def check(result: RunResult) -> list[str]:
        children = [p for p in result.promises if p.tags.get("durable:parent") == result.root_id]
        children.sort(key=lambda p: int(p.id.rsplit(".", 1)[1]))
        inflight: set[str] = set()
        taken: list[str] = []
        broken: list[str] = []
        for p in children:
            call = decode_call(p.param)
            if call.func == "process_item":
                inflight.add(p.id)
                if len(inflight) > k:
                    broken.append(f"{p.id} started with {len(inflight) - 1} children in flight (at most {k})")
            elif call.func == "durable.select" and p.value is not None:
                winner = call.args[0][decode(p.value)]
                if winner not in inflight:
                    broken.append(f"select {p.id} took {winner}, which was not in flight")
                inflight.discard(winner)
                taken.append(winner)
        if len(taken) != len(set(taken)):
            broken.append(f"a child was taken twice: {taken}")
        return broken

    return check


def window_scenario(n: int = 6, k: int = 2, *, buggy: bool = False) -> Scenario:
    items = window_items(n)
    return Scenario(
        sliding_window_bug if buggy else sliding_window, (items, k),
        functions=(process_item, transform, note_progress), root_id="batch", workers={"default": 2},
        expected=[i * 10 for i in range(n)], invariants=(at_most_k_in_flight(k),),
    )


@function
async def approval_or_timeout(ctx: Context, seconds: float) -> str:
    """An outside party's approval raced against a durable timer: the first to settle decides."""
    approval = await ctx.promise(timeout=10 * seconds, id=f"{ctx.id}.approval")
    deadline = await ctx.timer(seconds)
    winner = await ctx.select(approval, deadline)
    if winner is deadline:
        return "timed out"
    return f"approved by {await approval}"


def approval_scenario(seconds: float = 300.0) -> Scenario:
    return Scenario(approval_or_timeout, (seconds,), root_id="req", workers={"default": 2},
                    outcomes=("approved by ann", "timed out"))


@function
async def local_or_timer(ctx: Context, item: Item, seconds: float) -> object:
    """A local leaf raced against a durable timer: a select over a local and a remote candidate, where
    the select waits for the local one and long-polls the timer at once."""
    work = await ctx.run(transform, item).spawn()
    timer = await ctx.timer(seconds)
    if await ctx.select(work, timer) is timer:
        return "late"
    return await work


def local_or_timer_scenario(seconds: float = 5.0) -> Scenario:
    return Scenario(local_or_timer, (Item(3, 3.0), seconds), functions=(transform,), root_id="race",
                    workers={"default": 2}, outcomes=(30, "late"))
