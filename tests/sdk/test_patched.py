"""``ctx.patched``: one workflow, changed while executions are in flight, takes the old path for those
recorded without the patch and the new path for the rest, and both keep their children's ids. Version 1
and version 2 of the workflow are two functions registered under one name, as a deploy swaps a module."""

from __future__ import annotations

import pytest
import trio

from pytest_durable import Context, PromiseState, function
from pytest_durable.core.errors import UsageError
from pytest_durable.core.store import TAG_PATCH
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live

CALLS: list[str] = []


@function
async def step(name: str) -> str:
    CALLS.append(name)
    await trio.sleep(1)
    return name


@function(name="order")
async def order_v1(ctx: Context, n: int) -> list[str]:
    done = [await ctx.run(step, f"charge {n}")]
    done.append(await ctx.run(step, f"email {n}"))
    await ctx.sleep(10)  # a crash here leaves an execution in flight past both calls
    done.append(await ctx.run(step, f"ship {n}"))
    return done


@function(name="order")
async def order_v2(ctx: Context, n: int) -> list[str]:
    done = [await ctx.run(step, f"charge {n}")]
    if await ctx.patched("refund-check"):
        done.append(await ctx.run(step, f"check {n}"))  # the new path adds a call before the email
    done.append(await ctx.run(step, f"email {n}"))
    await ctx.sleep(10)
    done.append(await ctx.run(step, f"ship {n}"))
    return done


@function(name="order")
async def order_v3(ctx: Context, n: int) -> list[str]:
    """Version 2 with the patch retired: the new path only."""
    done = [await ctx.run(step, f"charge {n}")]
    done.append(await ctx.run(step, f"check {n}"))
    done.append(await ctx.run(step, f"email {n}"))
    await ctx.sleep(10)
    done.append(await ctx.run(step, f"ship {n}"))
    return done


def test_an_execution_recorded_without_the_patch_keeps_the_old_path_and_its_ids() -> None:
    CALLS.clear()
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [order_v1, step]), "o1", order_v1, 1, at=5)
        return await recover(new_worker(store, [order_v2, step]), "o1")

    assert run_live(main) == ["charge 1", "email 1", "ship 1"]
    records = store.promise_map()
    assert [id for id in records if id.startswith("o1.")] == ["o1.0", "o1.1", "o1.2", "o1.3"]
    assert not any(TAG_PATCH in r.tags for r in records.values())  # nothing recorded for the old path
    assert CALLS == ["charge 1", "email 1", "ship 1"]  # no step ran twice, none was added


def test_a_new_execution_takes_the_new_path_and_records_a_marker_that_numbers_no_child() -> None:
    CALLS.clear()
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [order_v2, step]), "o2", order_v2, 2, at=5)
        return await recover(new_worker(store, [order_v2, step]), "o2")  # its replay finds the marker

    assert run_live(main) == ["charge 2", "check 2", "email 2", "ship 2"]
    records = store.promise_map()
    marker = records["o2.patch-refund-check"]
    assert marker.tags[TAG_PATCH] == "refund-check" and marker.state is PromiseState.RESOLVED
    assert [r.param for r in records.values() if r.id.startswith("o2.")].count(marker.param) == 1
    # The numbered children are the calls alone: charge, check, email, the timer, ship.
    assert sorted(id for id in records if id.startswith("o2.") and id[3:].isdigit()) == [
        "o2.0", "o2.1", "o2.2", "o2.3", "o2.4"]
    assert CALLS == ["charge 2", "check 2", "email 2", "ship 2"]


@function(name="order")
async def order_v1_slow_charge(ctx: Context, n: int) -> list[str]:
    await ctx.sleep(10)  # a crash here: the execution has not reached the patched point yet
    done = [await ctx.run(step, f"charge {n}")]
    done.append(await ctx.run(step, f"email {n}"))
    return done


@function(name="order")
async def order_v2_slow_charge(ctx: Context, n: int) -> list[str]:
    await ctx.sleep(10)
    done = [await ctx.run(step, f"charge {n}")]
    if await ctx.patched("refund-check"):
        done.append(await ctx.run(step, f"check {n}"))
    done.append(await ctx.run(step, f"email {n}"))
    return done


def test_an_old_execution_that_had_not_reached_the_patch_takes_the_new_path() -> None:
    CALLS.clear()
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [order_v1_slow_charge, step]), "o3", order_v1_slow_charge, 3, at=5)
        return await recover(new_worker(store, [order_v2_slow_charge, step]), "o3")

    assert run_live(main) == ["charge 3", "check 3", "email 3"]
    assert "o3.patch-refund-check" in store.promise_map()


def test_a_retired_patch_replays_executions_that_recorded_its_marker() -> None:
    CALLS.clear()
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [order_v2, step]), "o4", order_v2, 4, at=5)
        return await recover(new_worker(store, [order_v3, step]), "o4")  # the marker is asked by nobody

    assert run_live(main) == ["charge 4", "check 4", "email 4", "ship 4"]
    assert CALLS == ["charge 4", "check 4", "email 4", "ship 4"]


@function
async def asks_twice(ctx: Context) -> list[bool]:
    first = await ctx.patched("p")
    await ctx.run(step, "a")
    return [first, await ctx.patched("p")]


def test_the_first_answer_holds_for_the_whole_run() -> None:
    CALLS.clear()
    store = new_store()
    assert run_live(lambda: run_to_end(new_worker(store, [asks_twice, step]), "t", asks_twice)) == [True, True]
    assert sum(1 for id in store.promise_map() if "patch-" in id) == 1


@function(name="twice")
async def twice_v1(ctx: Context) -> list[bool]:
    await ctx.run(step, "a")
    await ctx.sleep(10)
    return []


@function(name="twice")
async def twice_v2(ctx: Context) -> list[bool]:
    first = await ctx.patched("p")  # recorded without it: False, and ...
    await ctx.run(step, "a")
    await ctx.sleep(10)
    return [first, await ctx.patched("p")]  # ... still False past the last recorded call, no marker


def test_an_old_path_stays_old_after_the_run_passes_its_last_recorded_call() -> None:
    CALLS.clear()
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [twice_v1, step]), "t2", twice_v1, at=5)
        return await recover(new_worker(store, [twice_v2, step]), "t2")

    assert run_live(main) == [False, False]
    assert not any("patch-" in id for id in store.promise_map())


@function
async def bad_patch(ctx: Context, id: object) -> bool:
    return await ctx.patched(id)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "a b", "v2.1", None])
def test_a_bad_patch_id_is_one_usage_error_naming_it(bad: object) -> None:
    store = new_store()
    with pytest.raises(UsageError, match=r"ctx.patched: id must be a non-empty str"):
        run_live(lambda: run_to_end(new_worker(store, [bad_patch]), "b", bad_patch, bad))
