"""The kill -9 soak: worker processes over a real store, killed at random while fan-outs run.

Shared by the quick variant in the default suite and the full one (``-m soak``). Three worker
processes serve ``tests.helpers.live_app``; the test starts fan-outs of ``children`` leaves, and a killer
SIGKILLs a random worker every few hundred milliseconds and starts a new one in its place, until
``kills`` kills. Then every workflow must complete with the right value, no leaf body may have
started after its promise resolved, every effect must be there exactly once, and the seven task
invariants must hold on the final store.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import attrs

from pytest_durable.core.invariants import task_invariant_violations
from pytest_durable.core.records import PromiseState
from pytest_durable.live import open_store
from pytest_durable.live.threaded import Threaded

ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class SoakReport:
    kills: int
    workflows: int
    children: int
    bodies: int
    reexecuted_after_resolve: list[str]
    missing_effects: int
    duplicate_effects: int
    wrong_values: list[str]
    invariant_breaks: list[str]
    seconds: float

    def line(self, store: str) -> str:
        return (f"{store}: {self.kills} kills, {self.workflows} workflows of {self.children} children completed; "
                f"{self.bodies - self.workflows * self.children} leaf bodies ran again (before their promise "
                f"resolved), {len(self.reexecuted_after_resolve)} after; {self.seconds:.1f} s")


def _worker(url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_durable", "--store", url, "worker", "tests.helpers.live_app", "--ttl", "2",
         "--poll", "0.05"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _start(store: Threaded, root: str, children: int) -> None:
    import trio

    from pytest_durable.core.clock import WallClock
    from pytest_durable.sdk.worker import Worker
    from tests.helpers.live_app import fan_out

    async def start() -> None:
        client = Worker(store, clock=WallClock())
        client.register(fan_out)
        await client.run(root, fan_out, root, children)

    trio.run(start)


def soak(url: str, tmp: Path, *, kills: int, workflows: int, children: int, workers: int = 3,
         pause: tuple[float, float] = (0.1, 0.4), seed: int = 0, limit: float = 170.0) -> SoakReport:
    """Run the soak against the store at ``url`` and report what happened (the caller asserts)."""
    rng = random.Random(seed)
    effects = tmp / "effects.db"
    env = {**os.environ, "DURABLE_EFFECTS": str(effects), "PYTHONPATH": str(ROOT)}
    os.environ["DURABLE_EFFECTS"] = str(effects)
    log = tmp / "workers.log"
    began = time.monotonic()
    store = open_store(url)
    procs = [_worker(url, env, log) for _ in range(workers)]
    roots: list[str] = []
    every = max(1, kills // workflows)  # start a new fan-out every this many kills, so kills land mid-run
    try:
        done = 0
        while done < kills:
            if done % every == 0 and len(roots) < workflows:
                roots.append(f"soak{len(roots)}")
                _start(store, roots[-1], children)
            time.sleep(rng.uniform(*pause))
            victim = rng.randrange(len(procs))
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            procs[victim] = _worker(url, env, log)
            done += 1
            if time.monotonic() - began > limit:
                raise AssertionError(f"soak: only {done} kills in {limit:g} s")
        while len(roots) < workflows:
            roots.append(f"soak{len(roots)}")
            _start(store, roots[-1], children)
        deadline = time.monotonic() + limit
        while True:
            records = store.promise_map()
            if all(records[r].settled for r in roots):
                break
            if time.monotonic() > deadline:
                pending = [r for r in roots if not records[r].settled]
                raise AssertionError(f"soak: {pending} did not complete; see {log}")
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    records = dict(store.promise_map())
    want = sum(i * 2 for i in range(children))
    wrong = [f"{r}: {records[r].state.value} {records[r].value}" for r in roots
             if records[r].state is not PromiseState.RESOLVED or records[r].value != str(want)]
    with closing(sqlite3.connect(effects)) as db:
        bodies = db.execute("select child, at from bodies").fetchall()
        counts = dict(db.execute("select child, count(*) from effects group by child").fetchall())
    after = sorted({child for child, at in bodies
                    if child in records and records[child].settled_on is not None and at > records[child].settled_on})
    expected = {f"{r}.{i}" for r in roots for i in range(children)}
    breaks = task_invariant_violations(store.tasks(), records)
    return SoakReport(kills=kills, workflows=len(roots), children=children, bodies=len(bodies),
                      reexecuted_after_resolve=after, missing_effects=len(expected - set(counts)),
                      duplicate_effects=sum(1 for n in counts.values() if n > 1), wrong_values=wrong,
                      invariant_breaks=breaks, seconds=time.monotonic() - began)
