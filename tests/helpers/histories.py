"""Reading histories from a test's MemoryStore, whose clock is trio's: inside a trio run."""

from __future__ import annotations

from typing import Any

from pytest_durable.core.history import History
from pytest_durable.live.histories import read_histories
from tests.helpers.worlds import run_world


def read_now(store: Any, **filters: Any) -> list[History]:
    """``read_histories(store, **filters)``, read inside a trio run, as a store on trio's clock needs."""
    async def read() -> list[History]:
        return read_histories(store, **filters)

    return run_world(read)  # type: ignore[no-any-return]
