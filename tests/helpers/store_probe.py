"""A pytester project that records which store each world of a durable test ran over: the plugin's
store option, ini setting, environment variable and marker argument are tested through it."""

from __future__ import annotations

import pytest

WORKFLOWS = '''
from pytest_durable import Context, function


@function
async def double(x: int) -> int:
    return 2 * x


@function
async def fan_out(ctx: Context, n: int) -> list[int]:
    futures = [await ctx.run(double, i).spawn() for i in range(n)]
    return [await f for f in futures]
'''

#: Records the type of every store a world ran over.
CONFTEST = '''
import pytest

import sim.world.stores


@pytest.fixture(autouse=True)
def record_stores(monkeypatch):
    real = sim.world.stores.world_store

    def recording(kind):
        with real(kind) as store:
            with open("stores.txt", "a") as out:
                out.write(type(store).__name__ + "\\n")
            yield store

    import contextlib
    monkeypatch.setattr(sim.world.stores, "world_store", contextlib.contextmanager(recording))
'''

PROBE = '''
import pytest

from workflows import fan_out


@pytest.mark.durable(seeds=2{marker})
def test_probe(durable_sim):
    assert durable_sim.run(fan_out, 2, id="job").value == [0, 2]
'''


def stores(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "stores.txt"
    found = path.read_text().split() if path.exists() else []
    path.unlink(missing_ok=True)
    return found
