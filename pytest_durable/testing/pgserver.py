"""A throwaway PostgreSQL server: ``initdb`` in a fresh temp dir, listening on a unix socket there only.

The tests (and benches, and anyone trying ``PostgresStore`` without a system server) start a real
server rather than a mock. It has no TCP listener at all, trusts only whoever can reach the socket in
its private 0700 directory, runs with ``fsync`` off (only the server's own crash would lose data, and
nothing here crashes it), and is stopped and deleted when ``stop()`` runs or its ``with`` block ends,
whatever ends it. PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user
that the Debian package makes, in a directory that user owns.

Standard library only, so that it can be imported by tests, benches and workers alike.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple

__all__ = [
    "BIN_ENV",
    "INSTALL_HINT",
    "KNOWN_BIN_DIRS",
    "PgServer",
    "PgServerError",
    "find_bin_dir",
    "start_server",
]

BIN_ENV = "DURABLE_PG_BIN"
"""Environment variable naming the directory that holds ``initdb`` and ``postgres``; checked first."""

KNOWN_BIN_DIRS: tuple[str, ...] = ("/usr/lib/postgresql/15/bin",)
"""Where Debian's ``postgresql-15`` puts the server binaries (they are not on PATH there)."""

INSTALL_HINT = (
    f"install the PostgreSQL 15 server (Debian/Ubuntu: apt-get install -y postgresql-15) "
    f"or set {BIN_ENV} to the directory holding initdb and postgres"
)

SERVER_USER = "postgres"
"""The account the server runs as when we are root (PostgreSQL refuses root)."""

_SERVER_TOOLS = ("initdb", "postgres")
_SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes including the terminating NUL


class PgServerError(RuntimeError):
    """The throwaway server could not be found, started or stopped; the message says what to do."""


def find_bin_dir(
    environ: Mapping[str, str] | None = None,
    known: Sequence[str] = KNOWN_BIN_DIRS,
    path: str | None = None,
) -> Path:
    """The directory holding ``initdb`` and ``postgres``: ``$DURABLE_PG_BIN``, else a known dir, else PATH.

    A ``DURABLE_PG_BIN`` that lacks the binaries is an error rather than a fall-through, so a typo in
    it is not hidden by some other PostgreSQL on the machine.
    """
    env = os.environ if environ is None else environ
    override = env.get(BIN_ENV)
    if override:
        missing = [tool for tool in _SERVER_TOOLS if not _is_executable(Path(override) / tool)]
        if missing:
            raise PgServerError(f"{BIN_ENV}={override} holds no {' or '.join(missing)}: point it at the "
                                f"directory holding initdb and postgres, or unset it")
        return Path(override)
    for candidate in known:
        if all(_is_executable(Path(candidate) / tool) for tool in _SERVER_TOOLS):
            return Path(candidate)
    on_path = env.get("PATH", "") if path is None else path
    initdb = shutil.which("initdb", path=on_path)
    if initdb is not None and _is_executable(Path(initdb).parent / "postgres"):
        return Path(initdb).parent
    raise PgServerError(f"PostgreSQL server binaries (initdb, postgres) not found: {INSTALL_HINT}")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


class PgServer:
    """One running server. ``dsn`` reaches its database; ``stop()`` (idempotent) ends it and removes its dir.

    Build it with :func:`start_server`. Use it as a context manager so that any exit, including
    ``KeyboardInterrupt``, stops the server.
    """

    def __init__(self, *, bin_dir: Path, base: Path, port: int, dbname: str,
                 process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.port = port
        self.dbname = dbname
        self.process = process
        self._log = log
        self._stopped = False

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        """The directory of the unix socket (libpq's ``host``); the only way in."""
        return self.base

    @property
    def socket_path(self) -> Path:
        return self.base / f".s.PGSQL.{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    @property
    def pid(self) -> int:
        """The postmaster's pid (the server's backends are its children)."""
        return self.process.pid

    @property
    def user(self) -> str:
        """The database superuser (trusted on the socket, which only its owner and root can reach)."""
        return SERVER_USER

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.dbname)

    def dsn_for(self, dbname: str) -> str:
        """A libpq keyword/value connection string for ``dbname`` on this server."""
        parts = {"host": str(self.socket_dir), "port": str(self.port), "user": self.user, "dbname": dbname}
        return " ".join(f"{key}={_quote(value)}" for key, value in parts.items())

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL of the database, as ``python -m pytest_durable --store`` takes it."""
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        """A libpq URL for ``dbname`` on this server: no host in the authority, the socket's directory
        (percent-encoded) as the ``host`` parameter, so libpq connects through the socket."""
        socket_dir = urllib.parse.quote(str(self.socket_dir), safe="")
        return (f"postgresql://{urllib.parse.quote(self.user)}@/{urllib.parse.quote(dbname)}"
                f"?host={socket_dir}&port={self.port}")

    def create_database(self, dbname: str) -> str:
        """Create an empty database ``dbname`` (with ``createdb``) and return its DSN."""
        self._run_client("createdb", dbname)
        return self.dsn_for(dbname)

    def _run_client(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), "-h", str(self.socket_dir), "-p", str(self.port),
                   "-U", self.user, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PgServerError(f"{tool} {' '.join(args)} failed: {_last_line(done.stderr)}")

    def stop(self) -> None:
        """Fast shutdown (then immediate, then SIGKILL if it hangs); remove the directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            _terminate(self.process)
        finally:
            self._log.close()
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PgServer(pid={self.pid}, dsn={self.dsn!r})"


def _terminate(process: subprocess.Popen[bytes]) -> None:
    # SIGINT is PostgreSQL's fast shutdown (disconnect sessions, checkpoint, exit); SIGQUIT its immediate
    # one. The server leads its own process group, so SIGKILL there reaches any stuck backend too.
    for sig, grace in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


class _AsUser(NamedTuple):
    """Who the server's processes run as: ``subprocess``'s user/group/extra_groups (None: ourselves)."""

    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PgServerError(
            f"running as root, and PostgreSQL refuses to run as root, but there is no {SERVER_USER!r} "
            f"user to run it as: {INSTALL_HINT} (the package creates the user), or run the tests as "
            f"a non-root user"
        ) from None


def start_server(*, bin_dir: Path | None = None, dbname: str = "durable", port: int = 5432,
                 parent: str | None = None, timeout: float = 60.0) -> PgServer:
    """Start a fresh server in a new temp dir under ``parent`` (default: the system temp dir).

    Runs ``initdb``, starts ``postgres`` listening on ``<dir>/.s.PGSQL.<port>`` only, waits until it
    accepts connections and creates ``dbname``. ``port`` only names the socket file, so servers in
    different dirs (one per xdist worker) do not collide. On any failure, including
    ``KeyboardInterrupt``, whatever was started is stopped and the directory removed.
    """
    bin_dir = find_bin_dir() if bin_dir is None else bin_dir
    account = _server_account()
    base = Path(tempfile.mkdtemp(prefix="durable-pg-", dir=parent))
    socket_path = base / f".s.PGSQL.{port}"
    if len(str(socket_path)) > _SOCKET_PATH_MAX:
        shutil.rmtree(base, ignore_errors=True)
        raise PgServerError(f"socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes: "
                            f"pass a shorter parent= (or set TMPDIR=/tmp)")
    as_user = _AsUser()
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
        as_user = _AsUser(account.pw_uid, account.pw_gid, [])
    server: PgServer | None = None
    log: IO[bytes] | None = None
    try:
        _initdb(bin_dir, base, as_user)
        log = (base / "postgres.log").open("ab")
        process = subprocess.Popen(
            [*_die_with_us(), str(bin_dir / "postgres"), "-D", str(base / "data"), "-p", str(port),
             "-k", str(base), "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
             "-F", "-c", "shared_buffers=32MB", "-c", "max_connections=100"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=base,
            start_new_session=True, user=as_user.uid, group=as_user.gid, extra_groups=as_user.groups,
        )
        server = PgServer(bin_dir=bin_dir, base=base, port=port, dbname=dbname, process=process, log=log)
        _wait_ready(server, timeout)
        server.create_database(dbname)
        return server
    except BaseException:
        if server is not None:
            server.stop()
        else:
            if log is not None:
                log.close()
            shutil.rmtree(base, ignore_errors=True)
        raise


def _initdb(bin_dir: Path, base: Path, as_user: _AsUser) -> None:
    done = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", SERVER_USER, "-A", "trust",
         "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        capture_output=True, text=True, check=False, cwd=base, stdin=subprocess.DEVNULL,
        user=as_user.uid, group=as_user.gid, extra_groups=as_user.groups,
    )
    if done.returncode != 0:
        raise PgServerError(f"initdb in {base} failed: {_last_line(done.stderr)}")


def _die_with_us() -> list[str]:
    """A prefix that makes the server get SIGQUIT (immediate shutdown) if this process dies unannounced.

    Linux delivers the parent-death signal when the *thread* that started the child ends, so it is
    only asked for from the main thread; elsewhere, and without ``setpriv``, only ``stop()`` ends it.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "QUIT", "--"]


def _wait_ready(server: PgServer, timeout: float) -> None:
    """Wait until the postmaster says "ready" in its pid file (what ``pg_ctl -w`` waits for)."""
    deadline = time.monotonic() + timeout
    pid_file = server.data_dir / "postmaster.pid"
    while True:
        if server.process.poll() is not None:
            raise PgServerError(f"postgres exited with status {server.process.returncode} while starting: "
                                f"{_last_line(_read(server.log_path))}")
        lines = _read(pid_file).splitlines()
        if len(lines) >= 8 and lines[7].strip() == "ready" and server.socket_path.exists():
            return
        if time.monotonic() > deadline:
            raise PgServerError(f"postgres did not become ready within {timeout:g}s: "
                                f"{_last_line(_read(server.log_path))}")
        time.sleep(0.02)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_durable.testing.pgserver``: start a throwaway server, print its URL (what ``--store``
    and ``$DURABLE_STORE`` take, and libpq too), run until Ctrl-C."""
    if argv:
        print("usage: python -m pytest_durable.testing.pgserver  (takes no arguments)", file=sys.stderr)
        return 2
    try:
        with start_server() as server:
            print(server.url, flush=True)
            print("PostgreSQL is running; Ctrl-C stops it and deletes its directory.", file=sys.stderr)
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()
    except PgServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # while starting; start_server has cleaned up
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
