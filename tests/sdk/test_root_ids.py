"""An id means one execution: ``Worker.run`` of an existing root with the same call finds it; with
another function or other arguments it is one ``UsageError`` naming both calls."""

from __future__ import annotations

import pytest

from pytest_durable import Context, function
from pytest_durable.core.errors import UsageError
from tests.helpers.worlds import new_store, new_worker, run_world


@function
async def greet(ctx: Context, name: str) -> str:
    return f"hello {name}"


@function
async def wave(ctx: Context, name: str) -> str:
    return f"wave {name}"


def test_starting_an_existing_root_with_another_call_names_both() -> None:
    store = new_store()

    async def main() -> str:
        worker = new_worker(store, [greet, wave])
        async with worker.running():
            value = str(await (await worker.run("r", greet, "ann")).result())
            assert await (await worker.run("r", greet, "ann")).result() == value  # the same call: found
            for fn, name, said in ((greet, "bob", "greet('bob')"), (wave, "ann", "wave('ann')")):
                with pytest.raises(UsageError) as raised:
                    await worker.run("r", fn, name)
                assert str(raised.value) == (f"Worker.run: root 'r' already exists as greet('ann'); it cannot also "
                                             f"start {said}: give this run another id, or wait for the existing one")
            return value

    assert run_world(main) == "hello ann"
    assert [p.id for p in store.promises()] == ["r"]
