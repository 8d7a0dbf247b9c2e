"""``retry_root`` over ``MemoryStore`` (issue 25, item 4): which promises a retry keeps, the ids it
gives, and the roots it refuses."""

from __future__ import annotations

import pytest

from pytest_durable.core.clock import ManualClock
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseState
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.sdk.reruns import TAG_RETRY_OF, RetryRefused, attempt_base, retry_root
from tests.helpers.worlds import run_world

R, X = PromiseState.RESOLVED, PromiseState.REJECTED


def store_with(states: dict[str, PromiseState]) -> MemoryStore:
    """A store holding root ``r`` (with a task of group ``g``) and ``states``' promises under it, by id."""
    store = MemoryStore(ManualClock(100.0))

    async def fill() -> None:
        await store.create_promise("r", '{"func": "f", "args": []}', 200.0, {}, target="g")
        for id in states:
            await store.create_promise(id, f'"{id}"', 200.0, {TAG_PARENT: id.rsplit(".", 1)[0]})
        for id, state in [("r", X), *states.items()]:
            if state is not PromiseState.PENDING:
                await store.settle_promise(id, state, '"v"' if state is R else None)

    run_world(fill)
    return store


def test_a_retry_keeps_the_resolved_promises_whose_ancestors_below_the_root_did_not_resolve() -> None:
    store = store_with({"r.0": R, "r.0.0": R, "r.1": X, "r.1.0": R, "r.1.1": X, "r.1.1.0": R, "r.2": X})

    report = run_world(lambda: retry_root(store, "r", store.clock))
    assert [k.id for k in report.kept] == ["r~2.0", "r~2.1.0", "r~2.1.1.0"]
    assert report.line() == ("r~2 started: retries r (rejected); kept 3 of 7 promises below it (resolved), "
                             "the rest runs again")
    promises = store.promise_map()
    assert promises["r~2.1.1.0"].tags[TAG_PARENT] == "r~2.1.1" and promises["r~2.1.1.0"].value == '"v"'
    assert promises["r~2"].state is PromiseState.PENDING and promises["r~2"].tags[TAG_RETRY_OF] == "r"
    assert promises["r~2"].timeout_at == 200.0  # as long as the old root had: its 100 s from now
    assert run_world(lambda: store.get_task("r~2")).target == "g"
    again = run_world(lambda: retry_root(store, "r", store.clock))
    assert again.new_id == "r~3"


def test_retry_refuses_a_pending_root_a_resolved_one_and_a_child() -> None:
    store = store_with({"r.0": R})
    run_world(lambda: store.create_promise("p", "{}", 200.0))

    def refused(id: str) -> str:
        with pytest.raises(RetryRefused) as info:
            run_world(lambda: retry_root(store, id, store.clock))
        return str(info.value)

    assert refused("p") == "retry p: it is still pending; cancel it first (cancel p) or wait for it"
    assert refused("r.0") == "retry r.0: it is a child of r, not a root; retry the root"
    run_world(lambda: store.create_promise("ok", "{}", 200.0))
    run_world(lambda: store.settle_promise("ok", R, "1"))
    assert refused("ok") == "retry ok: it resolved; there is nothing to retry"


def test_attempt_numbers() -> None:
    assert attempt_base("order-7") == ("order-7", 1)
    assert attempt_base("order-7~3") == ("order-7", 3)
    assert attempt_base("a~b") == ("a~b", 1)
    assert attempt_base("x~1") == ("x~1", 1)
