"""Every check of the simulator (checks 1-6 of sim/checks/catalog.py) can fail: each test plants the bug its check
is for, finds the first seed that shows it, and proves that seed reproduces it; a control runs the
same seeds without the bug and finds nothing. The sabotage lives here only (``monkeypatch`` or a
store subclass handed to ``run_world``), never in shipped code.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import pytest_durable.sdk.attempts as attempts_module
import pytest_durable.sdk.engine as engine_module
import pytest_durable.sdk.executor as executor_module
import pytest_durable.sdk.frame as frame_module
from pytest_durable import Context, MemoryStore, function
from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import encode
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord, TaskState
from pytest_durable.core.store import TAG_PARENT
from sim import FaultConfig, RunResult, Scenario, SimConfig, Violation, run_world
from sim.reports.command import interpreter

ROOT = Path(__file__).resolve().parents[2]
SEEDS = 300  # the most seeds any search may take

# -- scenarios (durable functions and their argument types live at module level) ----------------------


@attrs.frozen
class Part:
    id: int


@function
async def square(part: Part) -> int:
    await trio.sleep(0.5)  # gives a crash time to land between children
    return part.id * part.id


@function
async def fan(ctx: Context, n: int) -> list[int]:
    """Local children spawned concurrently (the ``RunBuilder.spawn`` path)."""
    handles = [await ctx.run(square, Part(i)).spawn() for i in range(n)]
    return [await h for h in handles]


@function
async def chain(ctx: Context, n: int) -> list[int]:
    """Local children awaited one after another (the ``run_child`` path)."""
    return [await ctx.run(square, Part(i)) for i in range(n)]


@function
async def relay(ctx: Context, n: int) -> int:
    """Remote children and a durable timer: the workflow's task suspends and resumes."""
    total = 0
    for i in range(n):
        total += await ctx.rpc(square, Part(i))
    await ctx.sleep(1.0)
    return total


FAN = Scenario(fan, (4,), functions=(square,), root_id="fan", expected=[0, 1, 4, 9])
CHAIN = Scenario(chain, (4,), functions=(square,), root_id="chain", expected=[0, 1, 4, 9])
CHAIN_NO_EXPECTATION = Scenario(chain, (4,), functions=(square,), root_id="chain")
RELAY = Scenario(relay, (3,), functions=(square,), root_id="relay", expected=5)

# -- helpers -----------------------------------------------------------------------------------------

StoreFactory = Callable[[], MemoryStore]


@attrs.frozen
class Found:
    seed: int
    result: RunResult
    violations: tuple[Violation, ...]  # those of the check searched for


def world(
    scenario: Scenario,
    seed: int,
    faults: FaultConfig | str,
    *,
    store: StoreFactory | None = None,
    config: SimConfig | None = None,
    before: Callable[[], None] | None = None,
) -> RunResult:
    if before is not None:
        before()
    return run_world(
        scenario, seed=seed, faults=faults, config=config,
        store=store() if store is not None else None,
    )


def first_failing(
    check: str, scenario: Scenario, faults: FaultConfig | str, **kwargs: Any
) -> Found:
    """The first seed in ``range(SEEDS)`` whose world reports ``check``."""
    for seed in range(SEEDS):
        result = world(scenario, seed, faults, **kwargs)
        found = tuple(v for v in result.violations if v.check == check)
        if found:
            return Found(seed, result, found)
    pytest.fail(f"no seed in 0..{SEEDS - 1} made check {check!r} fire")


def assert_reproduces(found: Found, scenario: Scenario, faults: FaultConfig | str, **kwargs: Any) -> None:
    """The seed that found it finds it again: same trace, same violations."""
    assert found.result.seed == found.seed
    again = world(scenario, found.seed, faults, **kwargs)
    assert again.seed == found.seed
    assert again.trace_hash == found.result.trace_hash
    assert again.violations == found.result.violations


def assert_clean(scenario: Scenario, seeds: Sequence[int], faults: FaultConfig | str, **kwargs: Any) -> None:
    """The control: without the sabotage, the same seeds report nothing."""
    assert len(seeds) > 0
    for seed in seeds:
        result = world(scenario, seed, faults, **kwargs)
        assert result.ok, (seed, [str(v) for v in result.violations])
        assert result.settled


def new_store(cls: type[MemoryStore]) -> StoreFactory:
    return lambda: cls(TrioClock())


# -- (1) settled-once ----------------------------------------------------------------------------------


class OverwritingStore(MemoryStore):
    """BUG: settle is not write-once; settling a settled promise writes it again (a new ``settled_on``)."""

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        record = self._promises.get(id)
        if record is not None and record.settled:
            self._check_fence(fence)
            return self._settle(record, state, value)
        return await super().settle_promise(id, state, value, fence=fence)


def test_1_settled_once_catches_a_store_that_overwrites_a_settled_promise() -> None:
    faults = "drop,duplicate"  # a dropped settle response is retried: the same settle arrives again
    found = first_failing("settled-once", FAN, faults, store=new_store(OverwritingStore))
    first = found.violations[0]  # seen in the retried settle's answer (and again by the final scan)
    assert re.fullmatch(r"fan\.\d", first.id)
    assert {v.id for v in found.violations} == {first.id}
    assert first.message.startswith(f"promise {first.id} changed after it settled: resolved ")
    assert_reproduces(found, FAN, faults, store=new_store(OverwritingStore))
    assert_clean(FAN, range(found.seed + 1), faults)


# -- (2) no-rerun-after-resolve -----------------------------------------------------------------------


def plant_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    """BUG: the executor ignores a settled child's recorded value and runs its body again."""
    run_child = engine_module.run_child
    spawn_child = frame_module.Frame.spawn_child

    async def rerun(ex: Any, fn: Any, record: PromiseRecord, *args: Any) -> PromiseRecord:
        if record.settled:
            record = attrs.evolve(record, state=PromiseState.PENDING, value=None, settled_on=None)
        return await run_child(ex, fn, record, *args)

    def respawn(self: frame_module.Frame, fn: Any, record: PromiseRecord, *args: Any) -> frame_module.Spawned:
        if record.settled:  # a spawned child: its task runs the body again (rerun above sees it pending)
            record = attrs.evolve(record, state=PromiseState.PENDING, value=None, settled_on=None)
        return spawn_child(self, fn, record, *args)

    monkeypatch.setattr(engine_module, "run_child", rerun)
    monkeypatch.setattr(frame_module.Frame, "spawn_child", respawn)


@pytest.mark.parametrize("scenario", [CHAIN, FAN], ids=["run_child", "spawn"])
def test_2_no_rerun_after_resolve_catches_an_executor_that_ignores_the_recorded_value(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    faults = "crash"
    plant_rerun(monkeypatch)
    found = first_failing("no-rerun-after-resolve", scenario, faults)
    first = found.violations[0]
    assert re.fullmatch(rf"{scenario.root_id}\.\d", first.id)
    assert f"the body of {first.id} (square) started on w" in first.message
    assert first.message.endswith("after its promise was resolved")
    assert_reproduces(found, scenario, faults)
    monkeypatch.undo()
    assert_clean(scenario, range(found.seed + 1), faults)


# -- (3) replay-children -------------------------------------------------------------------------------


class Renamer:
    """BUG: a child id that is not derived from its parent alone: a re-execution of the parent
    names its children anew (``chain.0`` the first time, ``chain.0~1`` the next)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, int], int] = {}

    def reset(self) -> None:
        self.seen.clear()

    def __call__(self, parent: str, n: int) -> str:
        k = self.seen.get((parent, n), 0)
        self.seen[(parent, n)] = k + 1
        return f"{parent}.{n}" + (f"~{k}" if k else "")


def test_3_replay_children_catches_child_ids_that_change_between_executions(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = "crash"
    renamer = Renamer()
    monkeypatch.setattr(frame_module, "child_id", renamer)  # the child ids a workflow takes
    monkeypatch.setattr(attempts_module, "child_id", renamer)  # and its leaves' attempt ids, as before
    found = first_failing("replay-children", CHAIN, faults, before=renamer.reset)
    (violation,) = found.violations
    assert re.fullmatch(r"chain\.\d~\d", violation.id)
    assert violation.message.startswith("chain chain(4) resolved, but replaying it over the store's records asks for "
                                        f"child {violation.id} square(Part(id=0)), which the store never recorded")
    assert_reproduces(found, CHAIN, faults, before=renamer.reset)
    monkeypatch.undo()
    assert_clean(CHAIN, range(found.seed + 1), faults)


# -- (4) replay-value ---------------------------------------------------------------------------------


def plant_wrong_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """BUG: a replay reads a wrong value: the executor's preloaded branch corrupts resolved children."""
    execution = executor_module.Execution

    def corrupted(**kwargs: Any) -> Any:
        kwargs["branch"] = {
            id: attrs.evolve(r, value=encode(-1, what="a corrupted value"))
            if r.state is PromiseState.RESOLVED and TAG_PARENT in r.tags
            else r
            for id, r in kwargs["branch"].items()
        }
        return execution(**kwargs)

    monkeypatch.setattr(executor_module, "Execution", corrupted)


@pytest.mark.parametrize(("scenario", "check", "starts"), [
    (CHAIN, "expected-value", "root chain returned "),
    (CHAIN_NO_EXPECTATION, "replay-value", "chain chain(4) resolved "),
], ids=["expected", "replayed-record"])
def test_4_value_checks_catch_a_replay_that_reads_a_wrong_value(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario, check: str, starts: str
) -> None:
    faults = "crash"
    plant_wrong_replay(monkeypatch)
    found = first_failing(check, scenario, faults)
    (violation,) = found.violations
    assert violation.id == "chain"
    assert violation.message.startswith(starts)
    assert "-1" in violation.message
    assert_reproduces(found, scenario, faults)
    monkeypatch.undo()
    assert_clean(scenario, range(found.seed + 1), faults)


# -- (5) liveness -------------------------------------------------------------------------------------


class EverlastingLeaseStore(MemoryStore):
    """BUG: a lease never expires, so a crashed worker's task is never dispatched again."""

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        task = await super().acquire_task(id, owner, ttl)
        return self._put_task(attrs.evolve(task, lease_expires_at=math.inf))

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        task = await super().heartbeat_task(fence)
        return self._put_task(attrs.evolve(task, lease_expires_at=math.inf))


def test_5_liveness_catches_a_task_that_is_never_dispatched_again() -> None:
    config = SimConfig(budget=30.0, budget_per_promise=0.0)
    faults = FaultConfig.parse("crash", quiesce_after=10.0)
    store = new_store(EverlastingLeaseStore)
    found = first_failing("liveness", CHAIN, faults, store=store, config=config)
    (violation,) = found.violations
    assert violation.id == "chain"
    assert violation.message == "root chain chain(4) did not settle within 30 s after faults stopped at 10 s"
    assert not found.result.settled
    assert found.result.virtual_time == pytest.approx(40.0)
    assert_reproduces(found, CHAIN, faults, store=store, config=config)
    assert_clean(CHAIN, range(found.seed + 1), faults, config=config)


# -- (6) task-invariants ------------------------------------------------------------------------------


class ForgetfulExpiryStore(MemoryStore):
    """BUG: an expired lease puts its task back to pending without a retry time (invariant 2)."""

    def _task(self, id: str) -> TaskRecord:
        task = self._tasks.get(id)
        expiring = (
            task is not None and task.state is TaskState.ACQUIRED and task.lease_expires_at is not None
            and task.lease_expires_at <= self.clock.now()
        )
        task = super()._task(id)
        if expiring and task.state is TaskState.PENDING:
            task = self._put_task(attrs.evolve(task, retry_at=None))
        return task


class NoCallbackStore(MemoryStore):
    """BUG: suspend registers no callbacks (invariant 4); nothing would ever wake the task."""

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        answer = await super().suspend_task(fence, awaiting)
        if answer is SuspendResult.SUSPENDED:
            task = self._tasks[fence.task_id]
            self._drop_waiters(task)
            self._put_task(attrs.evolve(task, callbacks=()))
        return answer


@pytest.mark.parametrize(
    ("store_cls", "scenario", "faults", "line"),
    [
        (ForgetfulExpiryStore, CHAIN, "crash", "(2) pending task {id} has no retry time"),
        (NoCallbackStore, RELAY, "none", "(4) suspended task {id} has no callback"),  # every world suspends
    ],
    ids=["lease-expiry", "suspend"],
)
def test_6_task_invariants_catch_a_store_that_breaks_one(
    store_cls: type[MemoryStore], scenario: Scenario, faults: str, line: str
) -> None:
    config = SimConfig(budget=30.0)
    fault_config = FaultConfig.parse(faults, quiesce_after=30.0)
    store = new_store(store_cls)
    found = first_failing("task-invariants", scenario, fault_config, store=store, config=config)
    first = found.violations[0]
    ids = {p.id for p in found.result.promises}
    named = re.search(r"task (\S+) ", first.message)
    assert named is not None and named.group(1) in ids
    assert first.message == line.format(id=named.group(1))
    assert_reproduces(found, scenario, fault_config, store=store, config=config)
    assert_clean(scenario, range(max(found.seed + 1, 10)), fault_config, config=config)


# -- a real bug check (2) found without any sabotage ---------------------------------------------------


def test_no_body_starts_after_its_promise_resolved_under_delays_and_partitions() -> None:
    """A world that once caught a zombie worker running a body after its lease ran out (a delayed
    answer arrived after another worker had resolved the child); workers now self-fence."""
    result = run_world(FAN, seed=123, faults="delay=0.3:20,partition=0.3:10")
    assert result.settled
    assert result.ok, [str(v) for v in result.violations]


# -- the reproduce line the CLI prints -----------------------------------------------------------------


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_the_printed_reproduce_line_reproduces_the_failure() -> None:
    sweep = sim("run", "examples/side_effect_bug.py:buggy", "--seeds", "200", "--faults", "crash")
    assert sweep.returncode == 1, sweep.stdout + sweep.stderr
    line = next((x for x in sweep.stdout.splitlines() if x.strip().startswith("reproduce: ")), None)
    assert line is not None, sweep.stdout
    command = line.strip().removeprefix("reproduce: ")
    python = re.escape(interpreter(cwd=str(ROOT)))  # the interpreter that ran the sweep (sim.reports.command)
    # the first failing world is one of the aimed sweep's: the fault-free world with one crash
    match = re.fullmatch(python + r" -m sim run examples/side_effect_bug\.py:buggy --aim '(at\(crash, [^']+\))' "
                         r"--faults \S+", command)
    assert match is not None, command
    point = match.group(1)
    assert re.search(rf"^{re.escape(point)}: FAILED \(8\) user: ledger: 'charge:order-42' was recorded 2 times",
                     sweep.stdout, re.M)
    argv = shlex.split(command)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    again = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"aimed world {point}: root checkout " in again.stdout
    assert "violation (8) user: ledger: 'charge:order-42' was recorded 2 times, expected exactly once" in again.stdout
    assert f"reproduce: {command}" in again.stdout


def test_the_fixed_example_passes_the_same_sweep() -> None:
    sweep = sim("run", "examples/side_effect_bug.py:fixed", "--seeds", "200", "--faults", "crash")
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert re.search(r"^worlds run: \d+; failing: 0$", sweep.stdout, re.M), sweep.stdout
    assert re.search(r"^points: (\d+) of \1 single faults, 200 swarm worlds$", sweep.stdout, re.M), sweep.stdout
    assert "reproduce:" not in sweep.stdout
