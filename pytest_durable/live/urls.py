"""Store URLs: one string names where a deployment keeps its promises, the same in every process.

``sqlite:///app.db`` (a file, relative to the working directory; ``sqlite:////abs/app.db`` absolute)
is the embedded default; ``postgresql://…`` names a PostgreSQL database. The environment variable
``DURABLE_STORE`` gives the URL when a command is not told one.
"""

from __future__ import annotations

import os

from ..core.errors import UsageError
from .postgres_store import redact
from .threaded import Threaded

#: The store a command uses when neither ``--store`` nor ``DURABLE_STORE`` names one.
DEFAULT_URL = "sqlite:///durable.db"
ENV = "DURABLE_STORE"


def store_url(given: str | None = None) -> str:
    """The URL to use: ``given``, else ``$DURABLE_STORE``, else ``DEFAULT_URL``."""
    return given or os.environ.get(ENV) or DEFAULT_URL


def open_store(url: str) -> Threaded:
    """The store ``url`` names, opened (its schema created or checked), for a live process: each
    operation runs off the trio loop (``Threaded``). Bad URLs are a ``UsageError`` that says what a
    good one looks like."""
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite" and sep:
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise UsageError(f"store {url!r}: name a file, e.g. sqlite:///app.db (relative) or sqlite:////var/app.db")
        import sqlite3

        from .sqlite_store import SqliteStore

        return Threaded(SqliteStore(path), transient=(sqlite3.OperationalError,))
    if scheme in ("postgresql", "postgres") and sep:
        import psycopg

        from .postgres_store import PostgresStore

        return Threaded(PostgresStore(url), transient=(psycopg.OperationalError,))
    raise UsageError(
        f"store {redact(url)!r}: unknown kind of store; use sqlite:///FILE (embedded, one machine) or "
        "postgresql://USER@HOST/DB (several machines)"
    )


__all__ = ["DEFAULT_URL", "ENV", "open_store", "store_url"]
