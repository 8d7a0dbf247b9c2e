"""``PostgresStore``: promises and tasks in one PostgreSQL database, shared by processes on several machines.

Built on psycopg 3's synchronous API and the shared SQL logic of ``sql_engine`` (a live worker runs it in
a thread, ``Threaded``; psycopg has no trio support). Decisions, each for a reason:

* **One writer at a time, by an advisory lock.** Every operation is ``BEGIN ISOLATION LEVEL READ
  COMMITTED`` then ``SELECT pg_advisory_xact_lock(K)`` for one constant ``K``: operations from every
  process and machine on this database run one after another, exactly as SQLite's ``BEGIN IMMEDIATE``
  makes them, so the engine's reads-then-writes (``MAX(seq) + 1``, the lazy timeouts and lease expiries
  it applies on the way) need no row locks. READ COMMITTED matters: each statement after the lock sees
  everything committed before the lock was granted (REPEATABLE READ would keep the snapshot taken before
  the wait). SERIALIZABLE with retries was not chosen: nearly every operation touches the same few rows
  (``MAX(seq)``, the pending queue), so it would abort and retry under contention rather than queue, and
  a retry loop would have to re-run the engine's Python logic; the store's throughput is bounded by one
  writer either way. ``lock_timeout`` bounds the wait (then the driver's ``LockNotAvailable``, an
  ``OperationalError``, which ``Threaded`` reports as ``StoreUnavailable``). A read of one query (an idle
  long poll's look at what falls due next, ``next_due``) is sent alone, without ``BEGIN``: one statement
  sees one snapshot, and an idle worker's cost is counted in statements.
* **Time is stamped by the injected clock** (default ``WallClock``, epoch seconds), not by the database:
  the simulator injects virtual time into this same engine, and one rule for both SQL stores keeps every
  stored time a float computed in Python, bit-for-bit the reference store's. So the machines running
  workers against one database must keep their clocks in sync (NTP): a worker whose clock runs ahead
  expires others' leases and timeouts early, one behind late.
* **Floats bit-for-bit**: ``double precision`` columns, which PostgreSQL 12+ prints in the shortest form
  that reads back exactly (``extra_float_digits`` 1, forced here), and psycopg sends ``repr``.
* **Any string**: PostgreSQL ``text`` cannot hold NUL, which a Python ``str`` (and so ``MemoryStore``)
  can. This store's connection escapes ``\\x00`` and ``\\x01`` in every string it sends
  (``\\x01`` + ``\\x02`` / ``\\x01``) and unescapes every ``text`` it reads; the code is injective, so
  equality in SQL is kept (the engine never orders or compares text otherwise).
* **The password never appears in errors**: ``where`` is the DSN with the password removed, and driver
  messages are scrubbed of it.
* **A lost connection is reopened** at the start of the next operation (never inside one), so a
  restarted server costs the operations in flight (``StoreUnavailable``), not the worker.
* **Long polls wait on ``LISTEN``.** A write transaction that makes a task due or settles a promise
  sends ``pg_notify`` on the store's channel (``durable:`` and the schema), one notification per target
  or promise id it touched (``live.watch.announce_keys``), delivered only if it commits; a long poll of
  another process wakes from it (``live.watch.PostgresWatch``) without asking the database anything.

psycopg is imported when a store is made, so ``import pytest_durable.live`` does not need it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from ..core.clock import Clock, WallClock
from ..core.errors import StoreUnavailable
from ..core.wakeups import Wakeups
from .sql_engine import SqlEngine
from .sql_schema import Cursor, Dialect, SchemaError
from .sql_store import SqlStore
from .watch import PostgresWatch, announce_keys

if TYPE_CHECKING:
    import psycopg

#: The advisory lock every write transaction takes (per database: PostgreSQL keys advisory locks by
#: database, so stores in different databases of one server do not wait for each other).
WRITE_LOCK = 0x7079_6475_7261_626C  # "pydurabl"

POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    begin_write=("BEGIN ISOLATION LEVEL READ COMMITTED", f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"),
    begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    table_exists="SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?",
    integer="BIGINT",
    real="DOUBLE PRECISION",
)

_ESCAPE = re.compile("\x01(.)", re.DOTALL)


def escape_text(text: str) -> str:
    """``text`` without NUL: ``\\x01`` becomes ``\\x01\\x01``, ``\\x00`` becomes ``\\x01\\x02``."""
    if "\x00" not in text and "\x01" not in text:
        return text
    return text.replace("\x01", "\x01\x01").replace("\x00", "\x01\x02")


def unescape_text(text: str) -> str:
    """The inverse of ``escape_text``."""
    if "\x01" not in text:
        return text
    return _ESCAPE.sub(lambda m: "\x01" if m.group(1) == "\x01" else "\x00", text)


_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^@/?#]*)@", re.IGNORECASE)
_URL_PASSWORD_PARAM = re.compile(r"([?&])password=[^&#]*&?", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"\s*\bpassword\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S*)", re.IGNORECASE)


def redact(dsn: str) -> str:
    """``dsn`` (a URL or ``key=value`` string) with its password removed, to name the database in errors."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", dsn, re.IGNORECASE):
        out = _URL_USERINFO.sub(lambda m: m.group(1) + m.group(2).partition(":")[0] + "@", dsn)
        out = _URL_PASSWORD_PARAM.sub(lambda m: m.group(1), out)
        return out.rstrip("?&")
    return _KV_PASSWORD.sub("", dsn).strip()


def _password(dsn: str) -> str | None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(dsn).get("password")
    except Exception:  # an unparsable DSN: the connect that follows reports it (scrubbed by redact)
        return None
    return None if value is None else str(value)


class _Connection:
    """A psycopg connection in autocommit mode (the engine sends BEGIN/COMMIT itself) that escapes text
    (see above) and reopens itself at the start of an operation when the old one was lost: at a ``BEGIN``,
    or at a statement outside any transaction (a one-statement read, ``Transactions.single``)."""

    def __init__(self, dsn: str, *, lock_timeout: float, where: str) -> None:
        self.dsn = dsn
        self.lock_timeout = lock_timeout
        self.where = where
        self.secret = _password(dsn)
        self.conn: psycopg.Connection[Any] = self._connect()
        self._in_transaction = False  # between a BEGIN and its COMMIT or ROLLBACK

    def scrub(self, message: str) -> str:
        if self.secret:
            message = message.replace(self.secret, "***")
        return message.replace(self.dsn, self.where)

    @property
    def backend_pid(self) -> int | None:
        """The server process of this connection (``None`` while it is lost)."""
        return None if self.conn.closed or self.conn.broken else int(self.conn.info.backend_pid)

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            conn = psycopg.connect(self.dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.where}: cannot connect: {self.scrub(str(exc).strip())}") from None
        except psycopg.Error as exc:
            raise SchemaError(f"{self.where}: not a connection string this store can use: "
                              f"{self.scrub(str(exc).strip())}") from None
        try:
            _register_text_escapes(conn)
            conn.execute("SET extra_float_digits = 1")
            conn.execute("SELECT set_config('lock_timeout', %s, false)", [f"{int(self.lock_timeout * 1000)}ms"])
        except BaseException:
            conn.close()
            raise
        return conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        begins, ends = sql.startswith("BEGIN"), sql in ("COMMIT", "ROLLBACK")
        if self.conn.closed or self.conn.broken:
            if sql == "ROLLBACK":
                self._in_transaction = False
                return self.conn.cursor()  # the server rolled the lost session back already
            if begins or not self._in_transaction:
                self.conn.close()
                self.conn = self._connect()
        if begins:
            self._in_transaction = True
        elif ends:
            self._in_transaction = False
        return self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()


def _register_text_escapes(conn: psycopg.Connection[Any]) -> None:
    from psycopg.abc import Buffer
    from psycopg.types.string import StrDumperUnknown, TextLoader

    class EscapingDumper(StrDumperUnknown):
        def dump(self, obj: str) -> Buffer | None:
            return super().dump(escape_text(obj))

    class UnescapingLoader(TextLoader):
        def load(self, data: Any) -> str:
            return unescape_text(str(super().load(data)))

    conn.adapters.register_dumper(str, EscapingDumper)
    conn.adapters.register_loader("text", UnescapingLoader)


class PostgresStore(SqlStore):
    """Promises and tasks in the PostgreSQL database ``dsn`` names, implementing ``Store`` and ``Inspect``.

    ``dsn`` is a libpq URL (``postgresql://user@host/db``) or ``key=value`` string. ``clock`` stamps every
    time the store writes; the default ``WallClock`` means the same on every machine whose clock is in
    sync (NTP). The simulator passes its virtual clock. ``redispatch_after`` is as for ``MemoryStore``;
    ``lock_timeout`` is how many seconds an operation waits for another's transaction before failing.
    The tables live in the connection's current schema, created on first open and versioned. With
    ``cross_process`` (the default) writes are announced to other processes and long polls listen for
    theirs (``LISTEN/NOTIFY``, see above); the simulator, whose worlds no other process shares, turns it off.
    """

    def __init__(
        self,
        dsn: str,
        clock: Clock | None = None,
        *,
        redispatch_after: float = 5.0,
        lock_timeout: float = 30.0,
        cross_process: bool = True,
    ) -> None:
        where = f"PostgresStore({redact(dsn)!r})"
        if not lock_timeout > 0:
            raise ValueError(f"{where}: lock_timeout must be > 0 seconds, got {lock_timeout}")
        import psycopg

        connection = _Connection(dsn, lock_timeout=lock_timeout, where=where)
        try:
            engine = SqlEngine(connection, POSTGRES, clock if clock is not None else WallClock(),
                               redispatch_after=redispatch_after, where=where)
            engine.ensure_schema()
            schema = engine.connection.execute("SELECT current_schema()", ()).fetchone()[0]
        except psycopg.OperationalError as exc:
            connection.close()
            raise StoreUnavailable(f"{where}: {connection.scrub(str(exc).strip())}") from None
        except psycopg.Error as exc:
            connection.close()
            raise SchemaError(f"{where}: not a database this store can use: "
                              f"{connection.scrub(str(exc).strip())}") from None
        except BaseException:
            connection.close()
            raise
        self.dsn = dsn
        #: The ``LISTEN/NOTIFY`` channel of this store: one per schema, as the tables are.
        self.channel = f"durable:{schema}"
        self._lock_timeout = lock_timeout
        if cross_process:
            engine.transactions.announce = self._announce
        super().__init__(engine, watch=self._watch if cross_process else None)

    def _announce(self, keys: set[Hashable]) -> None:
        """Inside a write transaction: tell other processes' long polls what it may answer."""
        self.engine.transactions.execute(
            "SELECT pg_notify(?, x) FROM unnest(CAST(? AS text[])) AS x", self.channel, announce_keys(keys)
        )

    def _watch(self, wakeups: Wakeups) -> PostgresWatch:
        def connect() -> psycopg.Connection[Any]:
            return _Connection(self.dsn, lock_timeout=self._lock_timeout, where=self.engine.where).conn

        own = self.engine.connection
        assert isinstance(own, _Connection)
        return PostgresWatch(wakeups, connect, self.channel, lambda: own.backend_pid, unescape_text)

    def __repr__(self) -> str:
        return self.engine.where

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["POSTGRES", "PostgresStore", "escape_text", "redact", "unescape_text"]
