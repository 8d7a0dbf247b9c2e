"""A worker's log lines and metrics, from real worker processes over a SQLite file (issue 25, item 6):
roots started, finished and failed, a task taken over after its worker was killed with SIGKILL, in the
text and the json log format; and ``/metrics`` scraped over HTTP. Nothing is mocked."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.helpers.observed_app"


class Proc:
    """A worker process whose output lines are collected by a thread as they come."""

    def __init__(self, store: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "pytest_durable", "--store", store, "worker", APP, "--ttl", "2", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, what: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if what(line)]
            if found:
                return found[0]
            if self.popen.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no such line; the worker said:\n" + "\n".join(self.lines))

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in list(self.lines)]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait(timeout=30)
        self._reader.join(timeout=30)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop()


def cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest_durable", "--store", store, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def run(store: str, id: str, target: str, args: str) -> None:
    done = cli(store, "run", id, f"{APP}:{target}", args)
    assert done.returncode == 0, done.stderr


def worker_id(proc: Proc, *, json_format: bool) -> str:
    line = proc.wait_for(lambda line: "serving group" in line)
    if json_format:
        return str(json.loads(line)["worker"])
    return line.split()[2]


def wait_for_file(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def event(proc: Proc, name: str, id: str) -> dict[str, object]:
    """The first json line of event ``name`` about ``id``."""
    proc.wait_for(lambda line: f'"event": "{name}"' in line and f'"id": "{id}"' in line)
    return next(e for e in proc.json_lines() if e["event"] == name and e["id"] == id)


def test_a_worker_logs_each_root_start_finish_and_failure_and_each_takeover_as_text_and_json(
        tmp_path: Path, procs: list[Proc]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    a = Proc(store)  # text, the default
    procs.append(a)
    a_id = worker_id(a, json_format=False)
    run(store, "ok-a", "greet", '["a"]')
    run(store, "no-a", "refuse", '["out of stock"]')
    run(store, "fatal-a", "give_up", "[3]")
    assert a.wait_for(lambda line: "ok-a started" in line) == f"durable worker {a_id}: ok-a started: greet (attempt 1)"
    assert a.wait_for(lambda line: "ok-a resolved" in line) == f"durable worker {a_id}: ok-a resolved: greet"
    assert a.wait_for(lambda line: "no-a rejected" in line) == f"durable worker {a_id}: no-a rejected: refuse"
    failed = a.wait_for(lambda line: "task fatal-a:" in line)
    assert failed.startswith(f"durable worker {a_id}: task fatal-a: UserBaseException at fatal-a: "), failed
    run(store, "held-1", "hold", json.dumps([str(tmp_path / "mark-1")]))
    wait_for_file(tmp_path / "mark-1")

    b = Proc(store, "--log-format", "json")
    procs.append(b)
    b_id = worker_id(b, json_format=True)
    a.popen.send_signal(signal.SIGKILL)  # held-1's lease runs out in 2 s; b takes it over
    took = event(b, "takeover", "held-1")
    assert {k: took[k] for k in ("level", "worker", "function", "from")} == {
        "level": "warning", "worker": b_id, "function": "hold", "from": a_id}
    finished = event(b, "finished", "held-1")
    assert (finished["state"], finished["function"], finished["worker"]) == ("resolved", "hold", b_id)
    run(store, "ok-b", "greet", '["b"]')
    run(store, "fatal-b", "give_up", "[4]")
    assert event(b, "started", "ok-b")["function"] == "greet"
    assert event(b, "finished", "ok-b")["state"] == "resolved"
    fatal = event(b, "failed", "fatal-b")
    assert (fatal["level"], fatal["culprit"]) == ("error", "fatal-b")
    assert str(fatal["error"]).startswith("UserBaseException at fatal-b: ")
    for line in b.json_lines():  # every line has the stable keys, first and in order
        assert list(line)[:7] == ["time", "level", "event", "worker", "id", "function", "message"], line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["time"])), line
    assert not [e for e in b.json_lines() if e["level"] == "debug"]  # INFO, the default, hides the rest
    run(store, "held-2", "hold", json.dumps([str(tmp_path / "mark-2")]))
    wait_for_file(tmp_path / "mark-2")

    c = Proc(store, "--log-level", "debug")
    procs.append(c)
    worker_id(c, json_format=False)
    b.popen.send_signal(signal.SIGKILL)
    c_id = worker_id(c, json_format=False)
    line = c.wait_for(lambda line: "held-2 taken over" in line)
    assert line == f"durable worker {c_id}: held-2 taken over from {b_id}, whose lease ran out: hold"
    assert c.wait_for(lambda line: "held-2 resolved" in line) == f"durable worker {c_id}: held-2 resolved: hold"
    assert c.wait_for(lambda line: "held-2 acquired" in line)  # DEBUG adds every acquire and resume
    assert c.wait_for(lambda line: "held-2 resumed: hold (attempt 2)" in line)
    assert not [line for line in a.lines + c.lines if "taken over" in line and "held-1" in line]


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_a_worker_serves_its_metrics_and_they_count_what_it_did(tmp_path: Path, procs: list[Proc]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    first = Proc(store)
    procs.append(first)
    worker_id(first, json_format=False)
    run(store, "held", "hold", json.dumps([str(tmp_path / "mark")]))
    wait_for_file(tmp_path / "mark")
    first.popen.send_signal(signal.SIGKILL)

    metered = Proc(store, "--metrics-port", "0", "--metrics-host", "127.0.0.1")
    procs.append(metered)
    port = int(metered.wait_for(lambda line: "serving metrics on" in line).rsplit(":", 1)[1].split("/")[0])
    for n in range(3):
        run(store, f"ok-{n}", "greet", json.dumps([str(n)]))
    run(store, "no", "refuse", '["no"]')
    run(store, "fatal", "give_up", "[5]")
    for id in ("ok-0", "ok-1", "ok-2", "held"):
        metered.wait_for(lambda line, id=id: f"{id} resolved" in line)
    metered.wait_for(lambda line: "no rejected" in line)
    metered.wait_for(lambda line: "task fatal:" in line)

    deadline = time.monotonic() + 30
    while (values := scrape(port))["durable_tasks_running"] != 0:  # the last task's release comes last
        assert time.monotonic() < deadline, values
        time.sleep(0.05)
    assert values['durable_roots_finished_total{state="resolved"}'] == 4
    assert values['durable_roots_finished_total{state="rejected"}'] == 1
    assert values["durable_tasks_taken_over_total"] == 1
    assert values['durable_tasks_failed_total{kind="fatal"}'] >= 1  # a worker tries it again, 5 s later
    assert values['durable_tasks_due{group="default"}'] == 0
    assert values['durable_store_request_seconds_count{operation="acquire_task"}'] >= 6
    assert values['durable_store_request_seconds_count{operation="fulfill_task"}'] >= 5
    assert values['durable_store_request_seconds_sum{operation="fulfill_task"}'] > 0


def test_a_metrics_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(f"sqlite:///{tmp_path / 'app.db'}", "worker", APP, "--metrics-port", str(port),
                   "--metrics-host", "127.0.0.1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"error: worker --metrics-port: port {port} on 127.0.0.1 is in use; pick another port, "
                           "or stop what holds it\n")
    bad = cli(f"sqlite:///{tmp_path / 'app.db'}", "worker", APP, "--metrics-port", "70000")
    assert (bad.returncode, bad.stderr) == (
        2, "error: worker --metrics-port: 70000 is not a port; give one in 0..65535 (0: any free one)\n")
