"""Watches: how a SQL store's long polls learn that *another process* changed the store they share.

A store's own writes wake its waiters through ``core.wakeups``; a watch turns other processes' writes
into the same notifies, while somebody waits. One task of the process at a time pumps a store's watch
(``Watch.pump``, run beside a long poll's wait and cancelled when it ends; another waiter takes over):

* ``SqliteWatch`` checks, with a backoff from 1 ms to ``SQLITE_MAX_INTERVAL``, whether the WAL file
  changed (a ``stat``: its size and modification time), and only then (or once a second, in case a
  change hid in one tick of the file system's clock) asks ``PRAGMA data_version`` on the store's own
  connection. On that connection the number changes only when *another* connection committed, so the
  store's own commits (already notified in-process) never look like news; when it changes, every
  waiter reads again (SQLite cannot tell what changed).
* ``PostgresWatch`` ``LISTEN``\\ s on a connection of its own and waits for its socket to become readable,
  issuing no query; each notification names a wakeup key (``announce_keys``), so only the waiters it
  may answer read again. Notifications sent by this store's own connection are skipped for the same
  reason as above.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

import trio

from ..core.wakeups import Wakeups, due_key, settled_key

if TYPE_CHECKING:
    import psycopg

#: The longest pause between two change checks of a SQLite file (the price of a change that another
#: process made: at most this much latency, and this many cheap checks per second while someone waits).
SQLITE_MAX_INTERVAL = 0.04
#: The first pause after a pump starts; it doubles up to ``SQLITE_MAX_INTERVAL``.
SQLITE_FIRST_INTERVAL = 0.001
#: Asks ``PRAGMA data_version`` at least this often even when the WAL file looks unchanged.
SQLITE_VERSION_EVERY = 1.0
#: How long a PostgreSQL watch waits before it connects again after losing its connection.
RECONNECT_DELAY = 1.0
#: A notification payload longer than this is sent as ``*`` (wake everybody): PostgreSQL caps payloads.
MAX_PAYLOAD = 7000


class Watch:
    """The part every watch shares: one pump at a time per store; subclasses say how to pump."""

    def __init__(self, wakeups: Wakeups) -> None:
        self.wakeups = wakeups
        self._pumping = False
        self._free: trio.Event | None = None
        #: Change checks (SQLite) or notifications read (PostgreSQL) so far: for benchmarks.
        self.checks = 0

    async def arm(self) -> None:
        """Called before the first read of a long poll: from here on, no change of another process is missed."""

    async def pump(self) -> None:
        """Turn other processes' changes into notifies until cancelled; if another task pumps already,
        wait for it to stop and take over."""
        while self._pumping:
            if self._free is None:
                self._free = trio.Event()
            await self._free.wait()
        self._pumping = True
        try:
            await self._pump()
        finally:
            self._pumping = False
            free, self._free = self._free, None
            if free is not None:
                free.set()

    async def _pump(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the watch holds (a connection)."""


class SqliteWatch(Watch):
    """Change checks of a SQLite store: ``PRAGMA data_version`` on the store's own connection, taken only
    when no operation holds it (``lock``; a busy connection is the process's own work, checked next time)."""

    def __init__(self, wakeups: Wakeups, connection: Callable[[], tuple[Any, Any]], path: str) -> None:
        super().__init__(wakeups)
        self._connection = connection  # () -> (sqlite3 connection, its lock): the store may reopen it
        self._wal = path + "-wal"
        self._seen: int | None = None
        self._file: tuple[int, int] | None = None  # the WAL file's (size, mtime) when last looked at
        self._asked = -math.inf  # trio time of the last data_version
        #: ``PRAGMA data_version`` asked so far (``checks`` counts the ``stat``\ s too).
        self.versions = 0

    def _file_changed(self) -> bool:
        self.checks += 1
        try:
            stat = os.stat(self._wal)
        except OSError:
            return True
        seen, self._file = self._file, (stat.st_size, stat.st_mtime_ns)
        return seen != self._file

    def _version(self) -> int | None:
        conn, lock = self._connection()
        if not lock.acquire(blocking=False):
            return None
        try:
            self.versions += 1
            self._asked = trio.current_time()
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # e.g. busy for a moment: looked at again at the next check
        finally:
            lock.release()

    async def arm(self) -> None:
        if self._seen is None:
            self._file_changed()
            self._seen = self._version()

    async def _pump(self) -> None:
        delay = SQLITE_FIRST_INTERVAL
        while True:
            await trio.sleep(delay)
            delay = min(2 * delay, SQLITE_MAX_INTERVAL)
            if not self._file_changed() and trio.current_time() < self._asked + SQLITE_VERSION_EVERY:
                continue
            version = self._version()
            if version is None or version == self._seen:
                continue
            self._seen = version
            self.wakeups.notify_all()


def announce_keys(keys: Iterable[Hashable]) -> list[str]:
    """The notification payloads that name ``keys`` (``d:TARGET``, ``s:ID``; ``*`` for anything else)."""
    out = set()
    for key in keys:
        if isinstance(key, tuple) and len(key) == 2 and key[0] in ("due", "settled"):
            payload = ("d:" if key[0] == "due" else "s:") + str(key[1])
            out.add(payload if len(payload) <= MAX_PAYLOAD else "*")
        else:
            out.add("*")
    return sorted(out)


def key_of(payload: str) -> Hashable | None:
    """The wakeup key a payload names, or ``None`` for "anything may have changed"."""
    if payload.startswith("d:"):
        return due_key(payload[2:])
    if payload.startswith("s:"):
        return settled_key(payload[2:])
    return None


class PostgresWatch(Watch):
    """``LISTEN channel`` on a connection of its own (opened at the first ``arm``), read without queries.

    ``connect`` opens a psycopg connection in autocommit mode; ``own_pid`` is the backend pid of the
    store's own connection (its notifications are skipped); ``unescape`` undoes the store's text escape."""

    def __init__(self, wakeups: Wakeups, connect: Callable[[], psycopg.Connection[Any]], channel: str,
                 own_pid: Callable[[], int | None], unescape: Callable[[str], str]) -> None:
        super().__init__(wakeups)
        self._connect = connect
        self.channel = channel
        self._own_pid = own_pid
        self._unescape = unescape
        self._conn: psycopg.Connection[Any] | None = None
        self._down_until = -math.inf  # trio time before which no reconnect is tried

    def _open(self) -> psycopg.Connection[Any]:
        from psycopg import sql

        conn = self._connect()
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    async def arm(self) -> None:
        import psycopg

        if self._conn is not None or trio.current_time() < self._down_until:
            return
        try:
            self._conn = await trio.to_thread.run_sync(self._open)
        except (psycopg.Error, OSError):
            self._down_until = trio.current_time() + RECONNECT_DELAY  # the long poll still ends on time
            return
        self.wakeups.notify_all()  # what was announced while nobody listened may be news

    def _drain(self, conn: psycopg.Connection[Any]) -> None:
        pgconn = conn.pgconn
        pgconn.consume_input()
        own = self._own_pid()
        keys: set[Hashable] = set()
        everything = False
        while (note := pgconn.notifies()) is not None:
            self.checks += 1
            if note.be_pid == own:
                continue
            key = key_of(self._unescape(note.extra.decode("utf-8", "replace")))
            if key is None:
                everything = True
            else:
                keys.add(key)
        if everything:
            self.wakeups.notify_all()
            return
        for key in keys:
            self.wakeups.notify(key)

    async def _pump(self) -> None:
        import psycopg

        while True:
            if self._conn is None:
                await trio.sleep_until(self._down_until)
                await self.arm()
                continue
            conn = self._conn
            await trio.lowlevel.wait_readable(conn.fileno())
            try:
                self._drain(conn)
            except (psycopg.Error, OSError):
                self._conn = None
                self._down_until = trio.current_time() + RECONNECT_DELAY
                with contextlib.suppress(Exception):
                    conn.close()
                self.wakeups.notify_all()  # notifications may have been lost with the connection

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


__all__ = ["PostgresWatch", "SqliteWatch", "Watch", "announce_keys", "key_of"]
