"""A worker's life over the reference store, on virtual time: it stops cleanly (``Worker.stop``: no new
work, no new body, running leaves record their results, held tasks released at once), runs at most
``concurrency`` tasks and does not poll while full, and under a stable id takes back its dead run's
tasks (``reclaim``) without waiting out their leases (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from pytest_durable import Context, Fenced, MemoryStore, UsageError, Worker, function
from pytest_durable.core.clock import TrioClock
from pytest_durable.core.records import Fence, PromiseState, TaskState

STARTED: list[str] = []
EFFECTS: list[str] = []


@function
async def step(key: str) -> str:
    STARTED.append(key)
    await trio.sleep(2)
    EFFECTS.append(key)
    return key


@function
async def order(ctx: Context, name: str, n: int) -> list[str]:
    return [await ctx.run(step, f"{name}-{i}") for i in range(n)]


@function
async def hold(seconds: float) -> float:
    await trio.sleep(seconds)
    return seconds


def run(main: Any) -> None:
    STARTED.clear()
    EFFECTS.clear()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def make(store: MemoryStore, **kwargs: Any) -> Worker:
    worker = Worker(store, clock=store.clock, poll_interval=5.0, **kwargs)
    worker.register(order, step, hold)
    return worker


def test_stop_lets_the_running_leaf_record_its_result_starts_no_body_and_releases_the_task() -> None:
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        first = make(store, id="first", ttl=600.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(first.serve)
            await first.run("o", order, "o", 3)
            await trio.sleep(3)  # o-0 is recorded (t=2), o-1 runs until t=4
            seen["report"] = await first.stop(grace=30.0)
            seen["stopped_at"] = trio.current_time()
        seen["task"] = await store.get_task("o")
        seen["o-1"] = await store.get_promise("o.1")
        second = make(store, id="second", ttl=600.0)
        async with second.running():
            seen["value"] = await second.handle("o").result()
            seen["done_at"] = trio.current_time()

    run(main)
    report = seen["report"]
    assert (report.running, report.finished, report.released) == (1, 0, 1)
    assert seen["stopped_at"] == pytest.approx(4.0)  # when o-1 was recorded, not when the grace ran out
    assert seen["o-1"].state is PromiseState.RESOLVED  # the leaf in flight recorded its result
    task = seen["task"]
    assert (task.state, task.lease_owner, task.retry_at) == (TaskState.PENDING, None, pytest.approx(4.0))
    assert seen["value"] == ["o-0", "o-1", "o-2"]
    assert seen["done_at"] == pytest.approx(6.0)  # taken at once: no lease (600 s) waited out
    assert STARTED == EFFECTS == ["o-0", "o-1", "o-2"]  # no body ran twice, o-2 only on the second worker


def test_a_grace_that_runs_out_cancels_the_leaf_and_still_releases() -> None:
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        first = make(store, id="first", ttl=600.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(first.serve)
            await first.run("o", order, "o", 2)
            await trio.sleep(1)
            seen["report"] = await first.stop(grace=0.5)
            seen["stopped_at"] = trio.current_time()
        second = make(store, id="second", ttl=600.0)
        async with second.running():
            seen["value"] = await second.handle("o").result()

    run(main)
    assert (seen["report"].running, seen["report"].released) == (1, 1)
    assert seen["stopped_at"] == pytest.approx(1.5)
    assert seen["value"] == ["o-0", "o-1"]
    assert STARTED == ["o-0", "o-0", "o-1"]  # the cancelled attempt is run again (a leaf is at-least-once)
    assert EFFECTS == ["o-0", "o-1"]


def test_a_stopped_worker_takes_no_new_task_and_serve_returns() -> None:
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        worker = make(store, id="w", ttl=600.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.serve)
            await trio.sleep(1)
            seen["report"] = await worker.stop(grace=10.0)
            await worker.run("late", hold, 1.0)  # made after the stop: nobody takes it
            await trio.sleep(20)
        seen["task"] = await store.get_task("late")

    run(main)
    assert (seen["report"].running, seen["report"].released) == (0, 0)
    assert seen["task"].state is TaskState.PENDING and seen["task"].version == 0


class CountingStore(MemoryStore):
    """Counts the dispatches each worker's polls make (by the limit they ask for, in order)."""

    def __init__(self) -> None:
        super().__init__(TrioClock())
        self.asked: list[tuple[float, int]] = []

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> Any:
        self.asked.append((trio.current_time(), limit))
        return await super().dispatch(target, limit, wait=wait)


def test_a_worker_runs_at_most_its_concurrency_and_does_not_poll_while_full() -> None:
    store = CountingStore()
    seen: dict[str, Any] = {}

    async def main() -> None:
        first = make(store, id="first", ttl=600.0, concurrency=2)
        async with first.running():
            for i in range(5):
                await first.run(f"h{i}", hold, 10.0)
            await trio.sleep(1)
            seen["held"] = sorted(t.id for t in store.tasks() if t.lease_owner == "first")
            seen["asked"] = list(store.asked)
            await trio.sleep(8)
            seen["asked_while_full"] = [a for a in store.asked if 1 < a[0] < 9]
            second = make(store, id="second", ttl=600.0, concurrency=2)
            async with second.running():
                await trio.sleep(0.5)
                seen["second"] = sorted(t.id for t in store.tasks() if t.lease_owner == "second")
                await trio.sleep(30)
            seen["done"] = [t.state for t in store.tasks()]

    run(main)
    assert len(seen["held"]) == 2
    assert all(limit <= 2 for _, limit in seen["asked"])
    assert seen["asked_while_full"] == []
    assert len(seen["second"]) == 2  # the idle worker takes its share of what is left
    assert seen["done"] == [TaskState.FULFILLED] * 5


def test_a_restart_under_the_same_id_takes_back_its_tasks_at_once_and_fences_the_old_run() -> None:
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        await make(store, id="w1").run("r", hold, 1.0)
        await make(store, id="w1").run("s", hold, 1.0)
        dead = await store.acquire_task("r", "w1", 600.0)  # the run that died held r; another worker holds s
        await store.acquire_task("s", "w2", 600.0)
        restarted = make(store, id="w1", ttl=600.0, reclaim=True)
        async with restarted.running():
            seen["reclaimed"] = restarted.reclaimed
            seen["task"] = await store.get_task("r")
            with pytest.raises(Fenced):  # a zombie of the dead run writes with its old version
                await store.fulfill_task(Fence("r", dead.version), PromiseState.RESOLVED, "0")
            seen["value"] = await restarted.handle("r").result()
            seen["done_at"] = trio.current_time()
            seen["s"] = await store.get_task("s")

    run(main)
    assert seen["reclaimed"] == 1
    assert (seen["task"].version, seen["task"].lease_owner) == (2, "w1")
    assert seen["value"] == 1.0 and seen["done_at"] == pytest.approx(1.0)
    assert (seen["s"].state, seen["s"].lease_owner, seen["s"].version) == (TaskState.ACQUIRED, "w2", 1)


def test_a_new_id_waits_out_the_dead_runs_lease() -> None:
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        await make(store, id="w1").run("r", hold, 1.0)
        await store.acquire_task("r", "w1", 60.0)
        other = make(store, id="w9", ttl=60.0, reclaim=True)
        async with other.running():
            seen["reclaimed"] = other.reclaimed
            await other.handle("r").result()
            seen["done_at"] = trio.current_time()

    run(main)
    assert seen["reclaimed"] == 0
    assert seen["done_at"] >= 60.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_concurrency_is_one_clear_error(bad: object) -> None:
    with pytest.raises(UsageError, match=r"Worker: concurrency must be a whole number of tasks >= 1"):
        Worker(MemoryStore(), concurrency=bad)  # type: ignore[arg-type]


def test_a_bad_grace_is_one_clear_error() -> None:
    async def main() -> None:
        with pytest.raises(UsageError, match=r"Worker.stop: grace must be a number of seconds >= 0, got -1"):
            await Worker(MemoryStore()).stop(-1)

    trio.run(main)


def test_two_live_workers_given_one_id_fence_each_other_and_the_work_is_done_once() -> None:
    """The documented misuse: a second process started under an id that is still alive takes its tasks
    back; the first one's writes are refused from then on, and the task is completed once."""
    store = MemoryStore(TrioClock())
    seen: dict[str, Any] = {}

    async def main() -> None:
        first = make(store, id="w", ttl=600.0)
        async with first.running():
            await first.run("r", hold, 10.0)
            await trio.sleep(1)
            second = make(store, id="w", ttl=600.0, reclaim=True)
            async with second.running():
                seen["value"] = await second.handle("r").result()
                seen["done_at"] = trio.current_time()
                await trio.sleep(20)
            seen["errors"] = [type(e).__name__ for _, e in first.errors]
        seen["task"] = await store.get_task("r")

    run(main)
    assert seen["value"] == 10.0 and seen["done_at"] == pytest.approx(11.0)  # the second ran it from t=1
    assert seen["errors"] == ["Fenced"]  # the first one's fulfill at t=10 was refused
    assert (seen["task"].state, seen["task"].version) == (TaskState.FULFILLED, 2)
