"""The simulator over ``PostgresStore``: ``--store postgres`` gives every world a fresh schema in the database
``$DURABLE_PG_DSN`` names, and its worlds trace exactly as over ``MemoryStore`` (real server of conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sim import run_world
from sim.scenario import load_scenario
from sim.world import PG_DSN_ENV, world_store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/fan_out_fan_in.py:scenario"

pytest_plugins = ["pytester"]


def schemas(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'durable_world_%'")]


def test_fan_out_worlds_over_postgres_trace_exactly_as_over_memory(postgres_dsn: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PG_DSN_ENV, postgres_dsn)
    scenario = load_scenario(EXAMPLE)
    for seed in range(10):
        over = {}
        for kind in ("memory", "postgres"):
            with world_store(kind) as store:
                over[kind] = run_world(scenario, seed=seed, faults="all", store=store)
                assert type(store).__name__ == {"memory": "MemoryStore", "postgres": "PostgresStore"}[kind]
                if kind == "postgres":
                    assert len(schemas(postgres_dsn)) == 1  # the world's own schema, holding its tables
        memory, postgres = over["memory"], over["postgres"]
        assert memory.ok, (seed, [str(v) for v in memory.violations])
        assert postgres.trace_hash == memory.trace_hash, seed
        assert postgres.promises == memory.promises, seed
        assert postgres.violations == memory.violations == (), seed
        assert postgres.fault_counts == memory.fault_counts
    assert schemas(postgres_dsn) == []  # every world's schema was dropped


def test_the_cli_runs_worlds_over_postgres_and_needs_the_dsn(postgres_dsn: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), PG_DSN_ENV: postgres_dsn}
    args = [sys.executable, "-m", "sim", "run", EXAMPLE, "--seed", "3", "--faults", "all"]
    over = {kind: subprocess.run([*args, "--store", kind], capture_output=True, text=True, cwd=ROOT, env=env)
            for kind in ("memory", "postgres")}
    assert over["postgres"].returncode == 0, over["postgres"].stderr
    assert over["postgres"].stdout == over["memory"].stdout
    del env[PG_DSN_ENV]
    out = subprocess.run([*args, "--store", "postgres"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        f"python -m sim run: --store: the postgres store needs {PG_DSN_ENV} set to a PostgreSQL database")


def test_the_plugin_runs_worlds_over_postgres(pytester: pytest.Pytester, postgres_dsn: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.store_probe import CONFTEST, PROBE, WORKFLOWS, stores

    # no fault kinds: the fault-free world, then the 2 seeds as swarm worlds (no single-fault ones)
    pytester.makepyfile(workflows=WORKFLOWS, test_probe=PROBE.format(marker=", faults='none'"))
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    monkeypatch.delenv(PG_DSN_ENV, raising=False)
    out = pytester.runpytest("--durable-store=postgres")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines([f"ERROR: --durable-store: the postgres store needs {PG_DSN_ENV} set to *"])
    monkeypatch.setenv(PG_DSN_ENV, postgres_dsn)
    pytester.runpytest("--durable-store=postgres").assert_outcomes(passed=1)
    assert stores(pytester) == ["PostgresStore"] * 3
    assert schemas(postgres_dsn) == []
