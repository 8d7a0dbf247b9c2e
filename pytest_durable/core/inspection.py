"""The synchronous inspection protocol every store provides, for tests, checks and renderers.

The ``Store`` protocol is what workers use (async, one atomic request each); ``Inspect`` is how the
simulator's checks and the tests look at everything a store holds between requests, without
copying the store or knowing how it keeps its records (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from .records import PromiseRecord, TaskRecord
from .store import Store


@attrs.frozen
class StoreSnapshot:
    """Every promise and every task of a store at one moment, each in creation order."""

    promises: tuple[PromiseRecord, ...]
    tasks: tuple[TaskRecord, ...]


class Inspect(Protocol):
    """Reads a store's records as stored: due timeouts and lease expiries are NOT applied."""

    def promises(self) -> list[PromiseRecord]:
        """Every promise record, in creation order."""
        ...

    def tasks(self) -> list[TaskRecord]:
        """Every task record, in creation order."""
        ...

    def promise(self, id: str) -> PromiseRecord | None:
        """The stored record of ``id``, or ``None``."""
        ...

    def promise_count(self) -> int:
        """How many promises the store holds (``len(promises())``, without copying them: the simulator
        asks on every poll of a world's client, and a copy made a big world's cost grow with N²)."""
        ...

    def promise_map(self) -> Mapping[str, PromiseRecord]:
        """A snapshot of every promise by id (a copy: later operations do not change it)."""
        ...

    def next_due(self) -> float:
        """The earliest instant later than now at which time alone changes what the store answers (a
        pending timeout, a lease expiry, a pending task's retry time), in its clock; ``inf`` if none."""
        ...

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        """Every record at one moment. With ``apply_due``, the records as a ``sweep()`` now would leave
        them (every due timeout and lease expiry applied), computed without changing the store: what
        "the store is unchanged" means when any access may apply due timeouts lazily."""
        ...


class InspectableStore(Store, Inspect, Protocol):
    """A store the simulator can run: the ``Store`` protocol and ``Inspect``."""
