"""Dependencies for leaves (issue 9 item 6): a worker hands objects (clients) to the bodies it runs;
the simulator makes them per process incarnation from ``Scenario(dependencies=...)`` factories; a
missing one is one clear platform error, not retried."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio

from examples import payments_client
from pytest_durable import (
    Constant,
    Context,
    MissingDependency,
    PromiseState,
    UsageError,
    Worker,
    dependency,
    function,
)
from sim import Scenario, exactly_once, ledger, run_world
from tests.helpers.worlds import new_store, new_worker, run_to_end
from tests.helpers.worlds import run_world as run_trio

# -- the SDK: Worker.set_dependency, pytest_durable.dependency, ctx.get_dependency ---------------------


class Counter:
    """A module-level client with class-level state: shows which copy of this module made it."""

    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.serial = type(self).made


@function
async def read_in_leaf(prefix: str) -> str:
    return f"{prefix}:{dependency('greeting')}"


@function
async def read_in_workflow(ctx: Context) -> list[str]:
    via_ctx = ctx.get_dependency("greeting")
    via_function = dependency("greeting")
    leaf = await ctx.run(read_in_leaf, "leaf")
    return [via_ctx, via_function, leaf]


def test_leaves_and_workflows_read_the_worker_s_dependency() -> None:
    async def main() -> list[str]:
        worker = new_worker(new_store(), [read_in_workflow, read_in_leaf])
        worker.set_dependency("greeting", "hello")
        return list(await run_to_end(worker, "job", read_in_workflow))

    assert run_trio(main) == ["hello", "hello", "leaf:hello"]


ATTEMPTS: list[str] = []


@function(retry=Constant(delay=1.0, max_retries=5))
async def needs_bank(order: str) -> str:
    ATTEMPTS.append(order)
    return str(dependency("bank").charge(order))


@function
async def pays(ctx: Context, order: str) -> str:
    return await ctx.run(needs_bank, order)


def test_a_missing_dependency_is_one_clear_platform_error_not_retried() -> None:
    ATTEMPTS.clear()
    reported: list[tuple[str, str, BaseException]] = []
    store = new_store()

    async def main() -> BaseException:
        worker = new_worker(store, [pays, needs_bank], on_error=lambda t, p, e: reported.append((t, p, e)))
        with pytest.raises(MissingDependency) as caught:
            await run_to_end(worker, "job", pays, "o1")
        return caught.value

    error = run_trio(main)
    assert isinstance(error, BaseException) and not isinstance(error, Exception)  # user code cannot swallow it
    assert str(error) == ("needs_bank (promise job.0) asked for dependency 'bank', which this worker does not "
                          "have; register it with worker.set_dependency('bank', obj) before the worker runs")
    assert ATTEMPTS == ["o1"]  # the retry policy allows 5 retries; a missing dependency takes none
    assert [(t, p) for t, p, _ in reported] == [("job", "job.0")]
    states = {p.id: p.state for p in store.promises()}
    assert states == {"job": PromiseState.PENDING, "job.0": PromiseState.PENDING}  # nothing rejected


def test_dependency_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"dependency\('bank'\) was called outside a durable function's body"):
        dependency("bank")
    worker = Worker()
    worker.set_dependency("bank", object())
    with pytest.raises(UsageError, match="'bank' is already set on worker 'worker'"):
        worker.set_dependency("bank", object())
    with pytest.raises(UsageError, match=r"Worker\.set_dependency: a dependency name must be a non-empty string"):
        worker.set_dependency(" bank", object())
    with pytest.raises(UsageError, match=r"Worker\.set_dependency: a dependency name"):
        worker.set_dependency(7, object())  # type: ignore[arg-type]


def test_a_dependency_is_read_from_the_worker_that_runs_the_body() -> None:
    """Two workers over one store, each with its own client: a body sees the one of the worker that
    runs it (rpc children on group "b" run on worker b)."""

    @function(name="whose_leaf")
    async def whose_leaf() -> str:
        return str(dependency("name"))

    @function(name="whose_flow")
    async def whose_flow(ctx: Context) -> list[str]:
        return [dependency("name"), await ctx.rpc(whose_leaf).options(target="b")]

    async def main() -> list[str]:
        store = new_store()
        a = new_worker(store, [whose_flow, whose_leaf])
        b = new_worker(store, [whose_flow, whose_leaf], group="b", id="wb")
        a.set_dependency("name", "client-a")
        b.set_dependency("name", "client-b")
        async with a.running(), b.running():
            return list(await (await a.run("job", whose_flow)).result())

    assert run_trio(main) == ["client-a", "client-b"]


# -- the example: the same function with a real client, and with the simulator's fake -------------------


def test_the_example_runs_with_a_plain_client_outside_the_simulator() -> None:
    bank = payments_client.MemoryBank()
    assert trio.run(payments_client.main, bank) == payments_client.EXPECTED
    assert bank.charges == {"charge-order-42": ("acct-7", 1999)}
    with pytest.raises(UsageError, match="outside a simulated world"):
        ledger()  # what the leaf would have hit if it still called sim.ledger() itself


def test_the_example_charges_exactly_once_through_the_fake_under_crashes() -> None:
    crashed = 0
    for seed in range(60):
        result = run_world(payments_client.scenario(), seed=seed, faults="crash,drop")
        assert result.ok, (seed, [str(v) for v in result.violations])
        assert result.ledger.counts("charge:") == {"charge:acct-7": 1}
        crashed += sum(1 for e in result.trace.events if e.kind == "crash")
    assert crashed > 0  # the sweep did crash processes


class KeylessBank:
    """A fake that forgets the idempotency key: a re-run leaf charges again."""

    def charge(self, account: str, amount: int, *, idempotency_key: str) -> str:
        ledger().record(f"charge:{account}")
        return f"receipt {idempotency_key}"


def test_the_fake_is_what_the_leaf_calls_so_a_keyless_fake_shows_double_charges() -> None:
    base = payments_client.scenario()
    keyless = Scenario(base.workflow, base.args, functions=base.functions, root_id=base.root_id,
                       dependencies={"bank": KeylessBank}, invariants=(exactly_once("charge:"),))
    failing = [seed for seed in range(300) if not run_world(keyless, seed=seed, faults="crash").ok]
    assert failing, "no world re-ran the charge leaf"
    result = run_world(keyless, seed=failing[0], faults="crash")
    assert [v.check for v in result.violations] == ["user"]
    assert "'charge:acct-7' was recorded 2 times" in result.violations[0].message


# -- the simulator: per incarnation, fresh module copies, the oracle, a missing one ----------------------


@function
async def serial_leaf() -> int:
    return int(dependency("counter").serial)


@function
async def serial_flow(ctx: Context, n: int) -> list[int]:
    return [await ctx.run(serial_leaf) for _ in range(n)]


def starts(result: Any) -> int:
    return sum(1 for e in result.trace.events if e.kind == "start")


def test_each_process_incarnation_calls_the_factory_once() -> None:
    made: list[int] = []

    def factory() -> Counter:
        made.append(1)
        return Counter()

    restarted = False
    for seed in range(40):
        made.clear()
        result = run_world(Scenario(serial_flow, (3,), functions=(serial_leaf,), dependencies={"counter": factory}),
                           seed=seed, faults="crash")
        assert result.ok, [str(v) for v in result.violations]
        # every incarnation once, and the oracle's replays once more (as a freshly started process), in
        # the worlds where the oracle replays (``sim.checks.replay_scope``)
        assert len(made) == starts(result) + (result.replayed > 0)
        restarted = restarted or starts(result) > 2
    assert restarted  # some world restarted a crashed process


def test_a_factory_from_an_isolated_module_comes_from_the_incarnation_s_copy() -> None:
    """``Counter`` counts instances in a class attribute; each incarnation's fresh copy of this module
    has its own class, so every client it makes is serial 1, however many incarnations ran."""
    Counter.made = 0
    for seed in range(20):
        result = run_world(Scenario(serial_flow, (3,), functions=(serial_leaf,), dependencies={"counter": Counter}),
                           seed=seed, faults="crash")
        assert result.ok, [str(v) for v in result.violations]
        assert result.value == [1, 1, 1]
    assert Counter.made == 0  # the original class was never used


@function
async def flow_reads_serial(ctx: Context) -> int:
    return int(ctx.get_dependency("counter").serial)


def test_the_replay_oracle_gives_workflows_their_dependencies() -> None:
    """A workflow value that depends on a per-process object is caught by check (4): the oracle replays
    it with a dependency made as a fresh process would make it, here a different serial."""
    serial = itertools.count(1)

    class Shared:
        def __init__(self) -> None:
            self.serial = next(serial)

    result = run_world(Scenario(flow_reads_serial, dependencies={"counter": Shared}), seed=0, faults="none")
    assert result.value in (1, 2)  # made by one of the two worker processes
    assert [v.check for v in result.violations] == ["replay-value"]
    stable = run_world(Scenario(flow_reads_serial, dependencies={"counter": Counter}), seed=0, faults="none")
    assert stable.ok and stable.value == 1  # the same workflow, a stable dependency: replayed and agreed


def test_a_missing_dependency_in_a_world_is_a_violation_naming_it_and_the_fix() -> None:
    result = run_world(Scenario(serial_flow, (1,), functions=(serial_leaf,)), seed=0, faults="none")
    first = result.violations[0]
    assert (first.check, first.id) == ("missing-dependency", "root.0")
    assert "serial_leaf (promise root.0) asked for dependency 'counter'" in first.message
    assert "Scenario(dependencies={'counter': factory})" in first.message
    assert "durable_sim.run(..., dependencies={'counter': factory})" in first.message


def test_scenario_rejects_a_dependency_that_is_not_a_factory() -> None:
    with pytest.raises(UsageError, match=r"Scenario\(dependencies=...\): 'bank' must be a factory .* "
                                         r"write lambda: obj to share one object"):
        Scenario(serial_flow, dependencies={"bank": 42})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match=r"Scenario\(dependencies=...\): a dependency name must be"):
        Scenario(serial_flow, dependencies={"": Counter})


def test_a_factory_that_raises_names_the_dependency() -> None:
    def broken() -> object:
        raise ValueError("no credentials")

    with pytest.raises(UsageError, match=r"the factory for 'bank' raised ValueError: no credentials"):
        run_world(Scenario(serial_flow, (1,), functions=(serial_leaf,), dependencies={"bank": broken}), seed=0)
