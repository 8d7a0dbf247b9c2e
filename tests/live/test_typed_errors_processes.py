"""A rejection caught by its class in other processes (issue 23, item 4): a worker process runs a charge
that the card declines and catches ``CardDeclined``; it stops while the workflow waits for a confirmation;
another worker process resumes it, replays the recorded rejection and catches it by its class again; and
this process, a third, reads the charge's promise as a ``CardDeclined`` too. Real processes over a SQLite
file; nothing is mocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_durable import Rejected
from pytest_durable.live import open_store
from pytest_durable.sdk import result_of
from tests.helpers.saga_shapes import CardDeclined

ROOT = Path(__file__).resolve().parents[2]
BOOKING = {"$t": "attrs", "cls": "tests.helpers.saga_shapes:Booking", "v": {"id": "b-9", "card": "declined-1",
                                                                          "amount": 40}}


def cli(*args: str, store: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_durable", "--store", store, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def worker(store: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", store, "worker",
                             "tests.helpers.saga_shapes", "--ttl", "3"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_another_worker_process_catches_the_replayed_rejection_by_its_class(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = cli("run", "trip", "tests.helpers.saga_shapes:book_and_confirm", json.dumps([BOOKING]), store=store,
                  env=env)
    assert started.returncode == 0, started.stderr
    first = worker(store, env)
    watch = open_store(store)
    try:
        deadline = time.monotonic() + 60
        while "trip.confirm" not in {r.id for r in watch.promises()}:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the first worker never reached the confirmation"
            time.sleep(0.05)
    finally:
        first.terminate()
        out, _ = first.communicate(timeout=30)
    assert first.returncode == 0, out
    records = {r.id: r for r in open_store(store).promises()}  # type: ignore[attr-defined]
    # this process (a third one) reads the charge's rejection as the class the leaf raised
    with pytest.raises(CardDeclined) as info:
        result_of(records["trip.0"])
    assert isinstance(info.value, Rejected) and (info.value.code, info.value.amount) == ("51", 40)
    assert records["trip"].state.value == "pending"

    assert cli("resolve", "trip.confirm", "true", store=store, env=env).returncode == 0
    second = worker(store, env)
    try:
        done = cli("get", "trip", "--wait", store=store, env=env)
    finally:
        second.terminate()
        second.communicate(timeout=30)
    # only the second process ran the body after the confirmation: it caught the replayed rejection by class
    assert done.stdout.strip() == 'trip resolved → "declined 51 for 40"', done.stdout + done.stderr
