"""``python -m pytest_durable``: worker processes and client commands over a SQLite file, as a user
runs them from a shell (issue 9, item 4). Every process here is a real one; nothing is mocked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from pytest_durable import TaskFailed
from pytest_durable.core.clock import WallClock
from pytest_durable.live import open_store
from pytest_durable.sdk.worker import Worker

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, store: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_durable", "--store", store, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[str]]]:
    """A store file, the environment of the app, and one worker process serving ``tests.helpers.live_app``."""
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "DURABLE_EFFECTS": str(tmp_path / "effects.db"), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "pytest_durable", "--store", store, "worker",
                               "tests.helpers.live_app", "--ttl", "3"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert worker.stdout is not None
    first = worker.stdout.readline()
    assert "serving group 'default': " in first and "fan_out" in first and "process_item" in first, first
    yield store, env, worker
    worker.terminate()
    out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    assert "stopping on SIGTERM" in out


def test_run_get_tree_and_ls_over_a_worker_process(deployment: tuple[str, dict[str, str], subprocess.Popen[str]]
                                                   ) -> None:
    store, env, _ = deployment
    started = cli("run", "batch-1", "tests.helpers.live_app:fan_out", '["batch-1", 4]', "--wait", store=store, env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "batch-1 resolved → 12"
    got = cli("get", "batch-1", store=store, env=env)
    assert got.stdout.strip() == "batch-1 resolved → 12"
    shown = cli("tree", "batch-1", store=store, env=env).stdout.splitlines()
    assert shown[0].startswith("batch-1  fan_out('batch-1', 4)  resolved → 12")
    assert [line.split()[1] for line in shown[1:]] == [f"batch-1.{i}" for i in range(4)]
    assert all("process_item('batch-1', " in line and "resolved" in line for line in shown[1:])
    listed = cli("ls", "--all", "--state", "resolved", store=store, env=env).stdout.splitlines()
    assert [line.split()[0] for line in listed[1:-1]] == ["batch-1"] + [f"batch-1.{i}" for i in range(4)]
    roots = cli("ls", store=store, env=env).stdout.splitlines()  # roots only, by default
    assert [line.split()[:3] for line in roots[1:]] == [["batch-1", "resolved", "fan_out"], ["1", "root;", "no"]]


def test_a_handle_in_another_process_gets_the_result(deployment: tuple[str, dict[str, str], subprocess.Popen[str]]
                                                     ) -> None:
    store, env, _ = deployment
    assert cli("run", "batch-2", "tests.helpers.live_app:fan_out", '{"args": ["batch-2", 3]}', store=store,
               env=env).returncode == 0

    async def wait() -> object:
        client = Worker(open_store(store), clock=WallClock())
        with trio.fail_after(60):
            return await client.handle("batch-2").result()

    assert trio.run(wait) == 6


def test_an_external_promise_is_settled_from_the_command_line(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    async def make() -> None:
        s = open_store(store)
        await s.create_promise("approval-7", "{}", WallClock().now() + 3600)

    trio.run(make)
    assert cli("get", "approval-7", store=store, env=env).stdout.strip() == "approval-7 pending"
    resolved = cli("resolve", "approval-7", '"yes"', store=store, env=env)
    assert resolved.stdout.strip() == 'approval-7 resolved → "yes"'
    again = cli("reject", "approval-7", "too late", store=store, env=env)
    assert again.stdout.strip() == 'approval-7 resolved → "yes"'  # write-once: the first settle stays
    assert (again.returncode, again.stderr) == (1, "error: reject approval-7: it was already settled (resolved); "
                                                   "nothing changed\n")
    twice = cli("resolve", "approval-7", '"yes"', store=store, env=env)  # the same value again: still said
    assert twice.returncode == 1 and "already settled" in twice.stderr


def test_an_id_means_one_execution_and_store_may_follow_the_command(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def after(*args: str) -> subprocess.CompletedProcess[str]:  # --store written after the command
        return subprocess.run([sys.executable, "-m", "pytest_durable", *args, "--store", store], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    target = "examples.deploy.orders_v1:fulfil"
    first = after("run", "o-1", target, '["o-1", 1]')
    assert first.returncode == 0 and first.stdout.startswith("o-1 started: fulfil"), first
    other = after("run", "o-1", target, '["o-1", 2]')
    assert other.returncode == 2 and other.stderr == (
        "error: run: root 'o-1' already exists as fulfil('o-1', 1); it cannot also start fulfil('o-1', 2): give "
        "this run another id, or wait for the existing one\n"), other
    same = after("run", "o-1", target, '["o-1", 1]')
    assert (same.returncode, same.stdout) == (0, "o-1 was started before: o-1 pending\n"), same
    listed = cli("ls", store=store, env=env).stdout
    assert listed == after("ls").stdout and [line.split()[:3] for line in listed.splitlines()[1:]] == [
        ["o-1", "pending", "fulfil"], ["1", "root;", "no"]]


@pytest.mark.parametrize(("args", "message"), [
    (("run", "x", "tests.helpers.live_app"), "write MODULE:FUNCTION"),
    (("run", "x", "tests.no_such_module:f"), "no module named 'tests.no_such_module'"),
    (("run", "x", "tests.helpers.live_app:connect"),
     "'connect' in module 'tests.helpers.live_app' is not decorated with @function"),
    (("run", "x", "tests.helpers.live_app:fan_out", "[1,"), "ARGS is not JSON"),
    (("run", "x", "tests.helpers.live_app:fan_out", '[1, 2, 3]'), "fan_out"),
    (("worker", "examples/fan_out_fan_in.py"), "is not a module name"),
    (("get", "nobody"), "no promise with id 'nobody'"),
    (("resolve", "nobody", "yes"), "VALUE is not JSON"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = cli(*args, store=f"sqlite:///{tmp_path / 'app.db'}", env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_that_refuses_the_connection_is_one_line(tmp_path: Path) -> None:
    result = cli("ls", store="postgresql://nobody@127.0.0.1:1/x", env=dict(os.environ))  # nothing listens on port 1
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result  # the driver's own line breaks joined
    assert result.stderr.startswith("error: StoreUnavailable: ") and "Connection refused" in result.stderr


def test_a_bad_store_url_names_the_kinds(tmp_path: Path) -> None:
    result = cli("ls", store="mysql://db", env=dict(os.environ))
    assert result.returncode == 2 and "use sqlite:///FILE" in result.stderr


def test_sigkill_mid_run_then_a_new_worker_resumes_without_rerunning_finished_children(tmp_path: Path) -> None:
    """What the README's first command shows: kill the worker half-way, start another, and the
    workflow completes; children that had resolved before the kill never run again."""
    import sqlite3

    store = f"sqlite:///{tmp_path / 'app.db'}"
    effects = tmp_path / "effects.db"
    env = {**os.environ, "DURABLE_EFFECTS": str(effects), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "pytest_durable", "--store", store, "worker", "tests.helpers.live_app", "--ttl", "2"]
    assert cli("run", "big", "tests.helpers.live_app:fan_out", '["big", 300]', store=store, env=env).returncode == 0
    first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = open_store(store)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some children resolved, not all
        time.sleep(0.05)
        if sum(1 for r in watch.promises() if r.id.startswith("big.") and r.settled) >= 30:  # type: ignore[attr-defined]
            break
    first.kill()
    first.wait()
    resolved_before = {r.id: r.settled_on for r in open_store(store).promises()  # type: ignore[attr-defined]
                       if r.id.startswith("big.") and r.settled}
    assert 0 < len(resolved_before) < 300
    second = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = cli("get", "big", "--wait", store=store, env=env, timeout=120)
    finally:
        second.terminate()
        second.wait()
    assert done.stdout.strip() == f"big resolved → {sum(i * 2 for i in range(300))}"
    with sqlite3.connect(effects) as db:
        rows = db.execute("select child, at from bodies").fetchall()
    again = [child for child, at in rows if child in resolved_before and at > resolved_before[child]]
    assert again == []


def test_the_live_benchmark_prints_the_simulator_beside_real_processes(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.bench.live_workers import main

    assert main(n=10, runs=1, sim_runs=3, runtime=False) == 0
    out = capsys.readouterr().out
    rows = {line[:34].strip(): line[34:].split() for line in out.splitlines()
            if line.startswith(("simulator", "real processes"))}
    assert set(rows) >= {"simulator, memory store", "simulator, SQLite store", "real processes, SQLite, kill -9"}, out
    assert all(float(cells[0]) > 0 for cells in rows.values())
    assert "real recovery: " in out


def _started(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split()[2]  # "durable worker ID serving ..."


def test_one_worker_at_a_time_holds_the_sweeper_lease_and_another_takes_over_when_it_dies(tmp_path: Path) -> None:
    """Workers do not each sweep every poll: the sweeper lease (a task of the store) is held by one live
    worker; when that one is killed, a survivor takes it over once the lease expires."""
    from pytest_durable.core.records import TaskState
    from pytest_durable.live.sweeper import SWEEPER

    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "DURABLE_EFFECTS": str(tmp_path / "effects.db"), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "pytest_durable", "--store", store, "worker", "tests.helpers.live_app", "--ttl", "2"]
    workers = dict(_started(argv, env)[::-1] for _ in range(3))  # id -> process
    s = open_store(store)

    def holder(other_than: str = "") -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            task = {t.id: t for t in s.tasks()}.get(SWEEPER)
            if task is not None and task.state is TaskState.ACQUIRED and task.lease_owner not in ("", other_than):
                assert task.lease_owner in workers
                return str(task.lease_owner)
            time.sleep(0.05)
        raise AssertionError("no live worker took the sweeper lease")

    try:
        first = holder()
        trio.run(s.create_promise, "t1", "{}", WallClock().now() + 0.2)
        time.sleep(0.5)
        assert s.promise("t1").state.value == "rejected_timedout"  # type: ignore[union-attr]
        workers[first].kill()
        workers[first].wait()
        second = holder(other_than=first)
        assert second != first and workers[second].poll() is None
    finally:
        for proc in workers.values():
            proc.kill()
            proc.wait()


ORDER_ARGS = '[{"$t": "attrs", "cls": "payments_client:Order", "v": {"id": "o-1", "account": "a-7", "amount": 5}}]'


def test_a_worker_gets_its_clients_from_setup_and_typed_arguments_come_in_the_codec_form(tmp_path: Path) -> None:
    """A workflow this suite did not write for the CLI (examples/payments_client.py): its leaf needs a
    "bank" client, which ``--setup`` gives the worker; its argument is an attrs class."""
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'examples'}{os.pathsep}{ROOT}"}
    argv = [sys.executable, "-m", "pytest_durable", "--store", store, "worker", "payments_client"]
    served, _ = _started([*argv, "--setup", "payments_client:production"], env)
    try:
        done = cli("run", "o-1", "payments_client:checkout", ORDER_ARGS, "--wait", store=store, env=env)
        assert done.stdout.strip() == 'o-1 resolved → ["reserved o-1", "receipt charge-o-1", "shipped o-1"]', done
    finally:
        served.terminate()
        served.wait()


def test_without_the_client_the_worker_says_what_is_missing_and_every_process_sees_it(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'examples'}{os.pathsep}{ROOT}"}
    argv = [sys.executable, "-m", "pytest_durable", "--store", store, "worker", "payments_client"]
    served, _ = _started(argv, env)
    try:
        assert cli("run", "o-2", "payments_client:checkout", ORDER_ARGS, store=store, env=env).returncode == 0
        assert served.stdout is not None
        started = served.stdout.readline()  # the worker logs the root's start, then its failure
        assert started.endswith(": o-2 started: checkout (attempt 1)\n"), started
        line = served.stdout.readline()
        assert "MissingDependency" in line and "'bank'" in line and "set_dependency" in line, line
        assert served.poll() is None  # still serving
        # Another process sees what stopped it: the error is in the store, on the workflow's task.
        got = cli("get", "o-2", store=store, env=env)
        assert got.returncode == 1
        assert got.stdout.startswith("o-2 pending; its task stopped 1 time(s), last: MissingDependency at o-2.1: "), got
        shown = cli("tree", "o-2", store=store, env=env).stdout
        assert "!! o-2: its task stopped 1 time(s), last: MissingDependency" in shown and "'bank'" in shown

        async def wait() -> object:
            client = Worker(open_store(store), clock=WallClock())
            return await client.handle("o-2").result()

        with pytest.raises(TaskFailed, match=r"task o-2 stopped 1 time\(s\); last: MissingDependency at o-2.1"):
            trio.run(wait)
    finally:
        served.terminate()
        served.wait()
