"""The client of a world: it starts the root workflow through the network and waits for it to settle,
as an application calling ``handle(...).result()`` would: by long polls, which leave no trace."""

from __future__ import annotations

from pytest_durable.core.errors import StoreUnavailable
from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.store import TAG_ORIGIN, TAG_SCOPE

from ..kernel import virtual_time
from ..scenario import Scenario, SimConfig
from .network import SimStore


async def start_and_await_root(store: SimStore, scenario: Scenario, config: SimConfig,
                               root_param: str) -> PromiseRecord:
    """Create the root (again until the server answers), then wait for it to settle, one long poll at a
    time (the world's liveness budget cancels the wait when it is spent)."""
    tags = {TAG_ORIGIN: scenario.root_id, TAG_SCOPE: "global"}
    while True:
        try:
            await store.create_promise(scenario.root_id, root_param, config.root_timeout, tags, target=scenario.group)
            break
        except StoreUnavailable:
            await virtual_time.sleep(config.backoff_cap)
    while True:
        try:
            record = await store.await_settled(scenario.root_id, wait=config.poll_interval)
        except StoreUnavailable:
            await virtual_time.sleep(config.backoff_cap)
            continue
        if record.settled:
            return record
