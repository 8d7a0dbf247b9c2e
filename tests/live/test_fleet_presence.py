"""``get`` and ``tree`` say when no worker serves the group a task waits for, and ``tree`` fails on a task stopped
by an error (issue 25, item 6). Worker processes here are real ones, started and stopped by signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from pytest_durable.core.clock import WallClock
from pytest_durable.core.codec import encode_call
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.live import open_store

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.helpers.fleet_app"
NONE_SEEN = "no worker serves it — none seen in the last 90 s"


def cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_durable", "--store", store, *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def start_worker(started: list[subprocess.Popen[str]], store: str, group: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", store, "worker", APP, "--group", group],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    started.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f"serving group {group!r}" in line, line
    return proc


def wait_for_line(store: str, id: str, pattern: str) -> str:
    """``get ID``'s line once it matches ``pattern`` (the workflow gets there by itself; the deadline only
    keeps a broken run from hanging the suite)."""
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        line = cli("get", id, store=store).stdout.strip()
        if re.fullmatch(pattern, line):
            return line
    raise AssertionError(f"get {id} never matched {pattern!r}; last: {line!r}")


def test_get_and_tree_say_no_worker_serves_a_group_until_one_does(tmp_path: Path,
                                                                  workers: list[subprocess.Popen[str]]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    start_worker(workers, store, "default")
    assert cli("run", "order-3", f"{APP}:order", '["order-3"]', store=store).returncode == 0
    # The workflow suspends on its rpc; nobody has ever served billing.
    got = wait_for_line(store, "order-3.0", r"order-3\.0 pending.*")
    assert got == f"order-3.0 pending (rpc to group 'billing': {NONE_SEEN})"
    shown = cli("tree", "order-3", store=store)
    assert shown.returncode == 0, shown
    assert shown.stdout.splitlines() == [
        "order-3  order('order-3')  pending",
        f"└── order-3.0  charge('order-3')  pending (rpc to group 'billing': {NONE_SEEN})",
    ]
    # A billing worker takes it; then it stops cleanly, and the next order's rpc says when.
    billing = start_worker(workers, store, "billing")
    done = cli("get", "order-3", "--wait", store=store)
    assert done.stdout == 'order-3 resolved → "charged order-3"\n', done
    billing.send_signal(signal.SIGTERM)
    assert billing.wait(timeout=60) == 0
    assert cli("run", "order-4", f"{APP}:order", '["order-4"]', store=store).returncode == 0
    wait_for_line(store, "order-4.0", r"order-4\.0 pending \(rpc to group 'billing': no worker serves it — the "
                                      r"last one stopped \d+ s ago\)")
    # A root waiting for a group nobody serves says so too (no parent: no "rpc to").
    assert cli("run", "audit-1", f"{APP}:charge", '["audit-1"]', "--group", "audit", store=store).returncode == 0
    assert cli("get", "audit-1", store=store).stdout == f"audit-1 pending (group 'audit': {NONE_SEEN})\n"


def test_tree_exits_1_when_it_shows_a_task_stopped_by_nondeterminism(tmp_path: Path,
                                                                    workers: list[subprocess.Popen[str]]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"

    async def plant() -> None:  # a record of child 0 made by another call than the code makes now
        s = open_store(store)
        await s.create_promise("order-9.0", encode_call("refund", ["order-9"], {}), WallClock().now() + 3600,
                               {TAG_PARENT: "order-9"})

    trio.run(plant)
    start_worker(workers, store, "default")
    assert cli("run", "order-9", f"{APP}:order", '["order-9"]', store=store).returncode == 0
    wait_for_line(store, "order-9", r"order-9 pending; its task stopped \d+ time\(s\), last: NondeterminismError.*")
    shown = cli("tree", "order-9", store=store)
    assert shown.returncode == 1, shown
    assert shown.stdout.splitlines()[0] == "order-9  order('order-9')  pending"
    assert re.search(r"^!! order-9: its task stopped \d+ time\(s\), last: NondeterminismError", shown.stdout, re.M)
