"""Histories out of a store and through files: the versioned format round-trips record for record, and a
file that is not a history, or of a newer version, is one clear error naming it."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_durable.core.errors import UsageError
from pytest_durable.core.history import History
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.live.histories import file_name, load_histories, write_histories
from pytest_durable.live.sweeper import SWEEPER
from pytest_durable.sdk import DurableFunction
from tests.helpers.histories import read_now
from tests.helpers.worlds import new_store, new_worker, run_then_crash, run_to_end, run_world

V1 = importlib.import_module("examples.deploy.orders_v1")
FNS: list[DurableFunction[..., Any]] = [v for v in vars(V1).values() if isinstance(v, DurableFunction)]



def v1_store() -> Any:
    store = new_store()

    async def main() -> None:
        await run_to_end(new_worker(store, FNS), "order-1", V1.fulfil, "order-1", 2)
        await store.create_promise(SWEEPER, "{}", math.inf)  # the workers' bookkeeping, as live workers make it
        await run_to_end(new_worker(store, FNS), "other/3", V1.fulfil, "other/3", 1)
        await run_then_crash(new_worker(store, FNS), "order-2", V1.fulfil, "order-2", 1, at=1)

    run_world(main)
    return store


def test_read_histories_gives_each_root_with_its_tree_in_creation_order() -> None:
    store = v1_store()
    histories = read_now(store)
    assert [h.root for h in histories] == ["order-1", "other/3", "order-2"]  # the sweeper is no root
    assert [r.id for r in histories[0].records] == ["order-1", "order-1.0", "order-1.1", "order-1.2", "order-1.3",
                                                     "order-1.4"]
    assert [h.root for h in read_now(store, roots="order-*")] == ["order-1", "order-2"]
    assert [h.root for h in read_now(store, in_flight=True)] == ["order-2"]


def test_a_history_round_trips_through_files_record_for_record(tmp_path: Path) -> None:
    histories = read_now(v1_store())
    written = write_histories(tmp_path / "out", histories)
    assert [p.name for p in written] == ["order-1.json", file_name("other/3"), "order-2.json"]
    assert file_name("other/3").startswith("other_3-") and file_name("other_3") == "other_3.json"
    loaded = load_histories(tmp_path / "out")
    assert sorted(loaded, key=lambda h: h.root) == sorted(histories, key=lambda h: h.root)
    assert load_histories(written[2]) == [histories[2]]
    doc = json.loads(written[0].read_text())
    assert (doc["format"], doc["version"], doc["root"]) == ("pytest-durable-history", 1, "order-1")


def test_an_infinite_timeout_round_trips() -> None:
    record = PromiseRecord("r", PromiseState.PENDING, '{"func":"f","args":[],"kwargs":{}}', None, math.inf)
    assert History.loads(History("r", (record,)).dumps(), where="x") == History("r", (record,))


@pytest.mark.parametrize(("text", "says"), [
    ("not json", "x.json: not a history file (not JSON: Expecting value at line 1)"),
    ('{"format": "something else"}', "x.json: not a history file (no \"format\": 'pytest-durable-history')"),
    ('{"format": "pytest-durable-history", "version": 2, "root": "r", "promises": []}',
     "x.json: history format version 2 is newer than this pytest-durable reads (up to 1); upgrade"),
    ('{"format": "pytest-durable-history", "version": 1, "root": "r", "promises": []}',
     "x.json: a history needs \"root\" (a promise id) and a non-empty \"promises\" list"),
    ('{"format": "pytest-durable-history", "version": 1, "root": "r", "promises": [{"id": "r"}]}',
     "x.json: promise 0 lacks the field 'state'"),
    ('{"format": "pytest-durable-history", "version": 1, "root": "r", "promises": [{"id": "r", "state": "done", '
     '"param": "{}", "value": null, "timeout_at": 1, "tags": {}, "created_on": 0, "settled_on": null}]}',
     "x.json: promise 0: unknown state 'done'"),
])
def test_a_bad_file_is_one_error_naming_it(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(UsageError) as raised:
        load_histories(tmp_path / "x.json")
    assert str(raised.value).startswith(str(tmp_path / says.split(":", 1)[0]) + ":" + says.split(":", 1)[1])


def test_a_missing_path_or_an_empty_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        load_histories(tmp_path / "nowhere")
    with pytest.raises(UsageError, match=r"no history files \(\*\.json\) in this directory"):
        load_histories(tmp_path)
