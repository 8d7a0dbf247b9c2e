"""The same durable functions, run for real (docs/architecture.md, "Layers"): stores in a SQLite
file or PostgreSQL, worker processes, and the ``python -m pytest_durable`` commands.

Imports neither pytest, hypothesis nor the simulator: a production worker needs none of them.
"""

from .postgres_store import PostgresStore
from .process import serve, worker_id
from .sql_engine import SqlEngine
from .sql_schema import SCHEMA_VERSION, Dialect, SchemaError
from .sql_store import SqlStore
from .sql_transactions import Torn
from .sqlite_store import SqliteStore
from .urls import open_store, store_url

__all__ = ["SCHEMA_VERSION", "Dialect", "PostgresStore", "SchemaError", "SqlEngine", "SqlStore", "SqliteStore",
           "Torn", "open_store", "serve", "store_url", "worker_id"]
