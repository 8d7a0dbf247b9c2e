"""``ctx.detach`` on the live runtime over a SQLite file: a real worker runs the detached child as a task
of its own after its parent returned, and the file, opened again, holds it settled and marked detached."""

from __future__ import annotations

from pathlib import Path

import trio

from pytest_durable import Context, PromiseState, Worker, function
from pytest_durable.core.clock import WallClock
from pytest_durable.core.store import TAG_DETACHED
from pytest_durable.core.tree import tree
from pytest_durable.live import SqliteStore


@function
async def post_parcel(order: str) -> str:
    return f"posted {order}"


@function
async def buy(ctx: Context, order: str) -> str:
    child = await ctx.detach(post_parcel, order)
    return f"bought {order}, {child} detached"


def test_a_detached_child_runs_on_a_sqlite_worker_after_its_parent_returned(tmp_path: Path) -> None:
    path = tmp_path / "app.db"

    async def main() -> tuple[str, str]:
        with SqliteStore(path) as store:
            worker = Worker(store, poll_interval=0.5, clock=WallClock())
            worker.register(buy, post_parcel)
            async with worker.running():
                parent = await (await worker.run("order-1", buy, "o1")).result()
                child = await worker.handle("order-1.0").result()
        return parent, child

    assert trio.run(main) == ("bought o1, order-1.0 detached", "posted o1")
    with SqliteStore(path) as again:  # what the file holds, read by a new store object
        records = again.promise_map()
        assert records["order-1.0"].state is PromiseState.RESOLVED
        assert records["order-1.0"].tags[TAG_DETACHED] == "true"
        assert "order-1.0  post_parcel('o1')  (detached)  resolved" in tree(again.promises())
