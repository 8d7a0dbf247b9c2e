"""``Transactions``: the SQL engine's operations on one connection, each one write transaction, one at a
time. A refused operation still commits what it applied on the way, as the reference store keeps it (see
``sql_engine``); the simulator's server crash can make one die before it commits (``Torn``).

A transaction also collects what its writes may answer (``note``: the wakeup keys of ``core.wakeups``;
``note_time``: a new timeout or lease expiry): announced to other processes inside the transaction (so
only a commit sends it), and handed to the store's own waiters after the commit (``take_changes``)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ..core.errors import StoreError, UsageError
from .sql_schema import Connection, Cursor, Dialect


class Torn(BaseException):
    """The process died in the middle of a transaction: nothing of it was committed. Only the
    simulator's server crash raises it; a BaseException so no ``except Exception`` takes it."""


class Transactions:
    """Transactions on ``connection`` in ``dialect``, one at a time (a lock, for threads); ``where``
    names the database in errors."""

    def __init__(self, connection: Connection, dialect: Dialect, where: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.where = where
        self._lock = threading.Lock()  # one operation at a time on this connection (threads)
        #: Set by the simulator to make the next write transaction die before it commits.
        self.die_before_commit = False
        #: Called inside a write transaction, just before it commits, with the keys it noted (and never
        #: with none): how a store tells other processes (PostgreSQL's ``pg_notify``).
        self.announce: Callable[[set[Hashable]], None] | None = None
        self._keys: set[Hashable] = set()  # noted by the transaction under way
        self._earliest = math.inf
        self._outbox_lock = threading.Lock()
        self._outbox: tuple[set[Hashable], float] = (set(), math.inf)  # committed, not yet taken

    @property
    def lock(self) -> threading.Lock:
        """Held while an operation runs on the connection (a quick check may skip when it is busy)."""
        return self._lock

    def note(self, key: Hashable) -> None:
        """The transaction under way may answer waiters on ``key`` (``core.wakeups``)."""
        self._keys.add(key)

    def note_time(self, at: float) -> None:
        """The transaction under way adds a timeout or a lease expiry at clock time ``at``."""
        if at < self._earliest:
            self._earliest = at

    def take_changes(self) -> tuple[set[Hashable], float]:
        """The keys noted by the transactions committed since the last call, and the earliest time they
        added (``inf`` if none)."""
        with self._outbox_lock:
            taken, self._outbox = self._outbox, (set(), math.inf)
        return taken

    def _forget_notes(self) -> None:
        self._keys = set()
        self._earliest = math.inf

    def _commit(self) -> None:
        keys, earliest = self._keys, self._earliest
        self._forget_notes()
        if keys and self.announce is not None:
            try:
                self.announce(keys)
            except BaseException:
                self.execute("ROLLBACK")
                raise
        self.execute("COMMIT")
        if keys or earliest < math.inf:
            with self._outbox_lock:
                outbox, outbox_earliest = self._outbox
                outbox |= keys
                self._outbox = (outbox, min(outbox_earliest, earliest))

    def execute(self, sql: str, *params: Any) -> Cursor:
        """Run one statement, written with ``?`` placeholders, in the current transaction."""
        return self.connection.execute(self.dialect.sql(sql), params)

    def _begin_write(self) -> None:
        """Start a write transaction; if a later statement of it fails (e.g. PostgreSQL's lock times out),
        end the half-begun transaction, so the connection is clean for the next operation."""
        self._forget_notes()
        first, *rest = self.dialect.begin_write
        self.execute(first)
        try:
            for statement in rest:
                self.execute(statement)
        except BaseException:
            with suppress(Exception):  # the statement's own error is the one to report
                self.execute("ROLLBACK")
            raise

    @contextmanager
    def write(self) -> Iterator[None]:
        """One operation: the only writer until it ends; committed even if it refuses (see above).
        With ``die_before_commit`` set (the simulator's server crash), the operation runs to its end
        and is then rolled back instead of committed, once, and ``Torn`` is raised."""
        with self._lock:
            self._begin_write()
            try:
                yield
            except (StoreError, UsageError):
                self._end_or_die()  # the due timeouts and expiries applied on the way stay applied
                raise
            except BaseException:
                self.execute("ROLLBACK")
                raise
            self._end_or_die()

    def _end_or_die(self) -> None:
        if self.die_before_commit:
            self.die_before_commit = False
            self._forget_notes()
            self.execute("ROLLBACK")
            raise Torn(f"{self.where}: the server died before the transaction committed")
        self._commit()

    @contextmanager
    def read(self) -> Iterator[None]:
        """A read-only transaction seeing one consistent snapshot."""
        with self._lock:
            self.execute(self.dialect.begin_read)
            try:
                yield
            finally:
                self.execute("COMMIT")

    @contextmanager
    def single(self) -> Iterator[None]:
        """A read of exactly one statement, outside any transaction: a database runs one statement on one
        snapshot anyway, so ``BEGIN`` and ``COMMIT`` around it would be two round trips for nothing (an
        idle worker's next-due reads are most of what it asks)."""
        with self._lock:
            yield

    @contextmanager
    def setup(self) -> Iterator[None]:
        """A write transaction that commits only if it ends without error (creating the schema)."""
        with self._lock:
            self._begin_write()
            try:
                yield
            except BaseException:
                self.execute("ROLLBACK")
                raise
            self.execute("COMMIT")

    @contextmanager
    def rolled_back(self) -> Iterator[None]:
        """A write transaction that is always rolled back: what an operation would do, without doing it."""
        with self._lock:
            self._begin_write()
            try:
                yield
            finally:
                self.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self.connection.close()
