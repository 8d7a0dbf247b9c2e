"""``ctx.select``: the first of several children to settle, recorded once (docs/architecture.md, "The
programming model"), with real workers over the reference store and over SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from pytest_durable import Context, DurableFuture, Never, Rejected, RemoteFuture, UsageError, function
from pytest_durable.core import WallClock
from pytest_durable.core.codec import decode, decode_call
from pytest_durable.core.records import PromiseState, TaskState
from pytest_durable.live import SqliteStore
from pytest_durable.sdk import Worker
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end, run_world


@function(retry=Never())
async def work(seconds: float, fails: bool = False) -> float:
    await trio.sleep(seconds)
    if fails:
        raise ValueError(f"work {seconds} failed")
    return seconds


def selects(store: Any, root: str = "job") -> list[tuple[list[str], int]]:
    """Every select ``root`` recorded, in order: (the candidate ids, the winner's position, -1 while none
    is written)."""
    out = []
    for p in store.promises():
        call = decode_call(p.param)
        if call.func == "durable.select" and p.tags.get("durable:parent") == root:
            out.append((list(call.args[0]), decode(p.value) if p.value is not None else -1))
    return out


@function
async def race(ctx: Context, local: list[float], remote: list[float]) -> list[tuple[str, object]]:
    """Spawn local and rpc children, then select over what is left until every one is taken; each
    winner's outcome (value or error's type) is listed in the order they won."""
    rest: list[DurableFuture[float] | RemoteFuture[float]] = []
    for s in local:
        rest.append(await ctx.run(work, s, s < 0.5).spawn())
    for s in remote:
        rest.append(await ctx.rpc(work, s).spawn())
    out: list[tuple[str, object]] = []
    while rest:
        winner = await ctx.select(*rest)
        rest.remove(winner)
        try:
            out.append((winner.id, await winner))
        except Rejected as exc:
            out.append((winner.id, exc.type_name))
    return out


def test_select_returns_the_first_to_settle_and_the_losers_stay_usable() -> None:
    store = new_store()
    value = run_world(lambda: run_to_end(new_worker(store, [race, work]), "job", race, [3.0, 0.25], [1.0, 5.0]))
    # job.0 takes 3 s, job.1 fails at 0.25 s (a rejected child wins like any other), job.2 (rpc) 1 s,
    # job.3 (rpc) 5 s: the order they settle in, each read once after winning.
    assert value == [("job.1", "ValueError"), ("job.2", 1.0), ("job.0", 3.0), ("job.3", 5.0)]
    assert selects(store) == [
        (["job.0", "job.1", "job.2", "job.3"], 1), (["job.0", "job.2", "job.3"], 1), (["job.0", "job.3"], 0),
        (["job.3"], 0),
    ]


@function
async def all_remote(ctx: Context) -> tuple[str, object]:
    slow = await ctx.rpc(work, 50.0).spawn()
    fast = await ctx.rpc(work, 20.0).spawn()
    winner = await ctx.select(slow, fast)
    return winner.id, await winner


def test_all_remote_and_pending_suspends_with_callbacks_on_every_candidate_and_resumes_on_the_first() -> None:
    store = new_store()

    async def main() -> tuple[object, list[str], float]:
        worker = new_worker(store, [all_remote, work])
        async with worker.running():
            start = trio.current_time()
            handle = await worker.run("job", all_remote)
            await trio.sleep(5)
            task = await store.get_task("job")
            assert task.state is TaskState.SUSPENDED
            callbacks = list(task.callbacks)
            value = await handle.result()
            return value, callbacks, trio.current_time() - start

    value, callbacks, elapsed = run_world(main)
    assert callbacks == ["job.0", "job.1"]
    assert value == ("job.1", 20.0)
    assert 20.0 <= elapsed < 21.0  # resumed when the first settled, not the last


@function
async def settled_first(ctx: Context) -> str:
    done = await ctx.run(work, 0.0).spawn()
    await done
    late = await ctx.rpc(work, 30.0).spawn()
    winner = await ctx.select(late, done)  # job.0 settled before select was called
    return winner.id


def test_a_candidate_already_settled_wins_at_once() -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        start = trio.current_time()
        value = await run_to_end(new_worker(store, [settled_first, work]), "job", settled_first)
        return value, trio.current_time() - start

    value, elapsed = run_world(main)
    assert value == "job.0"
    assert elapsed < 1.0  # job.1 (30 s) was not waited for


@function
async def approval_or_timeout(ctx: Context, hours: float) -> str:
    """The approval-or-timeout shape: an outside party's promise raced against a durable timer."""
    approval = await ctx.promise(timeout=10 * 3600, id=f"{ctx.id}.approval")
    deadline = await ctx.timer(hours * 3600)
    winner = await ctx.select(approval, deadline)
    if winner is deadline:
        return "timed out"
    return f"approved by {await approval}"


@pytest.mark.parametrize(("approve_at", "expected"), [(600.0, "approved by ann"), (None, "timed out")])
def test_approval_or_timeout_with_a_worker(approve_at: float | None, expected: str) -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        worker = new_worker(store, [approval_or_timeout])
        async with worker.running():
            start = trio.current_time()
            handle = await worker.run("job", approval_or_timeout, 1.0)
            if approve_at is not None:
                await trio.sleep(approve_at)
                await worker.resolve("job.approval", "ann")
            value = await handle.result()
            return value, trio.current_time() - start

    value, elapsed = run_world(main)
    assert value == expected
    assert elapsed < 3601 if approve_at is None else elapsed < 601
    # the loser is still open or settled, never rewritten: the timer resolved at its own time, or waits
    loser = store.promise_map()["job.1" if approve_at is not None else "job.approval"]
    assert loser.state is PromiseState.PENDING


def test_approval_or_timeout_over_sqlite(tmp_path: Path) -> None:
    """The same shape on a real worker over a SQLite file in real time: an approval given while its
    hour-long timer runs, then a 0.2 s timer that nobody answers."""

    async def main() -> list[object]:
        with SqliteStore(tmp_path / "app.db", WallClock()) as store:
            worker = Worker(store, clock=WallClock(), poll_interval=0.05)
            worker.register(approval_or_timeout)
            async with worker.running():
                with trio.fail_after(30):
                    approved = await worker.run("a", approval_or_timeout, 1.0)
                    while (await store.get_task("a")).state is not TaskState.SUSPENDED:
                        await trio.sleep(0.01)
                    await worker.resolve("a.approval", "bob")
                    waited = await worker.run("b", approval_or_timeout, 0.2 / 3600)
                    return [await approved.result(), await waited.result()]

    assert trio.run(main) == ["approved by bob", "timed out"]


# -- replay ------------------------------------------------------------------------------------------


@function
async def pick_then_act(ctx: Context) -> str:
    a = await ctx.rpc(work, 10.0).spawn()
    b = await ctx.rpc(work, 12.0).spawn()
    winner = await ctx.select(b, a)
    await ctx.sleep(20)  # crash here: by the replay both a and b have settled
    return f"{winner.id}:{await winner}"


def test_a_replay_returns_the_recorded_winner_though_both_have_settled_by_then() -> None:
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [pick_then_act, work], id="w1"), "job", pick_then_act, at=15)
        assert {p.id: p.state for p in store.promises()}["job.1"] is PromiseState.RESOLVED  # both settled
        return await recover(new_worker(store, [pick_then_act, work], id="w2"), "job")

    assert run_world(main) == "job.0:10.0"
    assert selects(store) == [(["job.1", "job.0"], 1)]


@function
async def pick_on_leaves(ctx: Context) -> str:
    """``pick_then_act`` with its leaves on workers of their own group."""
    a = await ctx.rpc(work, 10.0).options(target="leaves").spawn()
    b = await ctx.rpc(work, 12.0).options(target="leaves").spawn()
    winner = await ctx.select(b, a)
    return f"{winner.id}:{await winner}"


def test_a_crash_between_the_winner_settling_and_the_record_leaves_the_choice_to_the_replay() -> None:
    """Both candidates settle while no worker runs the workflow: no winner was written, so the replay
    chooses among the settled ones (the one that settled first, though it is second in order) and
    records that."""
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [pick_on_leaves], id="w1"), "job", pick_on_leaves, at=1)
        assert selects(store) == [(["job.1", "job.0"], -1)]  # made before it suspended, no winner written
        leaves = new_worker(store, [work], id="leaves", group="leaves")
        async with leaves.running():
            with trio.fail_after(100):
                while not all(p.settled for p in store.promises() if p.id in ("job.0", "job.1")):
                    await trio.sleep(1)
        return await recover(new_worker(store, [pick_on_leaves], id="w2"), "job")

    assert run_world(main) == "job.0:10.0"
    assert selects(store) == [(["job.1", "job.0"], 1)]


@function
async def local_suspends(ctx: Context) -> str:
    """Local child workflows that suspend on their own rpc: select must suspend with their callbacks."""
    first = await ctx.run(via_rpc, 40.0).spawn()
    second = await ctx.run(via_rpc, 25.0).spawn()
    winner = await ctx.select(first, second)
    return f"{winner.id}:{await winner}"


@function
async def via_rpc(ctx: Context, seconds: float) -> float:
    return await ctx.rpc(work, seconds)


def test_local_candidates_that_suspend_suspend_the_workflow_on_their_own_callbacks() -> None:
    store = new_store()

    async def main() -> tuple[object, list[str]]:
        worker = new_worker(store, [local_suspends, via_rpc, work])
        async with worker.running():
            handle = await worker.run("job", local_suspends)
            await trio.sleep(5)
            callbacks = list((await store.get_task("job")).callbacks)
            return await handle.result(), callbacks

    value, callbacks = run_world(main)
    assert sorted(callbacks) == ["job.0.0", "job.1.0"]
    assert value == "job.1:25.0"


# -- misuse ------------------------------------------------------------------------------------------


@function
async def misuse(ctx: Context, how: str) -> str:
    f = await ctx.rpc(work, 1.0).spawn()
    if how == "empty":
        await ctx.select()
    elif how == "twice":
        await ctx.select(f, f)
    elif how == "builder":
        await ctx.select(ctx.rpc(work, 2.0), f)  # type: ignore[arg-type]
    elif how == "coroutine":
        await ctx.select(f, ctx.timer(5))  # type: ignore[arg-type]
    elif how == "list":
        await ctx.select([f])  # type: ignore[arg-type]
    elif how == "timer":
        await ctx.timer(-1)
    elif how == "aborted":
        local = await ctx.run(work, 5.0).spawn()
        local.abort()
        await ctx.select(f, local)
    return "no error"


@pytest.mark.parametrize(("how", "message"), [
    ("empty", "ctx.select in job: select needs at least one future"),
    ("twice", "ctx.select in job: future job.0 is passed twice (arguments 0 and 1); pass each future once"),
    ("builder", "ctx.select in job: argument 0 is a RpcBuilder, not a future; start the child first"),
    ("coroutine", "ctx.select in job: argument 1 is a coroutine, not a future; await it first"),
    ("list", "ctx.select in job: argument 0 is a list, not a future; pass the futures themselves"),
    ("timer", "ctx.timer: seconds must be a number >= 0, got -1"),
])
def test_misuse_of_select_is_one_usage_error_naming_it(how: str, message: str) -> None:
    store = new_store()
    with pytest.raises(Rejected) as raised:
        run_world(lambda: run_to_end(new_worker(store, [misuse, work]), "job", misuse, how))
    assert raised.value.type_name == "UsageError"
    assert raised.value.message.startswith(message), raised.value.message


def test_selecting_an_aborted_local_child_raises_join_error_as_awaiting_it_would() -> None:
    with pytest.raises(Rejected) as raised:
        run_world(lambda: run_to_end(new_worker(new_store(), [misuse, work]), "job", misuse, "aborted"))
    assert (raised.value.type_name, raised.value.message) == ("JoinError", "task job.1 was dropped")


_STASH: list[Any] = []


@function
async def stashes(ctx: Context) -> str:
    _STASH[:] = [await ctx.rpc(work, 1.0).spawn()]
    return await ctx.run(selects_stashed)


@function
async def selects_stashed(ctx: Context) -> str:
    winner = await ctx.select(*_STASH)  # the parent's future, reached through module state
    return str(winner.id)


def test_a_future_of_another_workflow_cannot_be_selected() -> None:
    with pytest.raises(Rejected) as raised:
        run_world(lambda: run_to_end(new_worker(new_store(), [stashes, selects_stashed, work]), "job", stashes))
    assert "job.1 was rejected: UsageError: ctx.select in job.1: argument 0 (job.0) belongs to workflow job; " \
        "select only futures this workflow made" in str(raised.value), raised.value


_SEEN: list[Context] = []


@function
async def keeps_ctx(ctx: Context) -> None:
    _SEEN.append(ctx)


def test_select_outside_the_workflows_body_is_a_usage_error() -> None:
    run_world(lambda: run_to_end(new_worker(new_store(), [keeps_ctx]), "job", keeps_ctx))

    async def outside() -> None:
        await _SEEN[-1].select()

    with pytest.raises(UsageError, match=r"ctx.select on the Context of job was called outside that workflow's body"):
        trio.run(outside)


@function
async def two_deadlines(ctx: Context) -> str:
    reply = await ctx.promise(timeout=100)
    timer = await ctx.timer(50)
    return "timer" if await ctx.select(reply, timer) is timer else "reply timed out"


def test_candidates_settled_by_their_timeouts_while_nobody_looked_win_by_their_due_time() -> None:
    """The worker is down from 1 s to 300 s: the store times out both the promise (due at 100 s) and the
    timer (due at 50 s) at the same later access, but the timer settled first and wins, though it is
    second in order."""
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [two_deadlines], id="w1"), "job", two_deadlines, at=1)
        await trio.sleep(299)
        return await recover(new_worker(store, [two_deadlines], id="w2"), "job")

    assert run_world(main) == "timer"
    records = store.promise_map()
    assert records["job.0"].state is PromiseState.REJECTED_TIMEDOUT
    assert records["job.0"].settled_on == records["job.1"].settled_on  # stamped at the same access
