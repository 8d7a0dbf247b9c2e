"""The live runtime: real stores (and, later, worker processes) for running durable functions in production.

Imports neither pytest nor hypothesis.
"""

from .sql_store import SCHEMA_VERSION, Dialect, SchemaError, SqlEngine, SqlStore
from .sqlite_store import SqliteStore

__all__ = ["SCHEMA_VERSION", "Dialect", "SchemaError", "SqlEngine", "SqlStore", "SqliteStore"]
