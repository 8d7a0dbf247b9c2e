"""Which store a world runs over: the reference ``MemoryStore`` or the real ``SqliteStore``.

A world over SQLite gets a fresh database file in a temporary folder of its own, clocked by the
world's virtual ``TrioClock``, and the folder is removed when the world is done; so checks (1) and (6)
judge the real SQL code, and a world's trace does not depend on which store it ran over.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.errors import UsageError
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.live.sqlite_store import SqliteStore

STORE_KINDS = ("memory", "sqlite")


def check_store_kind(kind: str, *, where: str) -> str:
    """``kind`` if it names a store, else a ``UsageError`` naming ``where`` and the choices."""
    if kind not in STORE_KINDS:
        raise UsageError(f"{where}: the store is one of {'|'.join(STORE_KINDS)}, got {kind!r}")
    return kind


@contextmanager
def world_store(kind: str) -> Iterator[InspectableStore]:
    """A fresh store of ``kind`` for one world; closed and its files removed afterwards."""
    check_store_kind(kind, where="world_store")
    if kind == "memory":
        yield MemoryStore(TrioClock())
        return
    folder = tempfile.mkdtemp(prefix="durable-world-")
    try:
        store = SqliteStore(Path(folder) / "world.db", TrioClock())
        try:
            yield store
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
