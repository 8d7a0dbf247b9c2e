"""The client of a world: it starts the root workflow through the network and waits for it to settle,
as an application calling ``handle(...).result()`` would."""

from __future__ import annotations

from collections.abc import Callable

from pytest_durable.core.errors import StoreUnavailable
from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.store import TAG_ORIGIN, TAG_SCOPE

from ..kernel import virtual_time
from ..scenario import Scenario, SimConfig
from .network import SimStore


async def start_and_await_root(store: SimStore, scenario: Scenario, config: SimConfig, root_param: str,
                               on_poll: Callable[[], None]) -> PromiseRecord:
    """Create the root (again until the server answers), then poll it until it settles; ``on_poll`` is
    called before each wait (the world moves its liveness deadline then)."""
    tags = {TAG_ORIGIN: scenario.root_id, TAG_SCOPE: "global"}
    while True:
        try:
            await store.create_promise(scenario.root_id, root_param, config.root_timeout, tags, target=scenario.group)
            break
        except StoreUnavailable:
            await virtual_time.sleep(config.poll_interval)
    while True:
        try:
            record = await store.get_promise(scenario.root_id)
        except StoreUnavailable:
            record = None
        if record is not None and record.settled:
            return record
        on_poll()
        await virtual_time.sleep(config.poll_interval)
