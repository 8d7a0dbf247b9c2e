"""``Worker.cancel`` and ``ctx.cancel`` in one process over ``MemoryStore`` (issue 25, item 4): what is
canceled, what the report says, that the worker running a canceled root stops writing, and misuse."""

from __future__ import annotations

import pytest
import trio

from pytest_durable import Canceled, Context, UsageError, function
from pytest_durable.core.records import PromiseState
from pytest_durable.sdk.cancellation import cancel_branch
from tests.helpers.worlds import new_store, new_worker, run_world

CANCELED = PromiseState.REJECTED_CANCELED


@function
async def slow(n: int) -> int:
    await trio.sleep(100 * (n % 2))
    return n


@function
async def counter(ctx: Context) -> None:
    n = 0
    while True:
        await ctx.run(slow, 0)
        await trio.sleep(1)
        n += 1


@function
async def order(ctx: Context, lines: int) -> str:
    timer = await ctx.timer(3600)
    approval = await ctx.promise(timeout=86400)
    counting = await ctx.run(counter).spawn()
    futures = [await ctx.run(slow, n).spawn() for n in range(lines)]
    for f in futures:
        await f
    await approval
    await timer
    await counting
    return "done"


def test_worker_cancel_settles_everything_below_and_fences_the_worker() -> None:
    store = new_store()

    async def main() -> tuple[str, int, int]:
        worker = new_worker(store, [order, counter, slow])
        async with worker.running():
            handle = await worker.run("o", order, 6)
            await trio.sleep(10.5)  # between two of the counter's children
            report = await worker.cancel("o")
            created = len(store.promise_map())
            await trio.sleep(50)
            with pytest.raises(Canceled):
                await handle.result()
            return report.line(), created, len(store.promise_map())

    line, created, later = run_world(main)
    promises = store.promise_map()
    # pending below o: the timer, the approval, the counter (between its children, all resolved) and the
    # 3 odd lines (the even ones resolved)
    assert line == "o canceled: 7 promises (the root, 4 children, 1 timer, 1 awaited promise)"
    assert created == later  # nothing was created after the cancel
    assert [id for id, r in promises.items() if not r.settled] == []
    assert [promises[f"o.{3 + n}"].state for n in range(6)] == [PromiseState.RESOLVED, CANCELED] * 3


def test_a_settled_promise_keeps_its_outcome_and_only_what_was_pending_below_it_is_canceled() -> None:
    store = new_store()

    async def main() -> str:
        await store.create_promise("r", "p", 1e9)
        await store.create_promise("r.0", "c", 1e9, {"durable:parent": "r"})
        await store.settle_promise("r", PromiseState.REJECTED, None)
        return (await cancel_branch(store, "r")).line()

    assert run_world(main) == "r was already rejected; canceled 1 promise (1 child) still pending below it"
    assert store.promise_map()["r"].state is PromiseState.REJECTED


@function
async def quick(n: int) -> int:
    return n


@function
async def pause(seconds: float) -> None:
    await trio.sleep(seconds)


@function
async def cancels(ctx: Context) -> tuple[bool, bool, str, int]:
    done = await ctx.run(quick, 1).spawn()
    await done
    waiting = await ctx.run(order, 4).spawn()
    await ctx.run(pause, 5)  # the order runs meanwhile: its timer, approval, counter and lines are made
    late = await ctx.cancel(done)  # it resolved first: it keeps its value
    first = await ctx.cancel(waiting)
    try:
        await waiting
    except Canceled as exc:
        said = exc.id
    else:
        said = "not canceled"
    return late, first, said, await done


def test_ctx_cancel_cancels_a_spawned_child_and_its_subtree() -> None:
    store = new_store()

    async def main() -> object:
        worker = new_worker(store, [cancels, order, counter, slow, quick, pause])
        async with worker.running():
            handle = await worker.run("c", cancels)
            return await handle.result()

    assert run_world(main) == (False, True, "c.1", 1)
    promises = store.promise_map()
    assert [id for id, r in promises.items() if not r.settled] == []
    assert promises["c.1"].state is CANCELED and promises["c.1.0"].state is CANCELED  # its timer
    assert promises["c.1.2"].state is CANCELED and promises["c.1.4"].state is CANCELED  # its counter, a line
    assert promises["c.1.3"].state is PromiseState.RESOLVED


@function
async def misuses(ctx: Context, what: str) -> str:
    try:
        await ctx.cancel(what)  # type: ignore[arg-type]
    except UsageError as exc:
        return str(exc)
    return "accepted"


def test_ctx_cancel_of_something_else_than_a_future_is_one_usage_error() -> None:
    store = new_store()

    async def main() -> object:
        worker = new_worker(store, [misuses])
        async with worker.running():
            return await (await worker.run("m", misuses, "m.0")).result()

    assert run_world(main) == ("ctx.cancel: expected a future from .spawn(), ctx.timer or ctx.promise, "
                               "got 'm.0'")
