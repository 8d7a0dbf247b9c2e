"""One running world and what it hands back: the simulated server (a store behind requests), the
network between it and the processes (latency, drops, duplicates, partitions), the worker processes
and their incarnations, the client that starts the root, the director of a script, the faults that
strike the world at large, and the ``RunResult`` of a finished world. Which store a world runs over
(memory, SQLite, PostgreSQL) is ``stores``."""

from .result import RunResult
from .stores import PG_DSN_ENV, STORE_KINDS, check_store_kind, world_store
from .world import World

__all__ = ["PG_DSN_ENV", "STORE_KINDS", "RunResult", "World", "check_store_kind", "world_store"]
