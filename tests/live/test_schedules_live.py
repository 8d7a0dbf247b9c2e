"""Durable schedules with real worker processes (issue 25, item 7): a schedule ticking every second
survives kill -9 of every worker at once; afterwards there is exactly one root per tick, the ticks are
contiguous (those missed while no worker lived were caught up), each root ran its work once (effects by
key), and no tick started after ``schedule delete`` returned. Over SQLite and PostgreSQL."""

from __future__ import annotations

import calendar
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.live import open_store
from pytest_durable.live.schedules import TAG_SCHEDULE, definition_id
from tests.live.test_live_soak import pg_url

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.helpers.schedule_app"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return pg_url(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'app.db'}"


class Fleet:
    """The worker processes of one test over ``url``; every one still alive is stopped at the end."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, env
        self.alive: list[subprocess.Popen[str]] = []
        self.killed: set[int] = set()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_durable", *args, "--store", self.url], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)

    def start(self, n: int) -> None:
        for _ in range(n):
            worker = subprocess.Popen([sys.executable, "-m", "pytest_durable", "worker", APP, "--ttl", "1",
                                       "--store", self.url], cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            assert worker.stdout is not None
            first = worker.stdout.readline()
            assert "serving group 'default': " in first, first
            self.alive.append(worker)

    def kill_all(self) -> None:
        """SIGKILL every worker at once: none gets to release anything."""
        for worker in self.alive:
            worker.send_signal(signal.SIGKILL)
        for worker in self.alive:
            worker.wait(timeout=30)
            self.killed.add(worker.pid)
        self.alive = []

    def stop(self) -> None:
        for worker in self.alive:
            worker.terminate()
        for worker in self.alive:
            worker.communicate(timeout=60)
        self.alive = []

    def definition(self, schedule: str) -> PromiseRecord:
        store = open_store(self.url)
        try:
            record = store.promise(definition_id(schedule))
            assert record is not None, f"no definition of schedule {schedule!r}"
            return record
        finally:
            store.close()

    def roots(self, schedule: str) -> dict[str, PromiseRecord]:
        """The roots ``schedule`` started, by id, as the store holds them."""
        store = open_store(self.url)
        try:
            return {p.id: p for p in store.promises()
                    if p.tags.get(TAG_SCHEDULE) == schedule and TAG_PARENT not in p.tags}
        finally:
            store.close()


@pytest.fixture
def fleet(store_url: str, tmp_path: Path) -> Iterator[Fleet]:
    env = {**os.environ, "DURABLE_EFFECTS": str(tmp_path / "effects.db"), "PYTHONPATH": str(ROOT)}
    fleet = Fleet(store_url, env)
    yield fleet
    fleet.stop()


def instant(root: str) -> int:
    return calendar.timegm(time.strptime(root.split("@", 1)[1], "%Y-%m-%dT%H:%M:%SZ"))


def wait_for(what: str, ready: Callable[[], bool], limit: float = 90.0) -> None:
    """Wait until ``ready()`` (the work happens in other processes); fail naming ``what`` at ``limit``."""
    deadline = time.monotonic() + limit
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_a_schedule_starts_one_root_per_tick_through_kill_9_of_every_worker(fleet: Fleet, tmp_path: Path) -> None:
    created = fleet.cli("schedule", "create", "beat", "@every 1s", f"{APP}:tick", "[7]")
    assert created.returncode == 0 and created.stdout.startswith("beat created: '@every 1s' tick [7]"), created
    fleet.start(2)
    wait_for("3 ticks", lambda: len(fleet.roots("beat")) >= 3)
    fleet.kill_all()
    killed_at = time.time()
    time.sleep(3.5)  # ticks fall due while no worker lives
    restarted_at = time.time()
    fleet.start(2)
    wait_for("3 ticks after the restart", lambda: max(map(instant, fleet.roots("beat"))) >= restarted_at + 3)
    deleted = fleet.cli("schedule", "delete", "beat")
    deleted_at = time.time()
    assert deleted.returncode == 0 and deleted.stdout.startswith("beat deleted"), deleted
    wait_for("every root to settle", lambda: all(r.settled for r in fleet.roots("beat").values()))
    time.sleep(2.5)  # a tick that starts after the delete would start by now
    roots = fleet.roots("beat")
    fleet.stop()
    created_on = fleet.definition("beat").created_on

    ticks = sorted(map(instant, roots))
    assert ticks[0] == math.floor(created_on) + 1, "the first tick is the first after the schedule was created"
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), "the ticks are contiguous, one root each"
    missed = [t for t in ticks if killed_at + 1 < t < restarted_at - 1]
    assert missed, f"ticks due while no worker lived were caught up ({killed_at=}, {restarted_at=})"
    assert ticks[-1] <= deleted_at, "no tick started after the delete returned"
    for id, record in roots.items():
        assert record.state is PromiseState.RESOLVED, (id, record.state)
        assert record.value is not None and id in record.value
    with closing(sqlite3.connect(tmp_path / "effects.db")) as db:
        effects = dict(db.execute("select root, count(*) from effects group by root").fetchall())
        bodies: dict[str, list[int]] = {}
        for root, pid in db.execute("select root, pid from bodies order by rowid"):
            bodies.setdefault(root, []).append(pid)
    assert effects == {id: 1 for id in roots}, "each tick's work recorded its effect once, none for no tick"
    for root, pids in bodies.items():  # a leaf runs again only if the worker running it was killed
        assert all(pid in fleet.killed for pid in pids[:-1]), (root, pids, fleet.killed)
    listed = fleet.cli("schedule", "ls")
    assert listed.stdout == "beat deleted: '@every 1s' tick [7] on group 'default'\n", listed
