"""``ctx.detach``: a child its parent does not join. It runs as its own task on a real ``Worker``, its id
derives from the parent's (a replay finds it and never starts it twice), its deadline is its own, and
the parent returns without waiting for it."""

from __future__ import annotations

import pytest
import trio

from pytest_durable import Context, PromiseState, function
from pytest_durable.core.store import TAG_DETACHED
from pytest_durable.core.tree import tree
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live

SHIPPED: list[str] = []


@function
async def ship(order: str) -> str:
    await trio.sleep(50)  # longer than the parent lives, and past the parent's own deadline
    SHIPPED.append(order)
    return f"shipped {order}"


@function
async def checkout(ctx: Context, order: str) -> str:
    dispatch = await ctx.detach(ship, order)
    await ctx.run(ship_note, dispatch)
    return f"paid {order}"


@function
async def ship_note(dispatch: str) -> str:
    return dispatch


def test_a_detached_child_runs_on_its_own_after_its_parent_settled() -> None:
    SHIPPED.clear()
    store = new_store()
    bodies: list[str] = []

    async def main() -> tuple[str, float]:
        worker = new_worker(store, [checkout, ship, ship_note], bodies)
        async with worker.running():
            handle = await worker.run("order-1", checkout, "o1")
            value = await handle.result()
            returned_at = trio.current_time()
            child = await worker.handle("order-1.0").result()
            assert child == "shipped o1"
            return value, returned_at

    value, returned_at = run_live(main)
    assert value == "paid o1"
    assert returned_at < 50  # the parent did not wait for its detached child
    records = store.promise_map()
    assert records["order-1.0"].tags[TAG_DETACHED] == "true"
    assert records["order-1.0"].state is PromiseState.RESOLVED
    assert records["order-1.1"].value is not None and "order-1.0" in records["order-1.1"].value  # its id
    assert SHIPPED == ["o1"] and bodies.count("order-1.0") == 1
    assert "order-1.0  ship('o1')  (detached)  resolved" in tree(store.promises())


@function
async def short_lived(ctx: Context) -> str:
    await ctx.detach(ship, "o2").options(timeout=500)
    return "done"


def test_a_detached_childs_deadline_is_its_own_not_its_parents() -> None:
    SHIPPED.clear()
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [short_lived, ship], root_timeout=10)
        async with worker.running():
            handle = await worker.run("p", short_lived)
            await handle.result()
            await worker.handle("p.0").result()

    run_live(main)
    records = store.promise_map()
    assert records["p"].timeout_at == pytest.approx(10, abs=1)
    assert records["p.0"].timeout_at == pytest.approx(500, abs=1)  # its own, not capped at the parent's 10
    assert records["p.0"].state is PromiseState.RESOLVED  # it ran 50 s, past its parent's deadline
    assert SHIPPED == ["o2"]


@function
async def detach_then_crash_point(ctx: Context) -> str:
    await ctx.detach(ship, "o3")
    await ctx.sleep(5)  # the first worker crashes here; the replay must find the child recorded
    return "done"


def test_a_replay_finds_the_detached_child_and_never_starts_it_twice() -> None:
    SHIPPED.clear()
    store = new_store()
    fns = [detach_then_crash_point, ship]
    bodies: list[str] = []

    async def main() -> str:
        await run_then_crash(new_worker(store, fns, bodies), "c", detach_then_crash_point, at=1)
        value = str(await recover(new_worker(store, fns, bodies), "c"))
        return value

    assert run_live(main) == "done"
    ids = [p.id for p in store.promises()]
    assert ids.count("c.0") == 1 and "c.2" not in ids  # child 0 once; the timer is c.1
    assert store.promise_map()["c.0"].tags[TAG_DETACHED] == "true"


@function
async def detach_a_print(ctx: Context) -> None:
    await ctx.detach(print)  # type: ignore[arg-type]


@function
async def detach_for_ever(ctx: Context) -> None:
    await ctx.detach(ship, "o5").options(timeout=-1)


@pytest.mark.parametrize(("workflow", "message"), [
    (detach_a_print, "ctx.detach: print is not a durable function"),
    (detach_for_ever, r"ctx.detach.options: timeout must be a number of seconds >= 0, got -1"),
])
def test_detach_misuse_is_one_usage_error_naming_it(workflow: object, message: str) -> None:
    store = new_store()

    async def main() -> object:
        return await run_to_end(new_worker(store, [workflow, ship]), "m", workflow)  # type: ignore[list-item,arg-type]

    with pytest.raises(Exception, match=message):
        run_live(main)
