"""Big worlds: a fan-out of 10 000 children completes in one world, the costs a world pays per poll or
per request do not grow with the number of promises, and ``python -m sim bench`` prints the per-child
figures. (How the cost grows with N is measured by ``python -m sim bench``, not asserted here.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import sim.bench
from pytest_durable.core.clock import ManualClock
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.live.sqlite_store import SqliteStore
from pytest_durable.live.threaded import Threaded
from sim import run_world
from sim.bench import bench_fan_out, bench_leaf
from sim.scenario import Scenario
from sim.server import run_now


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


def test_the_client_poll_does_not_list_every_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The liveness budget grows with the promises a world made; reading it on every poll of the
    client must not copy them all (a 50 000-child world polls some 800 times)."""
    listed: list[int] = []
    original = MemoryStore.promises

    def counting(self: MemoryStore) -> list:  # type: ignore[type-arg]
        listed.append(1)
        return original(self)

    monkeypatch.setattr(MemoryStore, "promises", counting)
    n = 500
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                        workers={"default": 1})
    result = run_world(scenario, seed=1)
    assert result.ok, result.violations
    assert result.virtual_time > 8  # the client polled several times
    assert len(listed) <= 3  # the checks after the world, not one per poll


# -- the bench prints the per-child figures -------------------------------------------------------------


def test_the_scale_bench_prints_time_and_memory_per_child(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.bench, "isolation_cost", lambda worlds: (1.0, 1.0))  # its own figure, not this test's
    assert sim.bench.main([40, 20], repeat=1) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["children"])
    assert header.split() == ["children", "seconds", "cpu", "s", "µs/child", "ratio", "peak", "MB", "KB/child", "steps",
                              "steps/child"]
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [row[0] for row in rows] == ["20", "40"]  # smallest first: the baseline of the ratio
    for row in rows:
        seconds, cpu, per_child, ratio, peak, per_child_kb = map(float, row[1:7])
        assert seconds > 0 and cpu > 0 and per_child > 0 and ratio > 0 and peak >= 0 and per_child_kb >= 0
    assert float(rows[0][4]) == 1.0
    assert "the 40-child world ran and passed its checks in" in out
    assert "KB" in out.split("the 40-child world")[1]
