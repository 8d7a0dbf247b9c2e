"""``SqliteStore``: the embedded default store, one SQLite file shared by the processes of one machine.

Built on the stdlib ``sqlite3`` and the shared SQL logic of ``sql_engine``. The file is in WAL mode (readers
do not block the writer), every operation is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken
at the start, so two processes never interleave inside an operation), and a busy timeout makes a process
wait for another's transaction instead of failing. ``synchronous=NORMAL`` by default: in WAL mode a
commit survives the process being killed (``kill -9``); ``FULL`` also survives power loss, at an fsync per
commit.
"""

from __future__ import annotations

import os
import sqlite3

from ..core.clock import Clock, WallClock
from ..core.wakeups import Wakeups
from .sql_engine import SqlEngine
from .sql_schema import Dialect, SchemaError
from .sql_store import SqlStore
from .watch import SqliteWatch

SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    begin_write=("BEGIN IMMEDIATE",),
    begin_read="BEGIN",
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
)

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteStore(SqlStore):
    """Promises and tasks in the SQLite file ``path``, implementing ``Store`` and ``Inspect`` exactly.

    ``clock`` stamps every time the store writes (created, settled, retry, lease expiry); the default
    ``WallClock`` means the same in every process and after a restart. The simulator passes its virtual
    ``TrioClock``. ``redispatch_after`` is as for ``MemoryStore``; ``busy_timeout`` is how many seconds an
    operation waits for another process's transaction before failing. With ``cross_process`` (the
    default) a long poll also sees other processes' commits (``live.watch.SqliteWatch``: a change check
    between reads); the simulator, whose worlds share nothing with another process, turns it off.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock: Clock | None = None,
        *,
        redispatch_after: float = 5.0,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
        cross_process: bool = True,
    ) -> None:
        where = f"SqliteStore({os.fspath(path)!r})"
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ValueError(f"{where}: synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}")
        self.path = os.fspath(path)
        self._options = (clock if clock is not None else WallClock(), redispatch_after, busy_timeout,
                         synchronous.upper(), where)
        super().__init__(self._open(), watch=self._watch if cross_process else None)

    def _watch(self, wakeups: Wakeups) -> SqliteWatch:
        return SqliteWatch(wakeups, lambda: (self.engine.connection, self.engine.transactions.lock), self.path)

    def _open(self) -> SqlEngine:
        clock, redispatch_after, busy_timeout, synchronous, where = self._options
        try:
            connection = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise SchemaError(f"{where}: cannot open the file: {exc} (does its folder exist, and may this user "
                              "write there?)") from None
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            connection.execute(f"PRAGMA synchronous={synchronous}")
            engine = SqlEngine(connection, SQLITE, clock, redispatch_after=redispatch_after, where=where)
            engine.ensure_schema()
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise SchemaError(f"{where}: not a SQLite database this store can use: {exc}") from None
        except BaseException:
            connection.close()
            raise
        if str(mode).lower() != "wal":
            connection.close()
            raise SchemaError(
                f"{where}: SQLite refused WAL mode (journal_mode is {mode}); put the file on a local disk")
        return engine

    def reopen(self) -> None:
        """Close the connection and open the file again, as a restarted server process would: what was
        committed is all that is left (the simulator's server crash uses it)."""
        self.engine.close()
        self.engine = self._open()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
