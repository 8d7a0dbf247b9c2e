"""Every claim of the fan-out/fan-in design (the seed), as a named test.

The workflow fans out one durable child per item with ``ctx.run(...).spawn()`` and fans in by
awaiting the futures; a crash is a cancelled worker, recovery a new worker over the same store.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from pytest_durable import (
    Canceled,
    Context,
    JoinError,
    MemoryStore,
    Never,
    PromiseState,
    Rejected,
    TimedOut,
    function,
)
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end, run_world


@attrs.frozen
class Item:
    id: int
    seconds: float


@function
async def work(item: Item) -> str:
    await trio.sleep(item.seconds)
    return f"done {item.id}"


@function
async def fan_out(ctx: Context, items: list[Item]) -> list[str]:
    handles = [await ctx.run(work, item).spawn() for item in items]
    return [await h for h in handles]


def leaf_bodies(bodies: list[str], root: str) -> list[str]:
    return [b for b in bodies if b != root]


def test_1_crash_after_some_children_resolved_replays_them_and_runs_only_pending_ones() -> None:
    items = [Item(i, float(i)) for i in range(5)]  # child i resolves at t = i
    store = new_store()
    first: list[str] = []
    second: list[str] = []

    async def main() -> list[str]:
        await run_then_crash(new_worker(store, [fan_out, work], first), "job", fan_out, items, at=2.5)
        states = {r.id: r.state for r in store.promises()}
        assert [states[f"job.{i}"] for i in range(5)] == [PromiseState.RESOLVED] * 3 + [PromiseState.PENDING] * 2
        return await recover(new_worker(store, [fan_out, work], second), "job")  # type: ignore[no-any-return]

    assert run_world(main) == [f"done {i}" for i in range(5)]
    assert sorted(leaf_bodies(first, "job")) == [f"job.{i}" for i in range(5)]
    # After the crash the workflow runs from the top, but only the two pending children run again.
    assert second.count("job") == 1
    assert sorted(leaf_bodies(second, "job")) == ["job.3", "job.4"]


def test_2_crash_before_any_child_completed_creates_no_duplicate_promises() -> None:
    items = [Item(i, 10.0) for i in range(3)]
    store = new_store()

    async def main() -> list[str]:
        await run_then_crash(new_worker(store, [fan_out, work]), "job", fan_out, items, at=1.0)
        before = {r.id: r for r in store.promises()}
        assert all(r.state is PromiseState.PENDING for r in before.values())
        result = await recover(new_worker(store, [fan_out, work]), "job")
        after = {r.id: r for r in store.promises()}
        assert list(after) == list(before) == ["job", "job.0", "job.1", "job.2"]
        # The same promises, created once: the re-run's creates returned the existing records.
        assert all(after[i].created_on == before[i].created_on for i in before)
        assert all(after[i].tags["durable:parent"] == "job" for i in before if i != "job")
        return result  # type: ignore[no-any-return]

    assert run_world(main) == ["done 0", "done 1", "done 2"]


STORE_SEEN: list[tuple[str, PromiseState, bool]] = []
CURRENT_STORE: list[MemoryStore] = []
BODIES: list[str] = []


@function
async def spawn_and_look(ctx: Context) -> str:
    future = await ctx.run(work, Item(0, 1.0)).spawn()
    record = await CURRENT_STORE[0].get_promise(future.id)
    STORE_SEEN.append((record.id, record.state, future.id in BODIES))
    return await future


def test_3_a_spawned_childs_promise_exists_in_the_store_before_spawn_returns() -> None:
    store = new_store()
    CURRENT_STORE[:] = [store]
    STORE_SEEN.clear()
    BODIES.clear()

    async def main() -> str:
        return await run_to_end(new_worker(store, [spawn_and_look, work], BODIES), "job", spawn_and_look)  # type: ignore[no-any-return]

    assert run_world(main) == "done 0"
    # Seen right after spawn() returned: created, pending, and its body had not even started.
    assert STORE_SEEN == [("job.0", PromiseState.PENDING, False)]


@function
async def drop_child(ctx: Context) -> str:
    future = await ctx.run(work, Item(0, 5.0)).spawn()
    await trio.sleep(1.0)
    future.abort()
    return await future


def test_4_a_child_task_dropped_mid_flight_raises_join_error_and_its_promise_stays_pending() -> None:
    store = new_store()

    async def main() -> None:
        with pytest.raises(Rejected) as info:
            await run_to_end(new_worker(store, [drop_child, work]), "job", drop_child)
        assert info.value.type_name == "JoinError"
        assert info.value.message == "task job.0 was dropped"
        assert (await store.get_promise("job.0")).state is PromiseState.PENDING

    run_world(main)


@function
async def catch_drop(ctx: Context) -> str:
    future = await ctx.run(work, Item(0, 5.0)).spawn()
    future.abort()
    try:
        await future
    except JoinError as exc:
        return str(exc)
    return "not dropped"


def test_4b_the_parent_sees_join_error_itself() -> None:
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [catch_drop, work]), "job", catch_drop))
    assert result == "task job.0 was dropped"


@function(retry=Never())
async def boom(message: str) -> str:
    raise ValueError(message)


@function
async def await_boom(ctx: Context) -> tuple[str, str, str]:
    future = await ctx.run(boom, "it broke").spawn()
    try:
        await future
    except Rejected as exc:
        return (type(exc).__name__, exc.type_name, exc.message)
    return ("no error", "", "")


def test_5_a_child_that_raises_is_rejected_and_awaiting_it_raises_rejected() -> None:
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [await_boom, boom]), "job", await_boom))
    assert result == ("Rejected", "ValueError", "it broke")
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED


@function
async def await_canceled(ctx: Context) -> str:
    future = await ctx.run(work, Item(0, 5.0)).spawn()
    try:
        await future
    except Canceled as exc:
        return f"canceled {exc.id}"
    return "not canceled"


def test_5b_a_canceled_child_raises_canceled() -> None:
    store = new_store()

    async def main() -> str:
        worker = new_worker(store, [await_canceled, work])
        async with worker.running():
            handle = await worker.run("job", await_canceled)
            await trio.sleep(1.0)
            await worker.cancel("job.0")  # settled from outside while its body still runs
            return await handle.result()

    assert run_world(main) == "canceled job.0"
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED_CANCELED


@function
async def await_timed_out(ctx: Context) -> tuple[str, float]:
    future = await ctx.run(work, Item(0, 5.0)).options(timeout=1.0).spawn()
    try:
        await future
    except TimedOut as exc:
        return (f"timed out {exc.id}", await ctx.now())
    return ("not timed out", 0.0)


def test_5c_a_timed_out_child_raises_timed_out_at_its_deadline() -> None:
    store = new_store()

    async def main() -> tuple[str, float]:
        start = trio.current_time()
        message, at = await run_to_end(new_worker(store, [await_timed_out, work]), "job", await_timed_out)
        return message, at - start

    message, elapsed = run_world(main)
    assert message == "timed out job.0"
    assert elapsed < 2.0  # the body (5 s) was cut off at the 1 s deadline
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED_TIMEDOUT


@function
async def sequential(ctx: Context, items: list[Item]) -> list[str]:
    return [await ctx.run(work, item) for item in items]


@pytest.mark.parametrize(("workflow", "low", "high"), [(fan_out, 1.0, 1.5), (sequential, 10.0, 10.5)])
def test_6_spawned_children_run_concurrently_and_awaited_ones_in_sequence(workflow: object, low: float,
                                                                          high: float) -> None:
    items = [Item(i, 1.0) for i in range(10)]

    async def main() -> float:
        store = new_store()
        start = trio.current_time()
        result = await run_to_end(new_worker(store, [fan_out, sequential, work]), "job", workflow, items)  # type: ignore[arg-type]
        assert result == [f"done {i}" for i in range(10)]
        return trio.current_time() - start

    elapsed = run_world(main)
    assert low <= elapsed < high


@pytest.mark.parametrize("n", [1, 3, 100])
def test_7_variable_n_fan_out_returns_results_in_input_order(n: int) -> None:
    # Later items finish first, so completion order is the reverse of input order.
    items = [Item(i, (n - i) * 0.01) for i in range(n)]
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [fan_out, work]), "job", fan_out, items))
    assert result == [f"done {i}" for i in range(n)]
    assert [r.id for r in store.promises()] == ["job"] + [f"job.{i}" for i in range(n)]
