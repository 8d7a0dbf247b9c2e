"""Which store a world runs over: the reference ``MemoryStore``, the real ``SqliteStore`` or ``PostgresStore``.

A world over SQLite gets a fresh database file in a temporary folder of its own, clocked by the
world's virtual ``TrioClock``, and the folder is removed when the world is done; so checks (1) and (6)
judge the real SQL code, and a world's trace does not depend on which store it ran over. A world over
PostgreSQL gets a fresh schema of its own in the database ``$DURABLE_PG_DSN`` names (the store's tables
are created there), dropped when the world is done. No other process shares a world's store, so its
cross-process watch is off: a long poll waits on the world's own writes and virtual time alone, and
every other request is applied in one step.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.errors import UsageError
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.live.postgres_store import PostgresStore
from pytest_durable.live.sqlite_store import SqliteStore

STORE_KINDS = ("memory", "sqlite", "postgres")
#: The environment variable naming the PostgreSQL database that worlds over ``postgres`` use.
PG_DSN_ENV = "DURABLE_PG_DSN"

_world_numbers = itertools.count(1)


def check_store_kind(kind: str, *, where: str) -> str:
    """``kind`` if it names a store (and, for postgres, ``$DURABLE_PG_DSN`` is set), else a ``UsageError``
    naming ``where`` and what to do."""
    if kind not in STORE_KINDS:
        raise UsageError(f"{where}: the store is one of {'|'.join(STORE_KINDS)}, got {kind!r}")
    if kind == "postgres" and not os.environ.get(PG_DSN_ENV):
        raise UsageError(f"{where}: the postgres store needs {PG_DSN_ENV} set to a PostgreSQL database the worlds "
                         "may create schemas in (e.g. the DSN python -m pytest_durable.testing.pgserver prints)")
    return kind


@contextmanager
def world_store(kind: str) -> Iterator[InspectableStore]:
    """A fresh store of ``kind`` for one world; closed and its files removed afterwards."""
    check_store_kind(kind, where="world_store")
    if kind == "memory":
        yield MemoryStore(TrioClock())
        return
    if kind == "postgres":
        with _postgres_world_store(os.environ[PG_DSN_ENV]) as pg_store:
            yield pg_store
        return
    folder = tempfile.mkdtemp(prefix="durable-world-")
    try:
        store = SqliteStore(Path(folder) / "world.db", TrioClock(), cross_process=False)
        try:
            yield store
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _postgres_world_store(dsn: str) -> Iterator[PostgresStore]:
    """A ``PostgresStore`` on a new schema of ``dsn``'s database (first in its ``search_path``), dropped after."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    schema = f"durable_world_{os.getpid()}_{next(_world_numbers)}"
    options = f"{conninfo_to_dict(dsn).get('options') or ''} -c search_path={schema}".strip()
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            store = PostgresStore(make_conninfo(dsn, options=options), TrioClock(), cross_process=False)
            try:
                yield store
            finally:
                store.close()
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
