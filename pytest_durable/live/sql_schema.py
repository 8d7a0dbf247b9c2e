"""What the SQL stores need of a database (the DB-API shapes, the ``Dialect`` seam that holds what differs
between databases) and the store's own tables: created on first open, versioned in ``schema_version``
(another version, or tables that are not ours, is refused with ``SchemaError``), and read back as records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from ..core.errors import StoreError
from ..core.records import PromiseRecord, PromiseState, TaskRecord, TaskState

#: The version of the tables below; a store upgrades a version-1 database (adding the tasks' error and
#: failures) and a version-2 one (adding the tasks' lapsed_owner), and refuses any other version.
SCHEMA_VERSION = 3

_TABLES = (
    "CREATE TABLE schema_version (version {int} NOT NULL)",
    "CREATE TABLE promises (seq {int} PRIMARY KEY, id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, "
    "param TEXT NOT NULL, value TEXT, timeout_at {real} NOT NULL, tags TEXT NOT NULL, created_on {real} NOT NULL, "
    "settled_on {real}, parent TEXT)",
    "CREATE INDEX promises_by_parent ON promises (parent, seq)",
    "CREATE INDEX promises_by_timeout ON promises (state, timeout_at, seq)",
    "CREATE TABLE tasks (seq {int} PRIMARY KEY, id TEXT NOT NULL UNIQUE, promise_id TEXT NOT NULL, "
    "target TEXT NOT NULL, state TEXT NOT NULL, version {int} NOT NULL, lease_owner TEXT, lease_expires_at {real}, "
    "retry_at {real}, callbacks TEXT NOT NULL, attempts {int} NOT NULL, ttl {real}, error TEXT, "
    "failures {int} NOT NULL DEFAULT 0, lapsed_owner TEXT)",
    "CREATE TABLE pending (seq {int} PRIMARY KEY, task_id TEXT NOT NULL UNIQUE, target TEXT NOT NULL)",
    "CREATE INDEX pending_by_target ON pending (target, seq)",
    "CREATE TABLE waiters (seq {int} PRIMARY KEY, promise_id TEXT NOT NULL, task_id TEXT NOT NULL, "
    "UNIQUE (promise_id, task_id))",
    "CREATE INDEX waiters_by_task ON waiters (task_id)",
    "CREATE TABLE leases (seq {int} PRIMARY KEY, expires_at {real} NOT NULL, task_id TEXT NOT NULL)",
    "CREATE INDEX leases_by_time ON leases (expires_at, seq)",
)
_OUR_TABLES = ("schema_version", "promises", "tasks", "pending", "waiters", "leases")

#: The columns a promise record is read from (``promise_from``), in order.
P_COLS = "id, state, param, value, timeout_at, tags, created_on, settled_on"
#: The columns a task record is read from (``task_from``), in order.
T_COLS = ("id, promise_id, target, state, version, lease_owner, lease_expires_at, retry_at, callbacks, attempts, "
          "error, failures, lapsed_owner")


class SchemaError(StoreError):
    """The database holds a schema this store cannot use: another version, or tables that are not ours."""


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the engine uses, in autocommit mode (it sends BEGIN itself)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def close(self) -> None: ...


@attrs.frozen
class Dialect:
    """What differs between SQL databases, and nothing else."""

    name: str
    #: The parameter placeholder; the engine writes ``?`` and replaces it with this.
    placeholder: str
    #: Statements that start a write transaction and make it the only writer until it ends.
    begin_write: tuple[str, ...]
    #: The statement that starts a read-only transaction seeing one consistent snapshot.
    begin_read: str
    #: A query with one parameter (a table name) that returns a row when the table exists.
    table_exists: str
    integer: str = "INTEGER"
    real: str = "REAL"

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


def create_or_check_schema(execute: Callable[..., Cursor], dialect: Dialect, where: str) -> None:
    """Create the tables in an empty database, upgrade versions 1 and 2, or refuse a database of another version
    or tables that are not ours (``SchemaError`` naming ``where``). Runs inside the caller's transaction;
    ``execute(sql, *params)`` runs one statement."""
    present = [t for t in _OUR_TABLES if execute(dialect.table_exists, t).fetchone() is not None]
    if not present:
        for statement in _TABLES:
            execute(statement.format(int=dialect.integer, real=dialect.real))
        execute("INSERT INTO schema_version (version) VALUES (?)", SCHEMA_VERSION)
        return
    if "schema_version" not in present:
        raise SchemaError(
            f"{where}: has tables named {', '.join(present)} but no schema_version table, so it is not a "
            "pytest-durable store; give the store a file or database of its own"
        )
    rows = execute("SELECT version FROM schema_version").fetchall()
    versions = sorted(int(r[0]) for r in rows)
    if versions == [1]:  # version 2 records on each task the error that stopped it (error, failures)
        execute("ALTER TABLE tasks ADD COLUMN error TEXT")
        execute(f"ALTER TABLE tasks ADD COLUMN failures {dialect.integer} NOT NULL DEFAULT 0")
        versions = [2]
    if versions == [2]:  # version 3 records whose lease ran out, so the next holder knows it took over
        execute("ALTER TABLE tasks ADD COLUMN lapsed_owner TEXT")
        execute("UPDATE schema_version SET version = ?", SCHEMA_VERSION)
        versions = [SCHEMA_VERSION]
    if versions != [SCHEMA_VERSION]:
        found = ", ".join(map(str, versions)) or "none"
        newer = ""
        if versions and versions[-1] > SCHEMA_VERSION:
            newer = " (written by a newer pytest-durable: upgrade this one)"
        raise SchemaError(
            f"{where}: the store's schema is version {found}{newer}; this pytest-durable reads version "
            f"{SCHEMA_VERSION} only"
        )


def promise_from(row: Sequence[Any]) -> PromiseRecord:
    """The promise record a row of ``P_COLS`` holds."""
    id, state, param, value, timeout_at, tags, created_on, settled_on = row
    return PromiseRecord(
        id=id, state=PromiseState(state), param=param, value=value, timeout_at=float(timeout_at),
        tags=json.loads(tags), created_on=float(created_on),
        settled_on=None if settled_on is None else float(settled_on),
    )


def task_from(row: Sequence[Any]) -> TaskRecord:
    """The task record a row of ``T_COLS`` holds."""
    id, promise_id, target, state, version, owner, expires, retry_at, callbacks, attempts, error, failures, lapsed = row
    return TaskRecord(
        id=id, promise_id=promise_id, target=target, state=TaskState(state), version=int(version),
        lease_owner=owner, lease_expires_at=None if expires is None else float(expires),
        retry_at=None if retry_at is None else float(retry_at), callbacks=tuple(json.loads(callbacks)),
        attempts=int(attempts), error=error, failures=int(failures), lapsed_owner=lapsed,
    )
