"""A worker restarted after ``kill -9`` half-way through a fan-out, for real: under its stable id
(``worker --id``) it takes its dead run's task back at once; under a new id the task waits out its
lease. ``python -m sim bench live`` prints both and their ratio; the live tests assert the first.

The workflow fans out ``n`` leaves; each leaf notes that its body started in a SQLite file of its own
(``$DURABLE_BODIES``), so a child that ran again after it resolved is found. The worker is killed once
half the children have resolved and a new process starts at once.
"""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs
import trio

from pytest_durable.core.clock import WallClock
from pytest_durable.core.records import PromiseState
from pytest_durable.live import open_store
from pytest_durable.sdk import Worker

from .restart_app import BODIES, restart_fan_out

ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class Restart:
    """One run: seconds from the root's start until half its children resolved, how many had resolved
    when the worker was killed, seconds from the restart (the new process started) until the root's task
    was taken again (a higher version) and until the result, whether the value was right, and the
    children resolved before the kill whose body started again."""

    n: int
    half_seconds: float
    resolved_at_kill: int
    taken_seconds: float
    restart_seconds: float
    value_ok: bool
    rerun: tuple[str, ...]

    @property
    def remaining_seconds(self) -> float:
        """The work left at the kill, at the rate the first run resolved children."""
        return self.half_seconds * (self.n - self.resolved_at_kill) / max(self.resolved_at_kill, 1)


def worker(url: str, env: dict[str, str], id: str, ttl: float, log: Path) -> subprocess.Popen[bytes]:
    """A worker process serving this module under ``id``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest_durable", "--store", url, "worker", "restart_app",
             "--id", id, "--ttl", f"{ttl:g}"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_line(log: Path, text: str, *, after: int = 0, limit: float = 60.0) -> None:
    """Until ``log`` holds ``text`` past byte ``after`` (a worker's "serving" line)."""
    deadline = time.monotonic() + limit
    while text.encode() not in log.read_bytes()[after:]:
        if time.monotonic() > deadline:
            raise SystemExit(f"live restart: no {text!r} in {log} after {limit:g} s:\n{log.read_text()}")
        time.sleep(0.01)


def _version(store: Any, id: str) -> int:
    version: int = next(t.version for t in store.tasks() if t.id == id)
    return version


async def _start(store: object, root: str, n: int) -> None:
    client = Worker(store, clock=WallClock())  # type: ignore[arg-type]
    client.register(restart_fan_out)
    await client.run(root, restart_fan_out, root, n)


def restart(url: str, folder: Path, *, n: int = 1000, ttl: float = 60.0, same_id: bool = True,
            root: str = "fan") -> Restart:
    """Run the scenario once over the store at ``url`` (files go in ``folder``)."""
    bodies = folder / f"{root}-bodies.db"
    with closing(sqlite3.connect(bodies, isolation_level=None)) as db:
        db.execute("pragma journal_mode=wal")
        db.execute("create table if not exists bodies (child text not null, at real not null)")
    env = {**os.environ, BODIES: str(bodies), "PYTHONPATH": os.pathsep.join((str(Path(__file__).parent), str(ROOT)))}
    log = folder / f"{root}-workers.log"
    log.touch()
    store = open_store(url)
    first = worker(url, env, f"{root}-1", ttl, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for_line(log, "serving")
        began = time.monotonic()
        trio.run(_start, store, root, n)
        prefix = root + "."
        while True:
            resolved = sum(1 for r in store.promises() if r.id.startswith(prefix) and r.settled)
            if resolved >= n // 2:
                break
            time.sleep(0.002)
        half = time.monotonic() - began
        first.send_signal(signal.SIGKILL)
        first.wait()
        size = log.stat().st_size
        restarted = time.monotonic()
        second = worker(url, env, f"{root}-1" if same_id else f"{root}-2", ttl, log)
        at_kill = {r.id: r.settled_on for r in store.promises()
                   if r.id.startswith(prefix) and r.state is PromiseState.RESOLVED}
        version = _version(store, root)
        taken = math.inf
        while not (record := store.promise(root)) or not record.settled:
            if taken == math.inf and _version(store, root) > version:
                taken = time.monotonic() - restarted
            time.sleep(0.005)
        took = time.monotonic() - restarted
        taken = min(taken, took)
        wait_for_line(log, "serving", after=size)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()  # a clean stop: nothing is left held for the next run
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        store.close()
    with closing(sqlite3.connect(bodies)) as db:
        started = db.execute("select child, count(*) from bodies group by child").fetchall()
    rerun = tuple(sorted(child for child, count in started if child in at_kill and count > 1))
    return Restart(n=n, half_seconds=half, resolved_at_kill=len(at_kill), taken_seconds=taken, restart_seconds=took,
                   value_ok=record.value == str(sum(2 * i for i in range(n))), rerun=rerun)




def compare(url: str, folder: Path, *, n: int = 1000, ttl: float = 30.0) -> tuple[Restart, Restart]:
    """The scenario under the dead worker's id, then under a new id (which waits out the lease)."""
    return (restart(url, folder, n=n, ttl=ttl, same_id=True, root="same"),
            restart(url, folder, n=n, ttl=ttl, same_id=False, root="new"))


def line(kind: str, same: Restart, new: Restart, ttl: float) -> str:
    """The figures of ``compare`` for one store, and their ratio."""
    return (f"{kind}: restart to result {same.restart_seconds:.1f} s under the same id (its task back after "
            f"{same.taken_seconds:.2f} s), {new.restart_seconds:.1f} s under a new id (after "
            f"{new.taken_seconds:.1f} s: the {ttl:g} s lease); {new.restart_seconds / same.restart_seconds:.1f}x")


__all__ = ["Restart", "compare", "line", "restart"]
