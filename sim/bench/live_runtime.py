"""The live runtime's own figures (issue 21, item 4), for SQLite and PostgreSQL: end-to-end latency of the
seed workflow (``examples/fan_out_fan_in.py``) on an idle worker, children per second for a 1,000-child
fan-out on one worker, and an idle worker's CPU and store queries.

Everything is real: a worker process (``python -m pytest_durable worker fan_out_fan_in``, with its
default ``--poll``), a client in this process (it waits with ``await_settled`` where the store has it,
else it reads the root every 2 ms, so the figure is the worker's and not a slow client's), a throwaway
PostgreSQL server. How queries are counted: PostgreSQL, every statement the server logs
(``log_statement = all`` on the bench's database) while only the idle worker is connected; SQLite, every
statement on the store's connection of an idle worker process that counts them
(``sqlite3.Connection.set_trace_callback``): ``BEGIN`` (a real transaction) apart from ``PRAGMA
data_version`` (a change check). CPU: user + system time of the idle worker process (``/proc``).

It imports nothing of the simulator and only what every version of the runtime has, so it can be copied
out and run against an older checkout (``python live_runtime.py --root CHECKOUT``) to compare.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
#: How long an idle worker is watched: longer than two of its longest periods (a long poll waits up to
#: 30 s, the sweeper's holder heartbeats every 30 s), so what it does now and then is in the figure.
IDLE_SECONDS = 65.0


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{root / 'examples'}{os.pathsep}{root}"}


@contextmanager
def _worker(url: str, root: Path) -> Iterator[subprocess.Popen[str]]:
    """A worker process serving the seed example, started and stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", url, "worker", "fan_out_fan_in"],
                            cwd=root, env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise SystemExit(f"bench live: the worker did not start: {line}{proc.stdout.read()}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


async def _settled(store: Any, id: str) -> Any:
    if hasattr(store, "await_settled"):
        while not (record := await store.await_settled(id, wait=30.0)).settled:
            pass
        return record
    while not (record := await store.get_promise(id)).settled:
        await trio.sleep(0.002)
    return record


async def _run_and_wait(store: Any, id: str, n: int | None) -> float:
    """Seconds from starting root ``id`` (the seed's three items, or ``n``) to seeing it resolved."""
    example: Any = importlib.import_module("fan_out_fan_in")  # examples/ is on sys.path (main puts it there)

    from pytest_durable.core.clock import WallClock
    from pytest_durable.sdk import Worker

    client = Worker(store, clock=WallClock())
    client.register(example.fan_out_fan_in, example.fan_out_fan_in_n, example.process_item)
    began = time.perf_counter()
    if n is None:
        await client.run(id, example.fan_out_fan_in, example.make_items(3))
    else:
        await client.run(id, example.fan_out_fan_in_n, example.make_items(n))
    record = await _settled(store, id)
    took = time.perf_counter() - began
    if record.state.value != "resolved":
        raise SystemExit(f"bench live: {id} ended {record.state.value}: {record.value}")
    return took


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(proc: subprocess.Popen[str]) -> float:
    """Percent of one core the idle worker used over ``IDLE_SECONDS``."""
    before, began = _cpu_seconds(proc.pid), time.perf_counter()
    time.sleep(IDLE_SECONDS)
    return 100.0 * (_cpu_seconds(proc.pid) - before) / (time.perf_counter() - began)


_COUNTING_WORKER = """
import sys, time, trio
sys.path[:0] = [{examples!r}, {root!r}]
import fan_out_fan_in as example
from pytest_durable.core.clock import WallClock
from pytest_durable.live import open_store, serve
store = open_store({url!r})
counts = {{"BEGIN": 0, "PRAGMA data_version": 0, "other": 0}}
on = [False]
def trace(sql):
    if on[0]:
        head = "BEGIN" if sql.startswith("BEGIN") else "PRAGMA data_version" if "data_version" in sql else "other"
        counts[head] += 1
store.engine.connection.set_trace_callback(trace)
async def main():
    with trio.move_on_after({warm} + {idle}):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: serve(store, [example.fan_out_fan_in, example.fan_out_fan_in_n,
                                                     example.process_item], clock=WallClock(), say=lambda s: None))
            await trio.sleep({warm})
            on[0] = True
            await trio.sleep({idle})
            on[0] = False
trio.run(main)
watch = getattr(getattr(store, "store", None), "watch", None)
print(counts["BEGIN"], counts["PRAGMA data_version"], counts["other"], getattr(watch, "checks", 0))
"""


def _sqlite_idle_queries(url: str, root: Path) -> tuple[float, float, float, float]:
    """(transactions, data_version asks, other statements, file checks) per second of an idle worker on
    SQLite (file checks: the file stats of the store's watch since the worker started, where it has one)."""
    code = _COUNTING_WORKER.format(examples=str(root / "examples"), root=str(root), url=url, warm=2.0,
                                   idle=IDLE_SECONDS)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=_env(root),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"bench live: the counting worker failed: {done.stderr[-2000:]}")
    begins, checks, other, stats = (int(x) for x in done.stdout.split()[-4:])
    return begins / IDLE_SECONDS, checks / IDLE_SECONDS, other / IDLE_SECONDS, stats / (IDLE_SECONDS + 2.0)


def _log_statements(log: Path, since: int) -> tuple[int, int, Counter[str]]:
    """(statements, BEGINs, statements by kind) the server logged after byte ``since`` of its log; a kind
    is the statement's first word, and for a SELECT the table it reads first (or the function it calls)."""
    with log.open("rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    statements = [line for line in lines if "LOG:  statement: " in line or "LOG:  execute " in line]
    kinds = Counter(_kind(line.split(": ", 2)[-1]) for line in statements)
    return len(statements), sum(1 for line in statements if ": BEGIN" in line), kinds


def _kind(sql: str) -> str:
    words = sql.split()
    head = words[0].upper() if words else "?"
    if head != "SELECT":
        return head
    found = re.search(r"\bFROM\s+(\w+)", sql) or re.search(r"SELECT\s+(\w+)\(", sql)
    return f"SELECT {found.group(1)}" if found else "SELECT"


@contextmanager
def _postgres(root: Path) -> Iterator[tuple[str, Path]]:
    """A throwaway server (the runtime's own ``pgserver`` command) with a database whose every statement is
    logged: (URL, the server's log). Stopped, and its directory removed, on the way out."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    for module in ("pytest_durable.testing.pgserver", "pytest_durable.live.pgserver"):  # an older checkout
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=root, env=_env(root), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        dsn = proc.stdout.readline().strip()
        if dsn:
            break
        proc.wait()
    else:
        raise SystemExit("bench live: could not start a PostgreSQL server (python -m pytest_durable.testing.pgserver)")
    try:
        parts = conninfo_to_dict(dsn)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
            admin.execute("ALTER DATABASE bench SET log_statement = 'all'")
        host, port, user = parts["host"], parts["port"], parts["user"]
        yield f"postgresql://{user}@/bench?host={host}&port={port}", Path(str(host)) / "postgres.log"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)


def measure(kind: str, runs: int, root: Path) -> dict[str, float]:
    """The figures for one kind of store (``sqlite`` or ``postgres``)."""
    from pytest_durable.live import open_store

    with tempfile.TemporaryDirectory() as folder, (_postgres(root) if kind == "postgres" else _nothing()) as pg:
        url = pg[0] if pg else f"sqlite:///{Path(folder) / 'bench.db'}"
        store = open_store(url)
        out: dict[str, float] = {}
        with _worker(url, root) as proc:
            time.sleep(1.0)
            latencies = []
            gaps = random.Random(21)
            for i in range(runs):
                # Idle again (a poll has backed off as far as it goes), for a drawn while, so that runs do not
                # lock onto the phase of a worker that polls on a clock.
                time.sleep(1.0 + gaps.random())
                latencies.append(trio.run(_run_and_wait, store, f"seed-{i}", None))
            out["latency_ms"] = 1000 * statistics.median(latencies)
            out["children_per_s"] = 1000 / trio.run(_run_and_wait, store, "thousand", 1000)
            store.close()
            time.sleep(2.0)
            since = pg[1].stat().st_size if pg else 0
            out["idle_cpu_pct"] = _idle_cpu(proc)
            if pg:
                statements, begins, kinds = _log_statements(pg[1], since)
                out["queries_per_s"], out["transactions_per_s"] = statements / IDLE_SECONDS, begins / IDLE_SECONDS
                out.update({f"kind {kind}": float(n) for kind, n in kinds.items()})
        if not pg:
            (out["transactions_per_s"], out["checks_per_s"], out["queries_per_s"],
             out["stats_per_s"]) = _sqlite_idle_queries(url, root)
        return out


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def report(kind: str, figures: dict[str, float]) -> None:
    print(f"{kind}: seed workflow latency on an idle worker {figures['latency_ms']:.1f} ms (median); "
          f"1,000-child fan-out {figures['children_per_s']:.0f} children/s on one worker")
    if kind == "postgres":
        print(f"  idle worker: {figures['idle_cpu_pct']:.2f} % of a core; {figures['queries_per_s']:.2f} statements/s "
              f"({figures['transactions_per_s']:.2f} transactions/s), as the server logged them")
        kinds = sorted(((n, k[5:]) for k, n in figures.items() if k.startswith("kind ")), reverse=True)
        print(f"  in {IDLE_SECONDS:g} s: " + ", ".join(f"{kind} {n:.0f}" for n, kind in kinds))
    else:
        print(f"  idle worker: {figures['idle_cpu_pct']:.2f} % of a core; {figures['transactions_per_s']:.2f} "
              f"transactions/s, {figures['queries_per_s']:.2f} other statements/s; change checks: "
              f"{figures['checks_per_s']:.1f} PRAGMA data_version/s, {figures['stats_per_s']:.1f} WAL file stats/s")


def main(*, runs: int = 5, root: Path = ROOT, kinds: tuple[str, ...] = ("sqlite", "postgres")) -> int:
    sys.path[:0] = [str(root / "examples"), str(root)]
    print(f"live runtime at {root}: {runs} runs of the seed workflow, an idle window of {IDLE_SECONDS:g} s")
    for kind in kinds:
        report(kind, measure(kind, runs, root))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose runtime is measured")
    parser.add_argument("--store", choices=["sqlite", "postgres"], action="append")
    options = parser.parse_args()
    raise SystemExit(main(runs=options.runs, root=options.root.resolve(),
                          kinds=tuple(options.store or ("sqlite", "postgres"))))
