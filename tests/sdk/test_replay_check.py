"""The deploy check (``check_history``): histories recorded by version 1 of a workflow over a MemoryStore,
replayed with version 2; each kind of break is named exactly, a root in flight says what comes next, and
safe changes (a leaf's body, a change guarded by ``ctx.patched``) pass."""

from __future__ import annotations

import importlib
import types
from typing import Any

import attrs
import pytest
import trio

from pytest_durable import Context, PromiseState, dependency, function
from pytest_durable.core.history import History, histories_of
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.sdk import DurableFunction, Registry
from pytest_durable.sdk.replay_check import RootCheck, check_history
from tests.helpers.worlds import new_store, new_worker, run_then_crash, run_to_end, run_world

V1 = importlib.import_module("examples.deploy.orders_v1")


def functions(module: types.ModuleType) -> list[DurableFunction[..., Any]]:
    return [v for v in vars(module).values() if isinstance(v, DurableFunction)]


def registry_of(*fns: DurableFunction[..., Any]) -> Registry:
    registry = Registry()
    for fn in fns:
        registry.register(fn)
    return registry


def new_code(name: str) -> Registry:
    return registry_of(*functions(importlib.import_module(f"examples.deploy.{name}")))


def record_v1() -> dict[str, History]:
    """Three roots of version 1: settled, in the pick-up wait (past the charge), and one whose process
    died right after its reservations (the same record with the charge and the timer not yet made)."""
    store = new_store()

    async def main() -> None:
        await run_to_end(new_worker(store, functions(V1)), "done-7", V1.fulfil, "done-7", 2)
        await run_then_crash(new_worker(store, functions(V1)), "wait-7", V1.fulfil, "wait-7", 3, at=1)
        await run_then_crash(new_worker(store, functions(V1)), "early-7", V1.fulfil, "early-7", 3, at=1)

    run_world(main)
    promises = [p for p in store.promises() if p.id not in ("early-7.3", "early-7.4")]
    roots = [p.id for p in promises if TAG_PARENT not in p.tags]
    return {h.root: h for h in histories_of(promises, roots)}


@pytest.fixture(scope="module")
def v1() -> dict[str, History]:
    return record_v1()


def test_version_1_replays_its_own_histories(v1: dict[str, History]) -> None:
    checks = {root: check_history(h, new_code("orders_v1")) for root, h in v1.items()}
    assert [c.compatible for c in checks.values()] == [True, True, True]
    assert checks["done-7"] == RootCheck("done-7", PromiseState.RESOLVED, True, (), None, (), ())
    assert checks["wait-7"].next_call == "fulfil awaits wait-7.4 ctx.sleep(2.0) (pending)"
    assert checks["early-7"].next_call == "fulfil early-7.3 ctx.run(charge('early-7', 30))"


def test_a_reordering_breaks_every_root_at_its_first_child(v1: dict[str, History]) -> None:
    for root, history in v1.items():
        check = check_history(history, new_code("orders_v2_reordered"))
        lines = 2 if root == "done-7" else 3
        assert not check.compatible
        assert check.breaks == (
            f"{root} fulfil('{root}', {lines}): child {root}.0 was recorded as reserve('{root}', 0); the new code "
            f"calls charge('{root}', {10 * lines})",)
        assert check.next_call is None
        assert check.report().splitlines()[0] == f"{root} ({history.root_record.state.value}): BREAKS with the new code"


def test_a_leaf_only_change_and_a_new_workflow_are_compatible(v1: dict[str, History]) -> None:
    checks = [check_history(h, new_code("orders_v2_leaf_only")) for h in v1.values()]
    assert [c.breaks for c in checks] == [(), (), ()]
    assert [c.report() for c in checks] == [
        "done-7 (resolved): compatible",
        "wait-7 (pending): compatible; next: fulfil awaits wait-7.4 ctx.sleep(2.0) (pending)",
        "early-7 (pending): compatible; next: fulfil early-7.3 ctx.run(charge('early-7', 30))",
    ]


def test_the_patched_version_is_compatible_and_names_the_old_paths_in_flight(v1: dict[str, History]) -> None:
    checks = {root: check_history(h, new_code("orders_v2_patched")) for root, h in v1.items()}
    assert all(c.compatible for c in checks.values())
    # past the charge: the old path, on every replay; settled: never runs again; before it: the new path
    assert {root: c.old_paths for root, c in checks.items()} == {"done-7": (), "wait-7": ("fraud-check",),
                                                                 "early-7": ()}
    assert checks["early-7"].next_call == "fulfil early-7.patch-fraud-check ctx.patched('fraud-check')"
    assert checks["wait-7"].report() == ("wait-7 (pending): compatible; next: fulfil awaits wait-7.4 ctx.sleep(2.0) "
                                         "(pending); takes the old path of patch 'fraud-check'")
    assert checks["done-7"].patches == ("fraud-check",)  # asked (and answered False), though it binds nothing


# Workflows written for one kind of break each: version 1 and version 2 share a name, as a deploy would.

@function
async def leaf(n: int) -> int:
    return n


@attrs.frozen
class Receipt:
    amount: int


@function
async def receipt(amount: int) -> Receipt:
    return Receipt(amount)


@function(name="flow")
async def flow_v1(ctx: Context, n: int) -> str:
    a = await ctx.run(leaf, n)
    b = await ctx.run(leaf, n + 1)
    return f"{a}+{b}"


@function(name="flow")
async def flow_new_argument(ctx: Context, n: int) -> str:
    a = await ctx.run(leaf, n)
    b = await ctx.run(leaf, n + 2)
    return f"{a}+{b}"


@function(name="flow")
async def flow_fewer_calls(ctx: Context, n: int) -> str:
    a = await ctx.run(leaf, n)
    return f"{a}+{n + 1}"


@function(name="flow")
async def flow_other_value(ctx: Context, n: int) -> str:
    a = await ctx.run(leaf, n)
    b = await ctx.run(leaf, n + 1)
    return f"{a} and {b}"


@function(name="flow")
async def flow_more_calls(ctx: Context, n: int) -> str:
    a = await ctx.run(leaf, n)
    b = await ctx.run(leaf, n + 1)
    c = await ctx.run(leaf, n + 2)
    return f"{a}+{b}+{c}"


@function(name="parent")
async def parent_v1(ctx: Context, n: int) -> str:
    return await ctx.run(flow_v1, n)


@function(name="paid")
async def paid(ctx: Context, n: int) -> int:
    r = await ctx.run(receipt, n)
    return r.amount


def recorded(fn: DurableFunction[..., Any], fns: list[DurableFunction[..., Any]], *args: Any) -> History:
    store = new_store()
    run_world(lambda: run_to_end(new_worker(store, fns), "r", fn, *args))
    return histories_of(store.promises(), ["r"])[0]


def test_an_argument_changed_names_the_child_and_both_calls() -> None:
    check = check_history(recorded(flow_v1, [flow_v1, leaf], 1), registry_of(flow_new_argument, leaf))
    assert check.breaks == ("r flow(1): child r.1 was recorded as leaf(2); the new code calls leaf(3)",)


def test_fewer_calls_than_recorded() -> None:
    check = check_history(recorded(flow_v1, [flow_v1, leaf], 1), registry_of(flow_fewer_calls, leaf))
    assert check.breaks == ("r flow(1) resolved, but the new code makes fewer calls than recorded: it never asks "
                            "for r.1 ctx.run(leaf(2))",)


def test_more_calls_than_recorded_by_a_settled_workflow() -> None:
    check = check_history(recorded(flow_v1, [flow_v1, leaf], 1), registry_of(flow_more_calls, leaf))
    assert check.breaks == ("r flow(1) resolved, but the new code asks for child r.2 ctx.run(leaf(3)), which was "
                            "never recorded",)


def test_a_different_value_from_the_same_children() -> None:
    check = check_history(recorded(flow_v1, [flow_v1, leaf], 1), registry_of(flow_other_value, leaf))
    assert check.breaks == ("r flow(1) resolved '1+2', but the new code computes resolved '1 and 2' from the "
                            "same children",)


def test_a_child_workflow_is_replayed_too_and_named() -> None:
    history = recorded(parent_v1, [parent_v1, flow_v1, leaf], 1)
    check = check_history(history, registry_of(parent_v1, flow_new_argument, leaf))
    assert check.breaks == ("r.0 flow(1): child r.0.1 was recorded as leaf(2); the new code calls leaf(3)",)


def test_a_function_no_longer_registered() -> None:
    check = check_history(recorded(flow_v1, [flow_v1, leaf], 1), registry_of(leaf))
    assert check.breaks == ("flow is no longer registered: the record calls it as r flow(1) (resolved); keep it, "
                            "or name the module that defines it",)


def test_a_class_the_new_code_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    history = recorded(paid, [paid, receipt], 5)
    monkeypatch.delattr(__import__(__name__, fromlist=["Receipt"]), "Receipt")
    check = check_history(history, registry_of(paid, receipt))
    assert len(check.breaks) == 1
    assert check.breaks[0].startswith("r.0: the new code cannot decode its recorded value: cannot decode a value of "
                                      f"class {__name__}:Receipt")


def test_the_same_code_passes_its_own_histories() -> None:
    assert check_history(recorded(paid, [paid, receipt], 5), registry_of(paid, receipt)).compatible
    assert check_history(recorded(parent_v1, [parent_v1, flow_v1, leaf], 1),
                         registry_of(parent_v1, flow_v1, leaf)).compatible


@function(name="remote_parent")
async def remote_parent(ctx: Context, n: int) -> str:
    return await ctx.rpc(flow_v1, n)


def test_a_remote_child_workflow_is_replayed_on_its_own() -> None:
    history = recorded(remote_parent, [remote_parent, flow_v1, leaf], 1)
    assert history.records[1].tags.get("durable:scope") != "local"  # a task of its own, not a local child
    check = check_history(history, registry_of(remote_parent, flow_new_argument, leaf))
    assert check.breaks == ("r.0 flow(1): child r.0.1 was recorded as leaf(2); the new code calls leaf(3)",)


@function(name="priced")
async def priced(ctx: Context, n: int) -> int:
    rate = dependency("rate")  # a workflow may read a worker's dependency: the check hands it the same
    return int(await ctx.run(leaf, n)) * int(rate)


def test_dependencies_are_handed_to_the_replayed_bodies() -> None:
    store = new_store()
    worker = new_worker(store, [priced, leaf])
    worker.set_dependency("rate", 3)
    run_world(lambda: run_to_end(worker, "r", priced, 2))
    history = histories_of(store.promises(), ["r"])[0]
    assert check_history(history, registry_of(priced, leaf), dependencies={"rate": 3}).compatible
    other = check_history(history, registry_of(priced, leaf), dependencies={"rate": 4})
    assert other.breaks == ("r priced(2) resolved 6, but the new code computes resolved 8 from the same children",)
    missing = check_history(history, registry_of(priced, leaf))
    assert len(missing.breaks) == 1 and missing.breaks[0].startswith(
        "r priced(2) resolved, but the new code's replay of it stops: raised MissingDependency")


@function
async def remote_step(n: int) -> int:
    return n


@function(name="waits")
async def waits_v1(ctx: Context) -> int:
    pending = await ctx.rpc(remote_step, 1).spawn()  # child 0: stays pending in the record
    await ctx.run(leaf, 2)  # child 1: recorded past the await below
    return await pending


@function(name="waits")
async def waits_v2(ctx: Context) -> int:
    pending = await ctx.rpc(remote_step, 1).spawn()
    value = await pending  # the replay stops here, before the patch
    if await ctx.patched("p"):
        await ctx.run(leaf, 3)
    await ctx.run(leaf, 2)
    return value


def test_a_patch_past_a_pending_child_with_later_children_recorded_is_not_called_retirable() -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [waits_v1, leaf])  # nobody serves remote_step: child 0 stays pending
        with trio.move_on_after(5):
            async with worker.running():
                await worker.run("w", waits_v1)
                await trio.sleep_forever()

    run_world(main)
    history = histories_of(store.promises(), ["w"])[0]
    check = check_history(history, registry_of(waits_v2, leaf, remote_step))
    assert check.compatible and check.old_paths == ()
    assert check.short_of_record == (("w", ()),)  # it waits on w.0 with w.1 recorded past it
    assert check.may_take_old_path("p")  # once w.0 settles, ctx.patched("p") finds w.1 unasked: the old path

    async def finish() -> int:  # version 2 serves it to the end: it does take the old path
        worker = new_worker(store, [waits_v2, leaf, remote_step])
        async with worker.running():
            return int(await worker.handle("w").result())

    assert run_world(finish) == 1
    assert "w.patch-p" not in store.promise_map() and [p.id for p in store.promises() if p.id.startswith("w.")] == [
        "w.0", "w.1"]


@function
async def slow_item(n: int) -> int:
    await trio.sleep(n)  # item n takes n seconds: a crash at 2.5 s leaves items 3 to 5 pending
    return n


@function
async def fan(ctx: Context, n: int) -> list[int]:
    started = [await ctx.run(slow_item, i).spawn() for i in range(n)]
    return [await f for f in started]


def test_a_fan_out_in_flight_names_the_pending_children_it_would_run_in_call_order() -> None:
    store = new_store()
    run_world(lambda: run_then_crash(new_worker(store, [fan, slow_item]), "f", fan, 6, at=2.5))
    history = histories_of(store.promises(), ["f"])[0]
    for _ in range(5):  # the same answer whichever started child trio's scheduler would run first
        check = check_history(history, registry_of(fan, slow_item))
        assert check.compatible
        assert check.next_call == ("fan runs f.3 ctx.run(slow_item(3)) (pending), f.4 ctx.run(slow_item(4)) (pending), "
                                   "f.5 ctx.run(slow_item(5)) (pending)")
