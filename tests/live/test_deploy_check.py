"""The deploy check on a real deployment (issue 24's first "done when"): worker processes run version 1
of the order workflow (``examples/deploy``) over a SQLite file or PostgreSQL, and are killed with ``kill -9``
while roots are in flight: some settled, some in the pick-up wait (past the charge), one not started by any
worker. ``check-deploy`` then names each root the reordered version 2 breaks and its first differing child,
and passes the leaf-only and the patched versions, from the store and from exported files;
``check-patch`` names the roots in flight that take the patch's old path until a version 1 worker has
finished them. Nothing is mocked: the workers are ``python -m pytest_durable worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_durable.core.records import PromiseRecord
from pytest_durable.live import open_store
from pytest_durable.live.cli import main
from pytest_durable.testing.pgserver import PgServer

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
V1 = "examples.deploy.orders_v1"
DONE = ("order-1", "order-2")  # settled before the kill
WAITING = ("order-3", "order-4")  # in the pick-up wait when the workers die: past the charge
UNSTARTED = "order-5"  # started after the kill: no worker has run it yet


def cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_durable", "--store", store, *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120)


def worker(store: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", store, "worker", V1, "--ttl", "1",
                             "--poll", "1"], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True)


def promises(store: str) -> dict[str, PromiseRecord]:
    opened = open_store(store)
    try:
        return {r.id: r for r in opened.promises()}
    finally:
        opened.close()


def wait_until(store: str, ready: Callable[[dict[str, PromiseRecord]], bool], what: str) -> None:
    """Poll the store (one connection) until ``ready`` holds of its promises."""
    opened = open_store(store)
    try:
        deadline = time.monotonic() + 60
        while not ready({r.id: r for r in opened.promises()}):
            assert time.monotonic() < deadline, f"gave up waiting: {what}"
            time.sleep(0.02)
    finally:
        opened.close()


def start(store: str, root: str, lines: int) -> None:
    """``run ROOT examples.deploy.orders_v1:fulfil`` (in this process: the same ``main``, no start-up)."""
    assert main(["--store", store, "run", root, f"{V1}:fulfil", f'["{root}", {lines}]']) == 0


def record_v1_and_kill(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Two workers on version 1; roots settled and in the pick-up wait; ``kill -9`` both; one more root."""
    fleet = [worker(store), worker(store)]
    try:
        for root in DONE:
            start(store, root, 2)
        wait_until(store, lambda ps: all(ps.get(r) is not None and ps[r].settled for r in DONE), "settled roots")
        for root in WAITING:
            start(store, root, 3)
        # the pick-up timer (2 s) is the root's fifth child (three reservations, the charge): made after the charge
        wait_until(store, lambda ps: all(f"{r}.4" in ps for r in WAITING), "roots in the pick-up wait")
    finally:
        for proc in fleet:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    start(store, UNSTARTED, 1)
    capsys.readouterr()
    records = promises(store)
    assert [records[r].settled for r in (*DONE, *WAITING, UNSTARTED)] == [True, True, False, False, False]


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """``python -m pytest_durable ARGV`` in this process (the same ``main``): its exit code and lines."""
    code = main(list(argv))
    out = capsys.readouterr()
    assert out.err == "", out.err
    return code, out.out.splitlines()


def assert_checks(capsys: pytest.CaptureFixture[str], *source: str) -> None:
    """``check-deploy`` over ``source`` (``--store URL`` or ``--histories DIR``) with each version 2."""
    code, lines = check(capsys, "check-deploy", "examples.deploy.orders_v2_reordered", *source)
    assert code == 1, lines
    broken = {line.split(" ")[0] for line in lines if "BREAKS" in line}
    assert broken == {*DONE, *WAITING}
    for root in (*DONE, *WAITING):  # each names its first differing child: the reservation moved
        n = 2 if root in DONE else 3
        assert (f"  - {root} fulfil('{root}', {n}): child {root}.0 was recorded as reserve('{root}', 0); "
                f"the new code calls charge('{root}', {10 * n})") in lines
    assert f"{UNSTARTED} (pending): compatible; next: fulfil {UNSTARTED}.0 ctx.run(charge('{UNSTARTED}', 10))" in lines
    assert lines[-1] == "5 roots checked: 1 compatible, 4 broken (3 in flight)"

    for version, old_path in (("orders_v2_leaf_only", ""), ("orders_v2_patched", "; takes the old path of patch "
                                                                              "'fraud-check'")):
        code, lines = check(capsys, "check-deploy", f"examples.deploy.{version}", *source)
        assert code == 0, lines
        assert lines[-1] == "5 roots checked: 5 compatible, 0 broken (3 in flight)"
        assert [line for line in lines if line.startswith(DONE)] == [f"{root} (resolved): compatible" for root in DONE]
        for root in WAITING:  # next: the pick-up wait, or the shipping once its timer has fired (due by now or not)
            assert (f"{root} (pending): compatible; next: fulfil awaits {root}.4 ctx.sleep(2.0) (pending){old_path}"
                    in lines) != (f"{root} (pending): compatible; next: fulfil {root}.5 ctx.run(ship('{root}'))"
                                  f"{old_path}" in lines), lines


def assert_patch_retires_once_v1_finishes(capsys: pytest.CaptureFixture[str], store: str) -> None:
    code, lines = check(capsys, "check-patch", "fraud-check", "examples.deploy.orders_v2_patched", "--store", store)
    assert code == 1, lines
    assert lines[0] == ("patch 'fraud-check' may not be retired yet: 2 executions in flight take its old path "
                        "(3 in flight checked):")
    assert [line.split(";")[0] for line in lines[1:]] == [f"  {r}" for r in WAITING]
    finisher = worker(store)  # version 1 finishes what it started (the killed workers' leases expire first)
    try:
        wait_until(store, lambda ps: all(ps[r].settled for r in (*WAITING, UNSTARTED)), "version 1 finishing")
    finally:
        finisher.terminate()
        finisher.wait(timeout=30)
    code, lines = check(capsys, "check-patch", "fraud-check", "examples.deploy.orders_v2_patched", "--store", store)
    assert (code, lines) == (0, ["patch 'fraud-check' may be retired: no execution in flight takes its old path "
                                 "(0 in flight checked)"])


def test_check_deploy_over_sqlite_and_exported_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    record_v1_and_kill(store, capsys)
    # once through a process of its own, as a CI step runs it
    done = cli(store, "check-deploy", "examples.deploy.orders_v2_reordered")
    assert done.returncode == 1 and done.stderr == "", done.stderr
    assert done.stdout.splitlines()[-1] == "5 roots checked: 1 compatible, 4 broken (3 in flight)"
    assert_checks(capsys, "--store", store)

    code, lines = check(capsys, "export", "--out", str(tmp_path / "histories"), "--store", store)
    assert (code, lines) == (0, [f"wrote 5 histories to {tmp_path / 'histories'}"])
    assert_checks(capsys, "--histories", str(tmp_path / "histories"))
    assert_patch_retires_once_v1_finishes(capsys, store)


def test_check_deploy_over_postgresql(pg_server: PgServer, postgres_dsn: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    dbname = postgres_dsn.rsplit("dbname=", 1)[1].strip("'")
    store = f"postgresql://{pg_server.user}@/{dbname}?host={pg_server.socket_dir}&port={pg_server.port}"
    record_v1_and_kill(store, capsys)
    assert_checks(capsys, "--store", store)
    assert_patch_retires_once_v1_finishes(capsys, store)
