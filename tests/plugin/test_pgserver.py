"""The throwaway PostgreSQL server: a real server we started, the transaction behaviour a SQL store relies
on (visibility, row locks, serializable), and start/stop leaving no process, socket or directory behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from pytest_durable.testing.pgserver import (
    BIN_ENV,
    KNOWN_BIN_DIRS,
    SERVER_USER,
    PgServer,
    PgServerError,
    find_bin_dir,
    start_server,
)

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds; the deadline only keeps a broken test from hanging the suite."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def server_processes(server: PgServer) -> list[int]:
    """The postmaster and its children (checkpointer, walwriter, backends, ...)."""
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout
    return [server.pid, *(int(pid) for pid in children.split())]


# --- the session's server --------------------------------------------------------------------------


def test_the_fixture_server_is_the_postgresql_we_started(pg_server: PgServer, postgres_dsn: str) -> None:
    version = subprocess.run([str(pg_server.bin_dir / "postgres"), "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[2]  # "postgres (PostgreSQL) 15.18 ..."
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute("select version(), current_setting('server_version_num')::int").fetchone()
        assert row is not None
        assert row[0].startswith(f"PostgreSQL {version} ")
        assert row[1] >= 150000
        assert conn.execute("show data_directory").fetchone() == (str(pg_server.data_dir),)
        # No TCP listener at all: the unix socket in the server's private directory is the only way in.
        assert conn.execute("show listen_addresses").fetchone() == ("",)
        assert conn.execute("select inet_server_addr()").fetchone() == (None,)
    assert pg_server.socket_path.is_socket()
    assert os.stat(pg_server.socket_dir).st_mode & 0o077 == 0
    # PostgreSQL refuses root: as root (CI) the server runs as the postgres user.
    owner = os.stat(pg_server.data_dir).st_uid
    if os.geteuid() == 0:
        import pwd

        assert owner == pwd.getpwnam(SERVER_USER).pw_uid != 0
    else:
        assert owner == os.geteuid()


def test_create_insert_select_in_a_transaction_and_rollback_undoes(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        with conn.transaction():
            conn.execute("create table promise (id text primary key, state text not null)")
            conn.execute("insert into promise values (%s, %s), (%s, %s)", ["p1", "pending", "p2", "resolved"])
            assert conn.execute("select id, state from promise order by id").fetchall() == [
                ("p1", "pending"), ("p2", "resolved")]
        with pytest.raises(errors.UniqueViolation), conn.transaction():
            conn.execute("insert into promise values ('p3', 'pending')")
            conn.execute("insert into promise values ('p1', 'pending')")
        assert conn.execute("select id from promise order by id").fetchall() == [("p1",), ("p2",)]


def test_fresh_databases_do_not_share_tables(pg_server: PgServer, postgres_dsn: str) -> None:
    other = pg_server.create_database("fresh_databases_other")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("create table only_here (x int)")
    with psycopg.connect(other) as conn:
        assert conn.execute("select to_regclass('only_here')").fetchone() == (None,)
    with pytest.raises(PgServerError, match=r"createdb fresh_databases_other failed: .*already exists"):
        pg_server.create_database("fresh_databases_other")


def test_a_second_connection_sees_committed_rows_not_uncommitted_ones(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as setup:
        setup.execute("create table task (id text primary key)")
    with psycopg.connect(postgres_dsn) as writer, psycopg.connect(postgres_dsn, autocommit=True) as reader:
        writer.execute("insert into task values ('t1')")
        assert reader.execute("select id from task").fetchall() == []
        writer.commit()
        assert reader.execute("select id from task").fetchall() == [("t1",)]
        writer.execute("insert into task values ('t2')")
        writer.rollback()
        assert reader.execute("select id from task order by id").fetchall() == [("t1",)]


def test_select_for_update_blocks_a_second_transaction_until_the_first_commits(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as setup:
        setup.execute("create table lease (id int primary key, owner text not null)")
        setup.execute("insert into lease values (1, 'nobody')")
    with psycopg.connect(postgres_dsn) as first, psycopg.connect(postgres_dsn) as second, \
            psycopg.connect(postgres_dsn, autocommit=True) as watcher:
        assert first.execute("select owner from lease where id = 1 for update").fetchone() == ("nobody",)
        seen: list[str] = []
        done = threading.Event()

        def take_the_lease() -> None:
            row = second.execute("select owner from lease where id = 1 for update").fetchone()
            assert row is not None
            seen.append(row[0])
            second.execute("update lease set owner = 'second' where id = 1")
            second.commit()
            done.set()

        taker = threading.Thread(target=take_the_lease)
        taker.start()
        try:
            # The server itself says the second transaction waits for a lock the first one holds.
            blockers = "select pg_blocking_pids(%s)"
            wait_until(lambda: watcher.execute(blockers, [second.info.backend_pid]).fetchone()
                       == ([first.info.backend_pid],), "the second transaction waits for the first")
            assert not done.is_set()
            assert seen == []
            first.execute("update lease set owner = 'first' where id = 1")
            first.commit()
            assert done.wait(60)
        finally:
            if not done.is_set():
                first.rollback()
            taker.join()
        # The second transaction read the row as the first committed it, then wrote after it.
        assert seen == ["first"]
        assert watcher.execute("select owner from lease").fetchall() == [("second",)]


def test_serializable_transactions_that_skew_fail_one_of_them(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as setup:
        setup.execute("create table duty (doctor text primary key, on_call bool not null)")
        setup.execute("insert into duty values ('a', true), ('b', true)")
    with psycopg.connect(postgres_dsn) as one, psycopg.connect(postgres_dsn) as two:
        for conn in (one, two):
            conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        # Each sees two doctors on call and takes one off: fine alone, wrong together.
        assert one.execute("select count(*) from duty where on_call").fetchone() == (2,)
        assert two.execute("select count(*) from duty where on_call").fetchone() == (2,)
        one.execute("update duty set on_call = false where doctor = 'a'")
        two.execute("update duty set on_call = false where doctor = 'b'")
        one.commit()
        with pytest.raises(errors.SerializationFailure):
            two.commit()
        assert one.execute("select doctor from duty where on_call").fetchall() == [("b",)]


# --- starting and stopping -------------------------------------------------------------------------


def assert_gone(server: PgServer, pids: list[int]) -> None:
    assert server.process.poll() is not None
    assert not server.socket_path.exists()
    assert not server.base.exists()
    assert [pid for pid in pids if alive(pid)] == []
    left = subprocess.run(["pgrep", "-f", str(server.data_dir)], capture_output=True, text=True)
    assert left.returncode == 1, left.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn, connect_timeout=5)


def test_stop_ends_every_server_process_and_removes_socket_and_directory() -> None:
    server = start_server(dbname="stop_test")
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        assert conn.execute("select current_database()").fetchone() == ("stop_test",)
        pids = server_processes(server)
        assert len(pids) > 1
        # An open session does not hold the shutdown up: fast shutdown disconnects it.
        server.stop()
    assert_gone(server, pids)
    server.stop()  # idempotent


def test_an_interrupt_inside_the_with_block_still_stops_the_server() -> None:
    with pytest.raises(KeyboardInterrupt), start_server() as server:
        with psycopg.connect(server.dsn) as conn:
            conn.execute("select 1")
        pids = server_processes(server)
        raise KeyboardInterrupt
    assert_gone(server, pids)


def test_a_server_whose_owner_is_killed_shuts_down() -> None:
    """SIGKILL of the process that started the server (no ``finally`` runs) still ends the server."""
    script = ("import sys, time\nfrom pytest_durable.testing.pgserver import start_server\n"
              "s = start_server()\nprint(s.pid, s.base, flush=True)\ntime.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert owner.stdout is not None
    pid_text, base = owner.stdout.readline().split()
    try:
        assert alive(int(pid_text))
        owner.kill()
        owner.wait()
        wait_until(lambda: not alive(int(pid_text)), "the orphaned postmaster exits")
    finally:
        owner.kill()
        subprocess.run(["rm", "-rf", base], check=True)  # nothing ran to remove it


# --- finding the binaries --------------------------------------------------------------------------


def test_missing_binaries_are_one_line_saying_what_to_install() -> None:
    with pytest.raises(PgServerError) as raised:
        find_bin_dir(environ={}, known=(), path="")
    message = str(raised.value)
    assert "\n" not in message
    assert "apt-get install -y postgresql-15" in message
    assert BIN_ENV in message


def test_the_override_wins_and_a_wrong_one_is_an_error(tmp_path: Path) -> None:
    real = find_bin_dir()
    assert find_bin_dir(environ={BIN_ENV: str(real)}, known=(), path="") == real
    with pytest.raises(PgServerError, match=re.escape(f"{BIN_ENV}={tmp_path} holds no initdb or postgres")):
        find_bin_dir(environ={BIN_ENV: str(tmp_path)}, known=KNOWN_BIN_DIRS)


def test_binaries_on_path_are_found_after_the_known_dirs(tmp_path: Path) -> None:
    real = find_bin_dir()
    for tool in ("initdb", "postgres"):
        (tmp_path / tool).symlink_to(real / tool)
    assert find_bin_dir(environ={}, known=(), path=f"/nonexistent:{tmp_path}") == tmp_path
    assert find_bin_dir(environ={}, known=(str(real),), path=str(tmp_path)) == real


def test_the_fixture_fails_with_one_line_when_postgresql_is_missing(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         f"{Path(__file__).name}::test_a_second_connection_sees_committed_rows_not_uncommitted_ones"],
        cwd=Path(__file__).parent, capture_output=True, text=True, env={**os.environ, BIN_ENV: str(tmp_path)},
    )
    assert run.returncode == 1, run.stdout
    assert f"PostgreSQL for the tests: {BIN_ENV}={tmp_path} holds no initdb or postgres" in run.stdout
    assert "Traceback" not in run.stdout
    assert "1 error" in run.stdout


def test_the_module_runs_as_a_command_and_stops_on_interrupt() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pytest_durable.testing.pgserver"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()  # a URL, as --store takes it: used verbatim
    try:
        assert url.startswith("postgresql://postgres@/durable?host=")
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone() == ("durable",)
        listed = subprocess.run([sys.executable, "-m", "pytest_durable", "--store", url, "ls"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert (listed.returncode, listed.stdout, listed.stderr) == (0, "0 roots; no more\n", "")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    host = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["host"][0]
    assert host.startswith(tempfile.gettempdir()) and not Path(host).exists()


def test_ctrl_c_during_a_session_stops_the_fixture_server(tmp_path: Path) -> None:
    (tmp_path / "test_interrupted.py").write_text(
        "import time\nfrom tests.conftest import pg_server\n\n"
        "def test_waits(pg_server):\n"
        "    print('SERVER', pg_server.pid, pg_server.base, flush=True)\n"
        "    time.sleep(600)\n"
    )
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-s", "-q",
         "test_interrupted.py"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert session.stdout is not None
    line = next((line for line in session.stdout if line.startswith("SERVER")), "SERVER did not start")
    _, pid_text, base = line.split()
    try:
        assert alive(int(pid_text))
        session.send_signal(signal.SIGINT)
        output = session.communicate(timeout=60)[0]
    finally:
        session.kill()
    assert session.returncode == 2, output  # pytest's "interrupted"
    assert not alive(int(pid_text))
    assert not Path(base).exists()
