"""Platform errors inside a world are violations of their own kind naming the promise (issue 8, items 6,
7, 17, 18): nondeterminism (with both calls decoded), an unregistered function, a ``BaseException`` from
a body, a replay that switches a child between ``ctx.run`` and ``ctx.rpc``, values the codec cannot
encode, local workflows nested too deep, two functions under one name, and a body that never yields.
Each is checked on a live ``Worker`` (which must stay up) and in a simulated world.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import trio

from pytest_durable import (
    Context,
    EncodingError,
    NondeterminismError,
    PromiseState,
    RegistrationError,
    Rejected,
    UsageError,
    function,
)
from pytest_durable.core.codec import encode, encode_call
from pytest_durable.core.errors import UserBaseException
from pytest_durable.sdk.context import MAX_LOCAL_DEPTH
from sim import RunResult, Scenario, SimConfig, run_world
from sim.checks import determinism
from tests.helpers.worlds import new_store, new_worker, run_to_end
from tests.helpers.worlds import run_world as run_live

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests/sim/test_platform_errors.py"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


# -- durable functions (module level, so the codec and the registry can name them) ---------------------


@function
async def echo(x: int) -> int:
    return x


@function
async def reads_the_clock(ctx: Context) -> int:
    """BUG: its first child's argument comes from the clock: 0 on the first run, 10 on the replay after
    the timer fires."""
    first = await ctx.run(echo, 0 if trio.current_time() < 5 else 10)
    await ctx.sleep(10)
    return first


@function
async def run_then_rpc(ctx: Context) -> int:
    """BUG: the same child is a local ctx.run on the first run and a ctx.rpc on the replay."""
    call = ctx.run if trio.current_time() < 5 else ctx.rpc
    first = await call(echo, 1)
    await ctx.sleep(10)
    return first


@function
async def rpc_then_run(ctx: Context) -> int:
    """BUG: the other way round: ctx.rpc first, ctx.run on the replay."""
    call = ctx.rpc if trio.current_time() < 5 else ctx.run
    first = await call(echo, 1)
    await ctx.sleep(10)
    return first


@function
async def calls_unknown(ctx: Context) -> int:
    return int(await ctx.rpc("no_such_function", 1))


class OwnBaseException(BaseException):
    """A user's class of BaseException."""


@function
async def exits(ctx: Context) -> int:
    raise SystemExit(3)


@function
async def leaf_exits() -> int:
    raise SystemExit(4)


@function
async def leaf_raises_own() -> int:
    await trio.sleep(1)
    raise OwnBaseException("boom")


@function
async def runs_leaf_that_exits(ctx: Context) -> int:
    return await ctx.run(leaf_exits)


@function
async def spawns_own(ctx: Context) -> int:
    future = await ctx.run(leaf_raises_own).spawn()
    return await future


@function
async def returns_cyclic(ctx: Context) -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@function
async def passes_cyclic(ctx: Context) -> int:
    value: list[Any] = []
    value.append(value)
    return await ctx.run(echo, value)  # type: ignore[arg-type]


@function
async def nest(ctx: Context, n: int) -> int:
    """Local recursion: each level a ctx.run child workflow of the one before."""
    if n == 0:
        return 0
    return 1 + await ctx.run(nest, n - 1)


@function
async def spin() -> int:
    while True:  # BUG: never awaits
        pass


@function
async def runs_spin(ctx: Context) -> int:
    return await ctx.run(spin)


@function(name="same")
async def same_a() -> int:
    return 1


@function(name="same")
async def same_b() -> int:
    return 2


@function(name="same")
async def same_workflow(ctx: Context) -> int:
    return 3


def clock_scenario() -> Scenario:
    return Scenario(reads_the_clock, functions=(echo,))


def echo_one() -> Scenario:
    return Scenario(echo, (1,))


def echo_two() -> Scenario:
    return Scenario(echo, (2,))


def world(workflow: Any, *args: Any, **kwargs: Any) -> RunResult:
    functions = (echo, leaf_exits, leaf_raises_own, spin, nest)
    return run_world(Scenario(workflow, args, functions=functions), seed=0, **kwargs)


async def serves_another_root(worker: Any) -> None:
    """The worker is still up: another root runs to its end on it."""
    handle = await worker.run("another", echo, 7)
    assert await handle.result() == 7


# -- item 6: nondeterminism, an unregistered function, a BaseException from a body -----------------------


def test_nondeterminism_in_a_world_is_its_own_violation_with_both_calls_decoded_and_first() -> None:
    result = world(reads_the_clock)
    first = result.violations[0]
    assert first.check == "nondeterminism" and first.number == 9
    assert first.id == "root"
    assert "child root.0" in first.message
    assert "recorded echo(0)" in first.message and "called echo(10)" in first.message
    assert [v.check for v in result.violations[1:]] == ["liveness"]  # the symptom comes after the cause
    event = result.trace.events[first.events[0]]
    assert (event.kind, event.id) == ("nondeterminism", "root")
    assert "echo(10)" in event.detail


def test_nondeterminism_on_a_live_worker_is_raised_by_the_handle_and_the_worker_stays_up() -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [reads_the_clock, echo])
        async with worker.running():
            handle = await worker.run("job", reads_the_clock)
            with pytest.raises(NondeterminismError) as info:
                await handle.result()
            assert (info.value.id, info.value.workflow) == ("job.0", "job")
            assert (info.value.recorded, info.value.new) == ("echo(0)", "echo(10)")
            await serves_another_root(worker)
        assert [task for task, _ in worker.errors] == ["job"]

    run_live(main)


def test_a_world_reports_nondeterminism_through_the_worker_error_hook() -> None:
    seen: list[tuple[str, str, str]] = []

    async def main() -> None:
        worker = new_worker(new_store(), [reads_the_clock, echo])
        worker.on_error = lambda task, promise, error: seen.append((task, promise, type(error).__name__))
        async with worker.running():
            with pytest.raises(NondeterminismError):
                await (await worker.run("job", reads_the_clock)).result()

    run_live(main)
    assert seen == [("job", "job", "NondeterminismError")]


def test_an_unregistered_function_in_a_world_is_its_own_violation_naming_the_child() -> None:
    result = world(calls_unknown)
    first = result.violations[0]
    assert (first.check, first.number, first.id) == ("unregistered", 10, "root.0")
    assert "no_such_function(1)" in first.message
    assert "Scenario(functions=...)" in first.message
    assert "liveness" in [v.check for v in result.violations[1:]]


BASE_EXCEPTIONS = [
    (exits, "root", "SystemExit: 3"),
    (runs_leaf_that_exits, "root.0", "SystemExit: 4"),
    (spawns_own, "root.0", "OwnBaseException: boom"),
    (leaf_exits, "root", "SystemExit: 4"),
]


@pytest.mark.parametrize(("workflow", "culprit", "raised"), BASE_EXCEPTIONS, ids=lambda p: getattr(p, "name", ""))
def test_a_base_exception_from_a_body_is_a_violation_naming_that_body(workflow: Any, culprit: str,
                                                                      raised: str) -> None:
    result = world(workflow)
    first = result.violations[0]
    assert (first.check, first.number, first.id) == ("user-base-exception", 11, culprit)
    assert raised in first.message
    assert "error" not in [v.check for v in result.violations]  # no "BaseExceptionGroup" escaping the world
    assert not any("BaseExceptionGroup" in str(v) for v in result.violations)
    state = {p.id: p.state for p in result.promises}
    assert state[culprit] is PromiseState.PENDING  # not rejected: a BaseException is no outcome


@pytest.mark.parametrize(("workflow", "culprit", "raised"), BASE_EXCEPTIONS, ids=lambda p: getattr(p, "name", ""))
def test_a_base_exception_from_a_body_does_not_stop_a_live_worker(workflow: Any, culprit: str, raised: str) -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [workflow, echo, leaf_exits, leaf_raises_own])
        async with worker.running():
            handle = await worker.run("root", workflow)
            with pytest.raises(UserBaseException) as info:
                await handle.result()
            assert info.value.id == culprit
            assert raised in f"{type(info.value.error).__name__}: {info.value.error}"
            await serves_another_root(worker)

    run_live(main)
    assert store.promise_map()["root"].state is PromiseState.PENDING


def test_platform_violations_reach_sim_run_json_and_the_plugin_report(pytester: pytest.Pytester,
                                                                      tmp_path: Path) -> None:
    out = sim("run", f"{HERE}:clock_scenario", "--seeds", "2", "--faults", "none", "--traces-dir", str(tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    failed = [line for line in out.stdout.splitlines() if line.startswith("seed ")]
    assert len(failed) == 2
    assert all("FAILED (9) nondeterminism: root reads_the_clock()" in line for line in failed), failed
    assert all("recorded echo(0) but the replay called echo(10)" in line for line in failed)
    assert "violations: liveness 2, nondeterminism 2" in out.stdout
    data = json.loads((tmp_path / "seed-0.json").read_text())
    assert data["violations"][0].startswith("(9) nondeterminism: root reads_the_clock()")
    assert any(row[4] == "nondeterminism" and row[5] == "root" for row in data["events"])

    pytester.makepyfile(test_report='''
import pytest
import trio
from pytest_durable import Context, function


@function
async def echo(x: int) -> int:
    return x


@function
async def reads_the_clock(ctx: Context) -> int:
    first = await ctx.run(echo, 0 if trio.current_time() < 5 else 10)
    await ctx.sleep(10)
    return first


@pytest.mark.durable(seeds=1, faults="none")
def test_it(durable_sim):
    durable_sim.run(reads_the_clock)
''')
    report = pytester.runpytest("-p", "no:cacheprovider")
    report.assert_outcomes(failed=1)
    text = report.stdout.str()
    cause = text.index("violation (9) nondeterminism: root reads_the_clock()")
    assert "recorded echo(0) but the replay called echo(10)" in text[cause:]
    assert cause < text.index("violation (5) liveness")


# -- determinism diffs show the first differing events, decoded ----------------------------------------


def test_the_determinism_check_shows_both_differing_events_decoded() -> None:
    first, second = run_world(echo_one(), seed=0), run_world(echo_two(), seed=0)
    checked = determinism(first, second)
    violation = checked.violations[-1]
    assert violation.check == "determinism"
    assert "the first run had event" in violation.message
    assert "= echo(1)" in violation.message and "= echo(2)" in violation.message


def test_sim_replay_shows_the_recorded_and_the_rerun_event_decoded(tmp_path: Path) -> None:
    saved = tmp_path / "one.json"
    assert sim("run", f"{HERE}:echo_one", "--seed", "0", "--faults", "none", "--out", str(saved)).returncode == 0
    out = sim("replay", str(saved), "--target", f"{HERE}:echo_two")
    assert out.returncode == 1 and out.stdout.startswith("differs: "), out.stdout + out.stderr
    recorded = next(line for line in out.stdout.splitlines() if line.strip().startswith("recorded:"))
    rerun = next(line for line in out.stdout.splitlines() if line.strip().startswith("re-run:"))
    assert "= echo(1)" in recorded and "= echo(2)" in rerun


# -- item 7: a replay that switches a child between ctx.run and ctx.rpc ---------------------------------


SWITCHES = [(run_then_rpc, "ctx.run(echo(1))", "ctx.rpc(echo(1)) on target 'default'"),
            (rpc_then_run, "ctx.rpc(echo(1)) on target 'default'", "ctx.run(echo(1))")]


@pytest.mark.parametrize(("workflow", "recorded", "new"), SWITCHES, ids=["run-to-rpc", "rpc-to-run"])
def test_a_replay_that_switches_run_and_rpc_is_nondeterminism_naming_both(workflow: Any, recorded: str,
                                                                          new: str) -> None:
    async def main() -> None:
        worker = new_worker(new_store(), [workflow, echo])
        async with worker.running():
            with pytest.raises(NondeterminismError) as info:
                await (await worker.run("job", workflow)).result()
            assert (info.value.id, info.value.recorded, info.value.new) == ("job.0", recorded, new)
            await serves_another_root(worker)

    run_live(main)
    result = world(workflow)
    first = result.violations[0]
    assert (first.check, first.id) == ("nondeterminism", "root")
    assert f"recorded {recorded} but the replay called {new}" in first.message


# -- item 17: one name, two functions; values the codec cannot encode; local nesting too deep ------------


def test_two_functions_under_one_name_in_a_scenario_name_both() -> None:
    with pytest.raises(UsageError) as info:
        Scenario(echo, (1,), functions=(same_a, same_b))
    message = str(info.value)
    assert f"{same_a.__module__}.same_a" in message and f"{same_b.__module__}.same_b" in message
    assert "'same'" in message and "@function(name=...)" in message
    with pytest.raises(UsageError) as info:
        Scenario(same_workflow, functions=(same_a,))
    assert "same_workflow" in str(info.value) and "same_a" in str(info.value)
    Scenario(echo, (1,), functions=(same_a, same_a, echo))  # the same function twice is fine


def test_a_cyclic_or_too_deep_value_is_an_encoding_error_not_a_recursion_error() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    for value in (cyclic, deep):
        with pytest.raises(EncodingError) as info:
            encode(value, what="the value returned by f")
        assert str(info.value) == "cannot encode the value returned by f: it is cyclic or nested deeper than 100 levels"
        with pytest.raises(EncodingError) as info:
            encode_call("f", (value,), {}, names=("x",))
        assert "f: cannot encode argument 'x': it is cyclic" in str(info.value)
    shallow: list[Any] = []
    for _ in range(99):
        shallow = [shallow]
    encode(shallow, what="a value 100 levels deep")


@pytest.mark.parametrize(("workflow", "message"), [
    (returns_cyclic, "cannot encode the value returned by returns_cyclic: it is cyclic or nested deeper than"),
    (passes_cyclic, "echo: cannot encode argument 'x': it is cyclic or nested deeper than"),
])
def test_a_cyclic_value_rejects_the_promise_and_the_worker_stays_up(workflow: Any, message: str) -> None:
    async def main() -> Rejected:
        worker = new_worker(new_store(), [workflow, echo])
        async with worker.running():
            with pytest.raises(Rejected) as info:
                await (await worker.run("job", workflow)).result()
            await serves_another_root(worker)
        return info.value

    error = run_live(main)
    assert error.type_name == "EncodingError" and message in error.message
    result = world(workflow)  # in a world, misuse that reaches the root fails it (issue 23)
    assert [(v.check, v.id) for v in result.violations] == [("misuse", "root")], result.violations
    assert result.root is not None and result.root.state is PromiseState.REJECTED
    assert message in str(result.root.value) and message in result.violations[0].message


def test_local_workflows_nest_up_to_the_limit() -> None:
    store = new_store()
    assert run_live(lambda: run_to_end(new_worker(store, [nest]), "job", nest, MAX_LOCAL_DEPTH)) == MAX_LOCAL_DEPTH


def test_local_recursion_too_deep_is_a_usage_error_and_the_worker_stays_up() -> None:
    async def main() -> Rejected:
        worker = new_worker(new_store(), [nest, echo])
        async with worker.running():
            with pytest.raises(Rejected) as info:
                await (await worker.run("job", nest, 200)).result()
            await serves_another_root(worker)
        return info.value

    error = run_live(main)
    assert f"local child workflows nest at most {MAX_LOCAL_DEPTH} deep" in error.message
    assert "ctx.rpc" in error.message
    result = world(nest, 200)  # in a world, misuse that reaches the root fails it (issue 23)
    assert [v.check for v in result.violations] == ["misuse"], result.violations
    assert result.violations[0].id.count(".") == MAX_LOCAL_DEPTH  # the workflow that would have gone deeper
    assert result.root is not None and result.root.state is PromiseState.REJECTED
    assert "UsageError" in str(result.root.value) and f"nest at most {MAX_LOCAL_DEPTH} deep" in str(result.root.value)


# -- item 18: a body that never yields ------------------------------------------------------------------


needs_main_thread = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                       reason="the watchdog interrupts the main thread only")


@needs_main_thread
def test_a_body_that_never_yields_is_stopped_and_named() -> None:
    result = world(runs_spin, config=SimConfig(step_limit=0.5))
    assert [(v.check, v.number, v.id) for v in result.violations] == [("stuck-body", 12, "root.0")]
    message = result.violations[0].message
    assert "root.0 spin(): the body of root.0 ran for more than 0.5 s of wall time without yielding" in message
    assert result.trace.events[-1].kind == "stuck-body"


def test_the_watchdog_changes_nothing_in_a_passing_world() -> None:
    scenario = Scenario(nest, (3,))
    hashes = {run_world(scenario, seed=7, faults="crash,drop", config=SimConfig(step_limit=limit)).trace_hash
              for limit in (0.0, 0.5, 10.0)}
    assert len(hashes) == 1


def test_registration_errors_stay_fatal_for_the_task_only() -> None:
    async def main() -> None:
        worker = new_worker(new_store(), [calls_unknown, echo])
        async with worker.running():
            with pytest.raises(RegistrationError):
                await (await worker.run("job", calls_unknown)).result()
            await serves_another_root(worker)
        assert [task for task, _ in worker.errors] == ["job.0"]

    run_live(main)
