"""The programming model and the execution rules (docs/architecture.md), feature by feature.

rpc children and suspension, durable timers, external promises, recorded randomness and time, leaf
retries, nested workflows, explicit ids, deadlines, joining spawned children on error, and fencing of
zombie writers. Everything runs under trio's MockClock, so "seconds" are virtual.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio

from pytest_durable import (
    Constant,
    Context,
    Exponential,
    Fenced,
    Linear,
    MemoryStore,
    Never,
    PromiseState,
    Rejected,
    RemoteFuture,
    TaskState,
    TimedOut,
    function,
)
from pytest_durable.core import Fence
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end, run_world

CURRENT_STORE: list[MemoryStore] = []
SEEN: list[Any] = []


def parent_task_state() -> TaskState:
    return {t.id: t.state for t in CURRENT_STORE[0].tasks()}["job"]


# -- rpc ----------------------------------------------------------------------------------------------


@function
async def remote_leaf(x: int) -> int:
    await trio.sleep(1.0)
    SEEN.append(("parent task while child runs", parent_task_state()))
    await trio.sleep(2.0)
    return x + 100


@function
async def calls_remote(ctx: Context, x: int) -> int:
    return await ctx.rpc(remote_leaf, x)


@function
async def spawns_remote(ctx: Context) -> tuple[bool, int]:
    future = await ctx.rpc(remote_leaf, 1).spawn()
    return (isinstance(future, RemoteFuture), await future)


@function
async def calls_remote_by_name(ctx: Context) -> int:
    return await ctx.rpc("remote_leaf", 5)


@function
async def calls_other_group(ctx: Context) -> int:
    return await ctx.rpc(remote_leaf, 7).options(target="other")


def test_awaiting_an_rpc_child_suspends_the_parent_and_resumes_it_with_the_value() -> None:
    store = new_store()
    CURRENT_STORE[:] = [store]
    SEEN.clear()
    bodies: list[str] = []

    async def main() -> int:
        return await run_to_end(new_worker(store, [calls_remote, remote_leaf], bodies), "job", calls_remote, 1)  # type: ignore[no-any-return]

    assert run_world(main) == 101
    assert SEEN == [("parent task while child runs", TaskState.SUSPENDED)]
    assert bodies.count("job") == 2  # ran once to the rpc, once more after it settled
    assert bodies.count("job.0") == 1
    tasks = {t.id: t for t in store.tasks()}
    assert tasks["job.0"].state is TaskState.FULFILLED
    assert tasks["job"].state is TaskState.FULFILLED
    child = store.promise_map()["job.0"]
    assert child.tags["durable:scope"] == "global"
    assert child.tags["durable:parent"] == "job"


def test_rpc_spawn_returns_a_remote_future() -> None:
    store = new_store()
    CURRENT_STORE[:] = [store]
    SEEN.clear()
    result = run_world(lambda: run_to_end(new_worker(store, [spawns_remote, remote_leaf]), "job", spawns_remote))
    assert result == (True, 101)


def test_rpc_by_registered_name() -> None:
    store = new_store()
    CURRENT_STORE[:] = [store]
    SEEN.clear()
    bodies: list[str] = []
    result = run_world(
        lambda: run_to_end(new_worker(store, [calls_remote_by_name, remote_leaf], bodies), "job", calls_remote_by_name)
    )
    assert result == 105
    assert bodies.count("job.0") == 1


def test_rpc_with_a_target_runs_only_on_a_worker_of_that_group() -> None:
    store = new_store()
    CURRENT_STORE[:] = [store]
    SEEN.clear()
    main_bodies: list[str] = []
    other_bodies: list[str] = []

    async def main() -> int:
        home = new_worker(store, [calls_other_group, remote_leaf], main_bodies, id="w-home")
        other = new_worker(store, [remote_leaf], other_bodies, group="other", id="w-other")
        async with home.running():
            handle = await home.run("job", calls_other_group)
            await trio.sleep(20)  # no worker of group "other" yet: the child waits, never runs at home
            assert main_bodies == ["job"]
            assert (await store.get_task("job.0")).state is TaskState.PENDING
            assert (await store.get_task("job.0")).target == "other"
            async with other.running():
                return await handle.result()

    assert run_world(main) == 107
    assert "job.0" not in main_bodies
    assert other_bodies == ["job.0"]
    assert main_bodies == ["job", "job"]


# -- durable timers -----------------------------------------------------------------------------------


@function
async def sleeper(ctx: Context) -> str:
    await ctx.sleep(10)
    return "woke"


def test_ctx_sleep_completes_no_earlier_than_its_duration() -> None:
    store = new_store()

    async def main() -> tuple[str, float]:
        start = trio.current_time()
        result = await run_to_end(new_worker(store, [sleeper]), "job", sleeper)
        return result, trio.current_time() - start

    result, elapsed = run_world(main)
    assert result == "woke"
    assert 10.0 <= elapsed < 11.0
    timer = store.promise_map()["job.0"]
    assert timer.tags["durable:timer"] == "true"
    assert timer.state is PromiseState.RESOLVED


def test_a_crash_during_ctx_sleep_does_not_restart_the_timer() -> None:
    store = new_store()
    bodies: list[str] = []

    async def main() -> tuple[str, float]:
        start = trio.current_time()
        await run_then_crash(new_worker(store, [sleeper]), "job", sleeper, at=6.0)
        timer_before = store.promise_map()["job.0"]
        assert timer_before.state is PromiseState.PENDING
        result = await recover(new_worker(store, [sleeper], bodies), "job")
        timer_after = store.promise_map()["job.0"]
        assert timer_after.created_on == timer_before.created_on
        assert timer_after.timeout_at == timer_before.timeout_at == start + 10.0
        return result, trio.current_time() - start

    result, elapsed = run_world(main)
    assert result == "woke"
    # The timer still fires 10 s after the first run made it; a restarted one would end at >= 16 s.
    assert 10.0 <= elapsed < 11.0
    assert [r.id for r in store.promises()] == ["job", "job.0"]
    assert bodies == ["job"]  # the recovered worker only ran the wake-up replay


# -- external promises --------------------------------------------------------------------------------


@function
async def waits_for_approval(ctx: Context) -> object:
    p = await ctx.promise(timeout=60)
    try:
        return await p
    except TimedOut as exc:
        return f"timed out {exc.id}"
    except Rejected as exc:
        return (type(exc).__name__, exc.type_name, exc.message)


@pytest.mark.parametrize(
    ("settle", "expected"),
    [("resolve", {"approved": True}), ("reject", ("Rejected", "ValueError", "no"))],
)
def test_ctx_promise_waits_until_it_is_settled_from_outside(settle: str, expected: object) -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        worker = new_worker(store, [waits_for_approval])
        async with worker.running():
            start = trio.current_time()
            handle = await worker.run("job", waits_for_approval)
            await trio.sleep(5)
            assert (await store.get_promise("job")).state is PromiseState.PENDING
            assert (await store.get_task("job")).state is TaskState.SUSPENDED
            if settle == "resolve":
                await worker.resolve("job.0", {"approved": True})
            else:
                await worker.reject("job.0", ValueError("no"))
            result = await handle.result()
            return result, trio.current_time() - start

    result, elapsed = run_world(main)
    assert result == expected
    assert 5.0 <= elapsed < 6.0


def test_ctx_promise_never_settled_times_out_after_its_timeout() -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        start = trio.current_time()
        result = await run_to_end(new_worker(store, [waits_for_approval]), "job", waits_for_approval)
        return result, trio.current_time() - start

    result, elapsed = run_world(main)
    assert result == "timed out job.0"
    assert 60.0 <= elapsed < 61.0
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED_TIMEDOUT


# -- recorded random and now --------------------------------------------------------------------------


@function
async def draws_then_works(ctx: Context) -> tuple[float, float]:
    r = await ctx.random()
    t = await ctx.now()
    SEEN.append((r, t))
    await ctx.run(slow_leaf, 5.0)
    return (r, t)


@function
async def slow_leaf(seconds: float) -> float:
    await trio.sleep(seconds)
    return seconds


@function
async def draws_twice(ctx: Context) -> tuple[float, float]:
    return (await ctx.random(), await ctx.random())


def test_random_and_now_are_recorded_once_and_replayed_after_a_crash() -> None:
    store = new_store()
    SEEN.clear()

    async def main() -> tuple[float, float]:
        await trio.sleep(3.0)  # so that "now" in the first run is not 0
        first = new_worker(store, [draws_then_works, slow_leaf], rng=random.Random(1).random)
        await run_then_crash(first, "job", draws_then_works, at=2.0)
        second = new_worker(store, [draws_then_works, slow_leaf], rng=random.Random(2).random)
        return await recover(second, "job")  # type: ignore[no-any-return]

    result = run_world(main)
    expected = (random.Random(1).random(), 3.0)
    assert result == expected
    seen = list(SEEN)
    assert seen == [expected, expected]  # the replay saw the recorded draw and time, not new ones
    records = store.promise_map()
    assert [records[i].param for i in ("job.0", "job.1")] == [
        '{"func":"durable.random","args":[],"kwargs":{}}', '{"func":"durable.now","args":[],"kwargs":{}}'
    ]


def test_two_draws_in_one_run_are_two_recorded_children() -> None:
    store = new_store()
    result = run_world(
        lambda: run_to_end(new_worker(store, [draws_twice], rng=random.Random(7).random), "job", draws_twice)
    )
    rng = random.Random(7)
    assert result == (rng.random(), rng.random())
    assert result[0] != result[1]
    children = [r for r in store.promises() if r.id != "job"]
    assert [r.id for r in children] == ["job.0", "job.1"]
    assert [float(r.value) for r in children if r.value is not None] == list(result)


# -- retries ------------------------------------------------------------------------------------------

ATTEMPTS: list[float] = []


@function(retry=Constant(delay=1, max_retries=3))
async def flaky(fail_times: int) -> str:
    ATTEMPTS.append(trio.current_time())
    if len(ATTEMPTS) <= fail_times:
        raise RuntimeError(f"attempt {len(ATTEMPTS)} failed")
    return f"ok after {len(ATTEMPTS)}"


@function(retry=Never())
async def fails_once_never_retried() -> str:
    ATTEMPTS.append(trio.current_time())
    raise RuntimeError("no second chance")


@function
async def calls_flaky(ctx: Context, fail_times: int, override: bool) -> object:
    builder = ctx.run(flaky, fail_times)
    if override:
        builder = builder.options(retry=Never())
    try:
        return await builder
    except Rejected as exc:
        return (exc.type_name, exc.message)


@function
async def calls_never(ctx: Context) -> object:
    try:
        return await ctx.run(fails_once_never_retried)
    except Rejected as exc:
        return (exc.type_name, exc.message)


def test_a_leaf_that_fails_twice_then_succeeds_is_retried_by_its_policy() -> None:
    store = new_store()
    ATTEMPTS.clear()
    bodies: list[str] = []
    result = run_world(lambda: run_to_end(new_worker(store, [calls_flaky, flaky], bodies), "job", calls_flaky, 2,
                                          False))
    assert result == "ok after 3"
    assert bodies.count("job.0") == 3
    assert [b - ATTEMPTS[0] for b in ATTEMPTS] == pytest.approx([0.0, 1.0, 2.0])
    assert store.promise_map()["job.0"].state is PromiseState.RESOLVED


def test_a_leaf_with_never_is_rejected_after_one_attempt() -> None:
    store = new_store()
    ATTEMPTS.clear()
    result = run_world(lambda: run_to_end(new_worker(store, [calls_never, fails_once_never_retried]), "job",
                                          calls_never))
    assert result == ("RuntimeError", "no second chance")
    assert len(ATTEMPTS) == 1
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED


def test_retry_never_on_ctx_run_overrides_the_functions_policy() -> None:
    store = new_store()
    ATTEMPTS.clear()
    result = run_world(lambda: run_to_end(new_worker(store, [calls_flaky, flaky]), "job", calls_flaky, 2, True))
    assert result == ("RuntimeError", "attempt 1 failed")
    assert len(ATTEMPTS) == 1


def test_a_leaf_out_of_retries_is_rejected_with_its_last_error() -> None:
    store = new_store()
    ATTEMPTS.clear()
    result = run_world(lambda: run_to_end(new_worker(store, [calls_flaky, flaky]), "job", calls_flaky, 10, False))
    assert result == ("RuntimeError", "attempt 4 failed")  # 1 attempt + max_retries=3
    assert len(ATTEMPTS) == 4


def test_retry_policy_delays() -> None:
    exp = Exponential(delay=1, factor=2, max_retries=6, max_delay=10)
    assert [exp.delay_before(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, None]
    assert [Linear(delay=2, max_retries=3).delay_before(n) for n in range(1, 5)] == [2.0, 4.0, 6.0, None]
    assert [Constant(delay=0.5, max_retries=2).delay_before(n) for n in range(1, 4)] == [0.5, 0.5, None]
    assert Never().delay_before(1) is None
    default = Exponential()
    assert [default.delay_before(n) for n in range(1, 5)] == [1.0, 2.0, 4.0, None]


# -- nested workflows ---------------------------------------------------------------------------------


@function
async def inner(ctx: Context) -> list[float]:
    a = await ctx.run(slow_leaf, 1.0)
    b = await ctx.run(slow_leaf, 5.0)
    return [a, b]


@function
async def outer(ctx: Context) -> list[float]:
    return await ctx.run(inner)


def test_a_child_workflow_numbers_its_children_under_its_own_id_and_replays_them_after_a_crash() -> None:
    store = new_store()
    first: list[str] = []
    second: list[str] = []

    async def main() -> list[float]:
        await run_then_crash(new_worker(store, [outer, inner, slow_leaf], first), "job", outer, at=3.0)
        states = {r.id: r.state for r in store.promises()}
        assert states == {"job": PromiseState.PENDING, "job.0": PromiseState.PENDING,
                          "job.0.0": PromiseState.RESOLVED, "job.0.1": PromiseState.PENDING}
        return await recover(new_worker(store, [outer, inner, slow_leaf], second), "job")  # type: ignore[no-any-return]

    assert run_world(main) == [1.0, 5.0]
    assert first == ["job", "job.0", "job.0.0", "job.0.1"]
    assert second.count("job.0.0") == 0  # resolved grandchild replayed, not re-run
    assert sorted(second) == ["job", "job.0", "job.0.1"]
    assert store.promise_map()["job.0.1"].tags["durable:parent"] == "job.0"
    assert store.promise_map()["job.0"].tags["durable:parent"] == "job"


# -- explicit ids -------------------------------------------------------------------------------------


@function
async def uses_custom_id(ctx: Context) -> list[float]:
    a = await ctx.run(slow_leaf, 1.0).options(id="custom-id")
    b = await ctx.run(slow_leaf, 5.0)
    return [a, b]


def test_options_id_gives_the_child_that_id_and_it_is_replayed_by_it() -> None:
    store = new_store()
    first: list[str] = []
    second: list[str] = []

    async def main() -> list[float]:
        await run_then_crash(new_worker(store, [uses_custom_id, slow_leaf], first), "job", uses_custom_id, at=3.0)
        assert store.promise_map()["custom-id"].state is PromiseState.RESOLVED
        return await recover(new_worker(store, [uses_custom_id, slow_leaf], second), "job")  # type: ignore[no-any-return]

    assert run_world(main) == [1.0, 5.0]
    custom = store.promise_map()["custom-id"]
    assert custom.tags["durable:parent"] == "job"
    assert "custom-id" in first
    assert "custom-id" not in second
    assert len(store.promises()) == 3


# -- deadlines ----------------------------------------------------------------------------------------


@function
async def inner_deadlines(ctx: Context) -> None:
    await ctx.run(slow_leaf, 0.0).options(timeout=1000)


@function
async def deadlines(ctx: Context) -> None:
    await ctx.run(slow_leaf, 0.0).options(timeout=1000)  # job.0: capped by the root's 100 s
    await ctx.run(slow_leaf, 0.0).options(timeout=5)  # job.1: now + 5
    await ctx.run(inner_deadlines).options(timeout=50)  # job.2: now + 50; its child capped by it
    await ctx.run(slow_leaf, 0.0)  # job.3: no timeout, inherits the root's
    p = await ctx.promise(timeout=1000)  # job.4: capped by the root's
    await ctx.rpc(slow_leaf, 0.0).options(timeout=1000).spawn()  # job.5: capped by the root's
    del p


def test_a_childs_deadline_is_the_earlier_of_its_timeout_and_its_parents_deadline() -> None:
    store = new_store()

    async def main() -> float:
        start = trio.current_time()
        await run_to_end(new_worker(store, [deadlines, inner_deadlines, slow_leaf], root_timeout=100), "job",
                         deadlines)
        return start

    start = run_world(main)
    r = store.promise_map()
    root_deadline = r["job"].timeout_at
    assert root_deadline == pytest.approx(start + 100)
    assert r["job.0"].timeout_at == root_deadline
    assert r["job.1"].timeout_at == pytest.approx(r["job.1"].created_on + 5)
    assert r["job.2"].timeout_at == pytest.approx(r["job.2"].created_on + 50)
    assert r["job.2.0"].timeout_at == r["job.2"].timeout_at
    assert r["job.3"].timeout_at == root_deadline
    assert r["job.4"].timeout_at == root_deadline
    assert r["job.5"].timeout_at == root_deadline
    for record in store.promises():
        parent = record.tags.get("durable:parent")
        if parent is not None:
            assert record.timeout_at <= r[parent].timeout_at, record.id


# -- errors and joining -------------------------------------------------------------------------------


@function
async def raises_after_spawning(ctx: Context) -> None:
    await ctx.run(slow_leaf, 5.0).spawn()
    await ctx.run(slow_leaf, 3.0).spawn()
    raise ValueError("bad input")


def test_a_workflow_that_raises_is_rejected_after_joining_its_spawned_children() -> None:
    store = new_store()

    async def main() -> Rejected:
        with pytest.raises(Rejected) as info:
            await run_to_end(new_worker(store, [raises_after_spawning, slow_leaf]), "job", raises_after_spawning)
        return info.value

    error = run_world(main)
    assert error.type_name == "ValueError"
    assert error.message == "bad input"
    assert error.id == "job"
    r = store.promise_map()
    assert r["job"].state is PromiseState.REJECTED
    assert r["job.0"].state is PromiseState.RESOLVED
    assert r["job.1"].state is PromiseState.RESOLVED
    assert r["job.0"].settled_on is not None and r["job"].settled_on is not None
    assert r["job.0"].settled_on <= r["job"].settled_on
    assert {t.id: t.state for t in store.tasks()} == {"job": TaskState.FULFILLED}


# -- fencing ------------------------------------------------------------------------------------------


def test_a_zombie_whose_lease_expired_cannot_write() -> None:
    store = new_store()

    async def main() -> None:
        await store.create_promise("job", '{"func":"f","args":[],"kwargs":{}}', 1000.0, {}, target="g")
        zombie = await store.acquire_task("job", "zombie", ttl=1)
        await trio.sleep(2)
        successor = await store.acquire_task("job", "successor", ttl=30)
        assert successor.version > zombie.version
        assert successor.lease_owner == "successor"
        old = Fence("job", zombie.version)
        writes = [
            store.create_promise("job.0", '{"func":"f","args":[],"kwargs":{}}', 1000.0,
                                 {"durable:parent": "job"}, fence=old),
            store.settle_promise("job", PromiseState.RESOLVED, "1", fence=old),
            store.fulfill_task(old, PromiseState.RESOLVED, "1"),
            store.suspend_task(old, ["job"]),
            store.heartbeat_task(old),
            store.release_task(old),
        ]
        for write in writes:
            with pytest.raises(Fenced) as info:
                await write
            assert info.value.task_id == "job"
            assert info.value.version == zombie.version
        assert [r.id for r in store.promises()] == ["job"]
        assert (await store.get_promise("job")).state is PromiseState.PENDING
        task = await store.get_task("job")
        assert (task.state, task.lease_owner, task.version) == (TaskState.ACQUIRED, "successor", successor.version)
        # The current holder can still write.
        new = Fence("job", successor.version)
        settled = await store.fulfill_task(new, PromiseState.RESOLVED, "2")
        assert settled.value == "2"

    run_world(main)


def test_a_zombie_is_fenced_even_before_anyone_else_acquires_the_task() -> None:
    store = new_store()

    async def main() -> None:
        await store.create_promise("job", '{"func":"f","args":[],"kwargs":{}}', 1000.0, {}, target="g")
        zombie = await store.acquire_task("job", "zombie", ttl=1)
        await trio.sleep(2)
        with pytest.raises(Fenced):
            await store.settle_promise("job", PromiseState.RESOLVED, "1", fence=Fence("job", zombie.version))
        assert (await store.get_task("job")).state is TaskState.PENDING
        assert (await store.get_promise("job")).state is PromiseState.PENDING

    run_world(main)
