"""Big worlds: a fan-out of 10 000 children completes in one world, the costs a world pays per poll or
per request do not grow with the number of promises, and ``python -m sim bench`` prints the per-child
figures. (How the cost grows with N is measured by ``python -m sim bench``, not asserted here.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import sim.bench.scale
from pytest_durable import Context, function
from pytest_durable.core.clock import ManualClock, TrioClock
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseRecord, PromiseState, TaskRecord
from pytest_durable.live.sqlite_store import SqliteStore
from pytest_durable.live.threaded import Threaded
from sim import FaultConfig, SimConfig, run_world
from sim.bench.scale import Job, bench_fan_out, bench_leaf
from sim.scenario import Scenario
from sim.world.server import run_now


def test_ten_thousand_children_in_one_world() -> None:
    n = 10_000
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                        workers={"default": 1}, root_id="big")
    result = run_world(scenario, seed=1)
    assert result.ok, result.violations
    assert result.value == n * (n - 1) // 2
    assert len(result.promises) == n + 1
    assert sum(1 for e in result.trace.of_kind("body") if e.id.startswith("big.")) == n


# -- the promise count the liveness budget reads on every poll ------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "threaded"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InspectableStore]:
    clock = ManualClock()
    if request.param == "memory":
        yield MemoryStore(clock)
        return
    sqlite = SqliteStore(tmp_path / "store.db", clock)
    yield sqlite if request.param == "sqlite" else Threaded(sqlite)  # type: ignore[misc]
    sqlite.close()


def test_every_store_counts_its_promises_without_listing_them(store: InspectableStore) -> None:
    assert store.promise_count() == 0
    for i in range(5):
        if isinstance(store, Threaded):
            run_now(store.store.create_promise(f"p{i}", "{}", 100.0, target="g" if i % 2 else None))
        else:
            run_now(store.create_promise(f"p{i}", "{}", 100.0, target="g" if i % 2 else None))
    run_now((store.store if isinstance(store, Threaded) else store).create_promise("p0", "{}", 100.0))  # idempotent
    assert store.promise_count() == len(store.promises()) == 5


def test_the_liveness_budget_does_not_list_every_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The liveness budget grows with the promises a world made; looking at it again each time it runs
    out must not copy them all (a 50 000-child world looks at it many times)."""
    listed: list[int] = []
    counted: list[int] = []
    original, count = MemoryStore.promises, MemoryStore.promise_count

    def listing(self: MemoryStore) -> list:  # type: ignore[type-arg]
        listed.append(1)
        return original(self)

    def counting(self: MemoryStore) -> int:
        counted.append(1)
        return count(self)

    monkeypatch.setattr(MemoryStore, "promises", listing)
    monkeypatch.setattr(MemoryStore, "promise_count", counting)
    n = 500
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                        workers={"default": 1})
    faults = FaultConfig.parse("none", quiesce_after=0.0)
    result = run_world(scenario, seed=1, faults=faults, config=SimConfig(budget=1.0))
    assert result.ok, result.violations
    assert result.virtual_time > 2  # longer than the budget it started with: it was looked at again
    assert len(counted) >= 3
    assert len(listed) <= 3  # the checks after the world, not one per look at the budget


# -- the bench prints the per-child figures -------------------------------------------------------------


def test_the_scale_bench_prints_time_and_memory_per_child(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.bench.scale, "isolation_cost", lambda worlds: (1.0, 1.0))  # its own figure, not this test's
    assert sim.bench.scale.main([40, 20], repeat=1) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["children"])
    assert header.split() == ["children", "runs", "seconds", "cpu", "s", "µs/child", "ratio", "peak", "MB",
                              "KB/child", "steps", "steps/child"]
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [row[0] for row in rows] == ["20", "40"]  # smallest first: the baseline of the ratio
    for row in rows:
        assert row[1] == "1"
        seconds, cpu, per_child, ratio, peak, per_child_kb = map(float, row[2:8])
        assert seconds > 0 and cpu > 0 and per_child > 0 and ratio > 0 and peak >= 0 and per_child_kb >= 0
    assert float(rows[0][5]) == 1.0
    assert "the 40-child world ran and passed its checks in" in out
    assert "KB" in out.split("the 40-child world")[1]


# -- garbage collection while a big world runs ------------------------------------------------------------


def test_a_big_world_is_not_rescanned_by_the_garbage_collector_again_and_again() -> None:
    """A world keeps its trace and records alive until it ends; Python's default thresholds would
    collect about once per 20 children here (and rescan the whole heap every few dozen times)."""
    import gc

    collections: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    before = gc.get_threshold()
    n = 2_000
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                        workers={"default": 1})
    gc.collect()
    gc.callbacks.append(note)
    try:
        result = run_world(scenario, seed=1)
    finally:
        gc.callbacks.remove(note)
    assert result.ok, result.violations
    assert len(collections) <= n // 100, collections
    assert gc.get_threshold() == before  # the caller's thresholds are back


# -- the task invariants after every request look at what the request wrote ------------------------------


@function
async def remote_part(part: Job) -> int:
    await trio.sleep(0.5)  # gives a crash time to land between children
    return part.id


@function
async def remote_fan(ctx: Context, n: int) -> int:
    """Remote children: every child is a task, and the workflow's task suspends on them and resumes."""
    handles = [await ctx.rpc(remote_part, Job(i)).spawn() for i in range(n)]
    total = 0
    for handle in handles:
        total += await handle
    return total


def remote(n: int) -> Scenario:
    return Scenario(remote_fan, (n,), functions=(remote_part,), expected=n * (n - 1) // 2, root_id="fan",
                    workers={"default": 2})


class ForgetfulExpiry(MemoryStore):
    """BUG: an expired lease puts its task back to pending without a retry time (invariant 2)."""

    def _to_pending(self, task: TaskRecord, now: float, *, due: float | None = None,
                    lapsed: str | None = None) -> TaskRecord:
        pending = super()._to_pending(task, now, due=due, lapsed=lapsed)
        return self._put_task(attrs.evolve(pending, retry_at=None)) if task.state.value == "acquired" else pending


class Deaf(MemoryStore):
    """BUG: settling a promise leaves the tasks suspended on it suspended (invariant 5): only the
    promise is written, so the check must find the task through the promise it names."""

    def _settle(self, record: PromiseRecord, state: PromiseState, value: str | None, *,
                at: float | None = None) -> PromiseRecord:
        self._waiters.pop(record.id, None)
        return super()._settle(record, state, value, at=at)


def untracked(cls: type[MemoryStore]) -> type[MemoryStore]:
    """The same store without its write log: the server looks at every task after every request."""
    return type(f"Untracked{cls.__name__}", (cls,), {"take_changes": None})


@pytest.mark.parametrize("cls", [MemoryStore, ForgetfulExpiry, Deaf])
def test_the_task_invariant_check_finds_what_a_check_of_every_task_finds(cls: type[MemoryStore]) -> None:
    """Same worlds, same trace hashes, same violations at the same events, with the write log and without."""
    config = SimConfig(budget=30.0)
    faults = FaultConfig.parse("crash", quiesce_after=30.0)
    broken = 0
    for seed in range(12):
        fast = run_world(remote(4), seed=seed, faults=faults, config=config, store=cls(TrioClock()))
        full = run_world(remote(4), seed=seed, faults=faults, config=config, store=untracked(cls)(TrioClock()))
        assert (fast.trace_hash, fast.violations) == (full.trace_hash, full.violations), seed
        broken += any(v.check == "task-invariants" for v in fast.violations)
    assert broken > 0 if cls is not MemoryStore else broken == 0


def test_the_task_invariant_check_does_not_look_at_every_task_after_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fan-out of remote children: each request writes a task or two, so the check looks at a few
    tasks per request however many the world holds (it looked at every one: a cost growing with N²)."""
    import sim.checks.task_invariants

    looked: list[int] = []
    original = sim.checks.task_invariants.task_invariant_breaks

    def counting(tasks: Any, promises: Any) -> Any:
        tasks = list(tasks)
        looked.append(len(tasks))
        return original(tasks, promises)

    monkeypatch.setattr(sim.checks.task_invariants, "task_invariant_breaks", counting)
    n = 300
    result = run_world(remote(n), seed=1)
    assert result.ok, result.violations
    assert len(looked) > n  # a check after every request
    assert sum(looked) / len(looked) < 5, (sum(looked) / len(looked), max(looked))
