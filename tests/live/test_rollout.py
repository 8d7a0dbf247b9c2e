"""A rolling deploy with ``ctx.patched``, as a team runs one (issue 24, Done-when 3): worker processes on
``examples.deploy.orders_v1`` are killed with roots in flight, some past the charge and waiting for the
pick-up slot, one half-way through its reservations; workers on ``examples.deploy.orders_v2_patched``
take over, and new roots start. Every root completes with the value version 1 would have given, the
executions recorded past the charge keep the old path (no fraud check, no marker), the others take the
new one, and nothing resolved before the deploy ran again. ``check-patch`` says the patch may not go
while an old-path root is in flight and may go once none is. Real processes over SQLite and
PostgreSQL; nothing is mocked, and no time is asserted (the deadlines are liveness bounds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from pytest_durable.core.clock import WallClock
from pytest_durable.core.codec import decode_call
from pytest_durable.core.ids import patch_marker_id
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.store import TAG_PARENT, TAG_PATCH
from pytest_durable.live import open_store
from pytest_durable.sdk import Worker
from tests.live.test_live_soak import pg_url

ROOT = Path(__file__).resolve().parents[2]
V1 = "examples.deploy.orders_v1"
V2 = "examples.deploy.orders_v2_patched"
PATCH = "fraud-check"
#: Far longer than any step here should take: reaching it means the rollout is stuck.
LIVENESS = 60.0

#: Roots version 1 takes past the charge before the kill: they wait for the pick-up slot (a 2 s timer).
CHARGED = {"order-a": 1, "order-b": 3}
#: A root killed half-way through its reservations (many lines, so the kill lands before the charge).
HALFWAY = {"order-c": 120}
#: Roots started once version 2 serves.
NEW = {"order-d": 2, "order-e": 1}


def expected(order: str, lines: int) -> str:
    """What ``fulfil`` returns in both versions (the fraud check lets every order here through)."""
    return f"{lines} reserved; {order} charged {10 * lines}; {order} shipped"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return pg_url(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'orders.db'}"


class Fleet:
    """The processes of one test: commands over ``url`` and the workers it started (killed at the end)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.workers: list[subprocess.Popen[str]] = []

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest_durable", "--store", self.url, *args]

    def worker(self, module: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(self.argv("worker", module, "--ttl", "1", "--poll", "1"), cwd=ROOT, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.workers.append(proc)
        return proc

    def serving(self, procs: list[subprocess.Popen[str]]) -> None:
        """Wait for each worker's first line: it serves."""
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "serving group 'default': " in line and "fulfil" in line, line

    def launch(self, *args: str) -> subprocess.Popen[str]:
        """Start one CLI command in its own process; ``finish`` collects what it did."""
        return subprocess.Popen(self.argv(*args), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    @staticmethod
    def finish(procs: list[subprocess.Popen[str]]) -> list[subprocess.CompletedProcess[str]]:
        done = []
        for proc in procs:
            out, err = proc.communicate(timeout=LIVENESS)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return done

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.finish([self.launch(*args)])[0]

    def runs(self, module: str, roots: dict[str, int]) -> list[subprocess.Popen[str]]:
        """``run`` each root of ``roots`` (order id -> lines) as ``module``'s ``fulfil``, all at once."""
        return [self.launch("run", order, f"{module}:fulfil", f'["{order}", {lines}]')
                for order, lines in roots.items()]

    @staticmethod
    def succeeded(procs: list[subprocess.Popen[str]]) -> None:
        for result in Fleet.finish(procs):
            assert result.returncode == 0, result

    def kill(self, procs: list[subprocess.Popen[str]]) -> None:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=LIVENESS)
            assert proc.returncode == -signal.SIGKILL

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=LIVENESS)


@pytest.fixture
def fleet(store_url: str) -> Iterator[Fleet]:
    f = Fleet(store_url)
    try:
        yield f
    finally:
        f.close()


async def start_here(url: str, order: str, lines: int) -> None:
    """Start root ``order`` of version 1 as a program would, with ``Worker.run`` (no body runs here)."""
    from examples.deploy import orders_v1

    store = open_store(url)
    try:
        client = Worker(store, clock=WallClock())
        client.register(orders_v1.fulfil)
        await client.run(order, orders_v1.fulfil, order, lines)
    finally:
        store.close()


def records(url: str) -> dict[str, PromiseRecord]:
    store = open_store(url)
    try:
        return {r.id: r for r in store.promises()}
    finally:
        store.close()


def until(url: str, what: str, holds: Callable[[dict[str, PromiseRecord]], bool]) -> dict[str, PromiseRecord]:
    """The store's promises once ``holds`` is true of them (read every 10 ms), or a failure naming ``what``."""
    deadline = time.monotonic() + LIVENESS
    while True:
        seen = records(url)
        if holds(seen):
            return seen
        assert time.monotonic() < deadline, f"the rollout never got there: {what}"
        time.sleep(0.01)


def children(seen: dict[str, PromiseRecord], root: str) -> dict[str, PromiseRecord]:
    return {id: r for id, r in seen.items() if r.tags.get(TAG_PARENT) == root}


def calls(seen: dict[str, PromiseRecord], root: str) -> list[tuple[str, str, tuple[object, ...]]]:
    """``(child id, function, arguments)`` of every child of ``root``, numbered ones in order, then the rest."""
    kids = children(seen, root)
    numbered = sorted((id for id in kids if id.rsplit(".", 1)[1].isdigit()), key=lambda id: int(id.rsplit(".", 1)[1]))
    others = sorted(set(kids) - set(numbered))
    out = []
    for id in [*numbered, *others]:
        call = decode_call(kids[id].param)
        out.append((id, call.func, call.args))
    return out


def old_path(order: str, lines: int) -> list[tuple[str, str, tuple[object, ...]]]:
    """The children version 1 records, and version 2 keeps for an execution recorded past the charge."""
    return [*((f"{order}.{n}", "reserve", (order, n)) for n in range(lines)),
            (f"{order}.{lines}", "charge", (order, 10 * lines)),
            (f"{order}.{lines + 1}", "durable.sleep", (2.0,)),
            (f"{order}.{lines + 2}", "ship", (order,))]


def new_path(order: str, lines: int) -> list[tuple[str, str, tuple[object, ...]]]:
    """The children version 2 records on the new path: the fraud check before the charge, and the marker
    (which numbers no child)."""
    return [*((f"{order}.{n}", "reserve", (order, n)) for n in range(lines)),
            (f"{order}.{lines}", "fraud_check", (order, 10 * lines)),
            (f"{order}.{lines + 1}", "charge", (order, 10 * lines)),
            (f"{order}.{lines + 2}", "durable.sleep", (2.0,)),
            (f"{order}.{lines + 3}", "ship", (order,)),
            (patch_marker_id(order, PATCH), "durable.patched", (PATCH,))]


def test_a_rollout_with_a_patch_completes_every_root_and_says_when_the_patch_may_go(fleet: Fleet) -> None:
    url = fleet.url
    v1 = [fleet.worker(V1), fleet.worker(V1)]
    fleet.serving(v1)

    # Version 1 takes the first roots past the charge: each waits for its pick-up slot.
    fleet.succeeded(fleet.runs(V1, CHARGED))
    until(url, "the first roots past the charge, waiting for the pick-up slot",
          lambda seen: all(f"{order}.{lines + 1}" in seen for order, lines in CHARGED.items()))
    # While they wait, another root starts (from this process, a client of the store: quicker than a
    # command, so the kill surely comes before their timers fire); the workers die half-way through
    # its reservations.
    (order_c, lines_c), = HALFWAY.items()
    trio.run(start_here, url, order_c, lines_c)
    until(url, f"{order_c}'s first reservation", lambda seen: f"{order_c}.0" in seen)
    fleet.kill(v1)
    before = records(url)
    assert all(before[order].state is PromiseState.PENDING for order in [*CHARGED, *HALFWAY])
    for order, lines in CHARGED.items():
        assert calls(before, order) == old_path(order, lines)[:-1]  # charged, the timer made, not shipped
        assert before[f"{order}.{lines}"].state is PromiseState.RESOLVED
    halfway = calls(before, order_c)
    assert 0 < len(halfway) < lines_c and all(func == "reserve" for _, func, _ in halfway), halfway

    # Before version 2 serves: the roots recorded past the charge would take the patch's old path.
    not_yet = fleet.command("check-patch", PATCH, V2)
    assert not_yet.returncode == 1, not_yet
    head, *named = not_yet.stdout.splitlines()
    assert head == (f"patch '{PATCH}' may not be retired yet: {len(CHARGED)} executions in flight take its old "
                    f"path ({len(CHARGED) + len(HALFWAY)} in flight checked):"), not_yet.stdout
    assert sorted(line.split(";")[0].strip() for line in named) == sorted(CHARGED), not_yet.stdout  # not order-c

    # Version 2 serves; new roots start meanwhile (each waits in the store for a worker), and every root
    # completes: ``get --wait`` on each, from its own process.
    v2 = [fleet.worker(V2), fleet.worker(V2)]
    started = fleet.runs(V2, NEW)
    waits = {order: fleet.launch("get", order, "--wait") for order in [*CHARGED, *HALFWAY]}
    fleet.serving(v2)
    fleet.succeeded(started)
    waits.update({order: fleet.launch("get", order, "--wait") for order in NEW})
    everyone = {**CHARGED, **HALFWAY, **NEW}
    for order, result in zip(waits, fleet.finish(list(waits.values())), strict=True):
        assert result.returncode == 0, result
        assert result.stdout.strip() == f'{order} resolved → "{expected(order, everyone[order])}"', result.stdout

    after = records(url)
    for order, lines in CHARGED.items():  # the old path: no fraud check, no marker
        assert calls(after, order) == old_path(order, lines)
    for order, lines in {**HALFWAY, **NEW}.items():  # the new path, the marker recorded once
        assert calls(after, order) == new_path(order, lines)
        marker = after[patch_marker_id(order, PATCH)]
        assert marker.tags[TAG_PATCH] == PATCH and marker.state is PromiseState.RESOLVED
    for id, record in before.items():  # what had settled before the deploy stayed as it was
        if record.settled:
            assert after[id] == record, id
    ours = {id: r for id, r in after.items() if id.split(".")[0] in everyone}
    assert all(r.state is PromiseState.RESOLVED for r in ours.values())  # no failed leaf attempt either

    # Nothing in flight takes the old path now: the patch may go.
    may_go = fleet.command("check-patch", PATCH, V2)
    assert may_go.returncode == 0, may_go
    assert may_go.stdout == f"patch '{PATCH}' may be retired: no execution in flight takes its old path (0 in flight " \
                            "checked)\n", may_go.stdout
