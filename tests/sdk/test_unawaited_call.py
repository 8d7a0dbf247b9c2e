"""A durable call built and never awaited is one warning naming it and its workflow, on a real worker too
(the frame notes each builder until it starts and looks when the body returns: no garbage collector)."""

from __future__ import annotations

import warnings

from pytest_durable import Context, UnawaitedCallWarning, function
from pytest_durable.core import misuse
from tests.helpers.worlds import new_store, new_worker, run_to_end, run_world


@function
async def add_one(x: int) -> int:
    return x + 1


@function
async def forgets_one(ctx: Context, x: int) -> int:
    ctx.rpc(add_one, x)  # never started: the child never exists
    ctx.detach(add_one, x)  # nor this one
    built = ctx.run(add_one, x)
    return await built.options(timeout=30)  # a copy started: the original is not said


@function
async def awaits_all(ctx: Context, x: int) -> int:
    first = ctx.run(add_one, x)
    return await first + await (await ctx.run(add_one, x).spawn())


def test_a_worker_says_a_call_never_started_once_and_the_workflow_still_ends() -> None:
    misuse.forget()
    store = new_store()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [run_world(lambda i=i: run_to_end(new_worker(store, [forgets_one, add_one]), f"r{i}",  # type: ignore[misc]
                                                    forgets_one, i)) for i in range(3)]
        assert run_world(lambda: run_to_end(new_worker(store, [awaits_all, add_one]), "ok", awaits_all, 1)) == 4
    misuse.forget()
    assert values == [1, 2, 3]
    said = [str(w.message) for w in caught if issubclass(w.category, UnawaitedCallWarning)]
    assert said == ["durable: ctx.rpc(add_one, ...) in workflow forgets_one was built but never awaited, so it "
                    "never ran; write `await ctx.rpc(add_one, ...)`, or `await ctx.rpc(add_one, ...).spawn()` to "
                    "run it beside the body",
                    "durable: ctx.detach(add_one, ...) in workflow forgets_one was built but never awaited, so it "
                    "never ran; write `await ctx.detach(add_one, ...)`"]
    assert [r.id for r in store.promises() if r.id.startswith("r0.")] == ["r0.0"]  # the rpc made no child
