"""The simulator runs the real store: worlds over ``SqliteStore`` (``--store sqlite``, the plugin's
``--durable-store``) trace exactly as over ``MemoryStore``, and a bug planted in the SQLite store is caught
by check (1) through it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pytest_durable.core import Fence, PromiseRecord, PromiseState, TrioClock
from pytest_durable.live import SqliteStore
from sim import run_world
from sim.scenario import load_scenario
from sim.world import world_store
from tests.helpers.store_probe import CONFTEST, PROBE, WORKFLOWS, stores

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/fan_out_fan_in.py:scenario"

pytest_plugins = ["pytester"]


def sim(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_fan_out_worlds_over_sqlite_trace_exactly_as_over_memory() -> None:
    """The same seeds give the same trace hash, the same records and the same verdict over both stores."""
    scenario = load_scenario(EXAMPLE)
    for seed in range(50):
        over = {}
        for kind in ("memory", "sqlite"):
            with world_store(kind) as store:
                over[kind] = run_world(scenario, seed=seed, faults="all", store=store)
                assert type(store).__name__ == {"memory": "MemoryStore", "sqlite": "SqliteStore"}[kind]
        memory, sqlite = over["memory"], over["sqlite"]
        assert memory.ok, (seed, [str(v) for v in memory.violations])
        assert sqlite.trace_hash == memory.trace_hash, seed
        assert sqlite.promises == memory.promises, seed
        assert sqlite.violations == memory.violations == (), seed
        assert sqlite.fault_counts == memory.fault_counts


def test_the_cli_sweep_over_sqlite_passes_and_leaves_no_files(tmp_path: Path) -> None:
    out = sim("run", EXAMPLE, "--seeds", "50", "--faults", "all", "--store", "sqlite", tmp=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    covered = re.match(r"points: (\d+) of (\d+) single faults, 50 swarm worlds", lines[0])
    assert covered is not None and covered.group(1) == covered.group(2), lines[0]
    assert f"worlds run: {1 + int(covered.group(1)) + 50}; failing: 0" in lines
    assert "violations: none" in lines
    memory = sim("run", EXAMPLE, "--seeds", "50", "--faults", "all", tmp=tmp_path)
    faults = [line for line in memory.stdout.splitlines() if line.startswith("faults injected:")]
    assert faults and faults[0] in lines  # the same faults, world for world
    assert list(tmp_path.iterdir()) == []  # every world's SQLite folder was removed


def test_one_world_over_sqlite_shows_the_same_tree(tmp_path: Path) -> None:
    over = {kind: sim("run", EXAMPLE, "--seed", "7", "--faults", "all", "--store", kind, tmp=tmp_path)
            for kind in ("memory", "sqlite")}
    assert over["sqlite"].returncode == 0, over["sqlite"].stderr
    assert over["sqlite"].stdout == over["memory"].stdout


def test_a_bad_store_is_one_clear_line(tmp_path: Path) -> None:
    out = sim("run", EXAMPLE, "--seeds", "2", "--store", "mysql", tmp=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "python -m sim run: --store: the store is one of memory|sqlite|postgres, got 'mysql'"


# -- a bug planted in the SQLite store, caught by check (1) -----------------------------------------------


class OverwritingSqliteStore(SqliteStore):
    """BUG: settle is not write-once; settling a settled promise writes it again, in SQL (a new
    ``settled_on``, and the new value)."""

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        engine = self.engine
        with engine.transaction():
            record = engine.tables.load_promise(id)
            if record is not None and record.settled:
                engine.tables.check_fence(fence)
                return engine.tables.settle(record, state, value)
        return await super().settle_promise(id, state, value, fence=fence)


@contextmanager
def store_of(cls: type[SqliteStore], folder: Path, seed: int) -> Iterator[SqliteStore]:
    store = cls(folder / f"{cls.__name__}-{seed}.db", TrioClock())
    try:
        yield store
    finally:
        store.close()


def test_1_settled_once_catches_a_sqlite_store_that_overwrites_a_settled_promise(tmp_path: Path) -> None:
    scenario = load_scenario(EXAMPLE)
    faults = "drop,duplicate"  # a dropped settle response is retried: the same settle arrives again
    found = None
    for seed in range(300):
        with store_of(OverwritingSqliteStore, tmp_path, seed) as store:
            result = run_world(scenario, seed=seed, faults=faults, store=store)
        hits = [v for v in result.violations if v.check == "settled-once"]
        if hits:
            found = seed, result, hits
            break
    assert found is not None, "no seed in 0..299 made check (1) fire through the SQLite store"
    seed, result, hits = found
    first = hits[0]
    assert re.fullmatch(r"fan-out-fan-in\.\d+", first.id), first.id
    assert first.message.startswith(f"promise {first.id} changed after it settled: resolved ")
    with store_of(OverwritingSqliteStore, tmp_path, 1000 + seed) as store:  # the seed finds it again
        again = run_world(scenario, seed=seed, faults=faults, store=store)
    assert again.trace_hash == result.trace_hash and again.violations == result.violations
    for control in range(seed + 1):  # the same seeds over the real SqliteStore report nothing
        with store_of(SqliteStore, tmp_path, control) as store:
            clean = run_world(scenario, seed=control, faults=faults, store=store)
        assert clean.ok and clean.settled, (control, [str(v) for v in clean.violations])


# -- the plugin: --durable-store, ini durable_store, PYTEST_DURABLE_STORE, marker store= ----------------

@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS)
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    return pytester


def test_the_plugin_runs_worlds_over_the_store_it_is_told(project: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""))
    project.runpytest().assert_outcomes(passed=1)
    # every world of the test (its aimed sweep, then its 2 seeds) over the store it is told
    assert set(stores(project)) == {"MemoryStore"}  # the default
    project.makeini("[pytest]\ndurable_store = sqlite\n")
    project.runpytest().assert_outcomes(passed=1)
    assert set(stores(project)) == {"SqliteStore"}  # ini
    monkeypatch.setenv("PYTEST_DURABLE_STORE", "memory")
    project.runpytest().assert_outcomes(passed=1)
    assert set(stores(project)) == {"MemoryStore"}  # the environment over the ini
    project.runpytest("--durable-store=sqlite").assert_outcomes(passed=1)
    assert set(stores(project)) == {"SqliteStore"}  # the command line over the environment
    project.makepyfile(test_probe=PROBE.format(marker=", store='memory'"))
    project.runpytest("--durable-store=sqlite").assert_outcomes(passed=1)
    assert set(stores(project)) == {"MemoryStore"}  # the marker over everything


def test_a_bad_store_option_or_marker_is_one_clear_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""))
    out = project.runpytest("--durable-store=mongo")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines(["ERROR: --durable-store: store must be one of memory|sqlite|postgres, got 'mongo'"])
    project.makepyfile(test_probe=PROBE.format(marker=", store='mysql'"))
    out = project.runpytest()
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines(["ERROR: *test_probe.py::test_probe: @pytest.mark.durable: store must be one of "
                              "memory|sqlite|postgres, got 'mysql'"])
