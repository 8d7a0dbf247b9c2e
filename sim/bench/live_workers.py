"""``python -m sim bench live``: the live runtime's own figures (``live_runtime``: latency, children per
second, an idle worker's CPU and store queries, over SQLite and PostgreSQL), then the same crash-recovery
scenario in the simulator and for real, side by side.

The scenario: a workflow fans out ``n`` leaves; its worker dies half-way (the simulator's planned crash
before a middle child settles; for real, ``kill -9`` of a worker process once half the children have
resolved over a SQLite file); a worker takes over and the workflow completes. The simulator runs it over
the in-memory store and over SQLite; the real run starts worker processes (``python -m pytest_durable
worker``) with a 1 s lease, so recovery waits about one lease. Printed: scenarios per second for each,
and how many times more the simulator runs in the same wall time. Last, a worker restarted after such a
kill of a 1,000-child fan-out, under its stable id and under a new one (``live_restart``), with the
default 30 s lease: the lease the stable id saves, as a ratio.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from pytest_durable.core.clock import WallClock
from pytest_durable.live import open_store
from pytest_durable.live.threaded import Threaded
from pytest_durable.sdk import Context, Worker, function

from ..runner import run_world
from ..scenario import Scenario
from ..world import world_store

ROOT = Path(__file__).resolve().parents[2]


@function
async def live_item(i: int) -> int:
    """A leaf with a little real work (a few milliseconds of waiting, as an API call would)."""
    await trio.sleep(0.002 * (i % 5))
    return 2 * i


@function
async def live_fan_out(ctx: Context, n: int) -> int:
    futures = [await ctx.run(live_item, i).spawn() for i in range(n)]
    return sum([await f for f in futures])


def expected(n: int) -> int:
    return sum(2 * i for i in range(n))


def simulated(n: int, runs: int, store: str) -> float:
    """Scenarios per second in the simulator: one planned crash of the only worker before the middle
    child settles, then its restart completes the workflow."""
    scenario = Scenario(live_fan_out, (n,), functions=(live_item,), root_id="job", workers={"default": 1},
                        expected=expected(n), isolate=False)
    plan = f"crash(w1, before_settle, job.{n // 2})"
    began = time.perf_counter()
    for seed in range(runs):
        with world_store(store) as made:
            result = run_world(scenario, seed=seed, faults="none", plan=plan, store=made)
        if not result.ok or result.fault_counts.get("crash") != 1:
            raise SystemExit(f"bench live: the simulated scenario failed at seed {seed}: {result.violations}")
    return runs / (time.perf_counter() - began)


def _worker(url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", url, "worker", "sim.bench.live_workers",
                             "--ttl", "1", "--poll", "0.02"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def _start(store: Threaded, root: str, n: int) -> None:
    client = Worker(store, clock=WallClock())
    client.register(live_fan_out)
    await client.run(root, live_fan_out, n)


def real(n: int, runs: int) -> tuple[float, float]:
    """Scenarios per second for real, and the mean seconds from the kill to completion."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    recoveries: list[float] = []
    began = time.perf_counter()
    for run in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            store = open_store(url)
            first = _worker(url, env)

            root = f"job{run}"
            trio.run(_start, store, root, n)
            while sum(1 for r in store.promises() if r.settled and r.id.startswith(root + ".")) < n // 2:
                time.sleep(0.002)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.perf_counter()
            second = _worker(url, env)
            try:
                while not (record := store.promise(root)) or not record.settled:
                    time.sleep(0.005)
                recoveries.append(time.perf_counter() - killed)
                if record.value != str(expected(n)):
                    raise SystemExit(f"bench live: the real workflow {root} ended {record.state.value} {record.value}")
            finally:
                second.terminate()
                second.wait()
            store.close()
    return runs / (time.perf_counter() - began), sum(recoveries) / len(recoveries)


def main(*, n: int = 20, runs: int = 5, sim_runs: int = 200, runtime: bool = True) -> int:
    """Both benchmarks (``runtime=False``: the crash-recovery scenario alone); ``runs`` is the number of
    seed workflows timed and of real crash-recovery scenarios."""
    if runtime:
        from .live_runtime import main as runtime_main

        runtime_main(runs=runs)
    print(f"crash-recovery scenario: a fan-out of {n}, its worker killed half-way, another completes it")
    memory = simulated(n, sim_runs, "memory")
    sqlite = simulated(n, sim_runs, "sqlite")
    live, recovery = real(n, runs)
    print(f"{'where':<34} {'scenarios/s':>12} {'x real':>8}")
    print(f"{'simulator, memory store':<34} {memory:>12.1f} {memory / live:>8.0f}")
    print(f"{'simulator, SQLite store':<34} {sqlite:>12.1f} {sqlite / live:>8.0f}")
    print(f"{'real processes, SQLite, kill -9':<34} {live:>12.2f} {1:>8}")
    print(f"real recovery: {recovery:.2f} s on average from the kill to the result (a 1 s lease, a process start)")
    restarts()
    return 0


def restarts(n: int = 1000, ttl: float = 30.0) -> None:
    """A worker killed half-way through a fan-out of ``n`` and restarted at once, under its stable id and
    under a new one, over SQLite and PostgreSQL (``live_restart``)."""
    from .live_restart import compare, line
    from .live_runtime import _postgres

    print(f"restart: a fan-out of {n}, its worker killed (kill -9) half-way and started again at once")
    with tempfile.TemporaryDirectory() as folder:
        same, new = compare(f"sqlite:///{Path(folder) / 'restart.db'}", Path(folder), n=n, ttl=ttl)
        print(line("sqlite", same, new, ttl))
    with tempfile.TemporaryDirectory() as folder, _postgres(ROOT) as (url, _):
        same, new = compare(url, Path(folder), n=n, ttl=ttl)
        print(line("postgres", same, new, ttl))
