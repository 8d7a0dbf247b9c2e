"""A small world's cost (issue 11, items 2 and 3): work a world does that earns nothing is not done.

Fresh module copies are made only for process incarnations that run a body, and attrs' generated
methods are compiled once for all copies, while each copy still gets classes and functions of its own.
The world's own sleeps take no cancel scope each and its clock is read without the real clock, and
its worlds stay exactly the same (trace hashes and draws).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from trio._core import _run as _trio_run

from sim import run_world
from sim.kernel import isolation as isolation_module
from sim.kernel import virtual_time
from sim.kernel.decisions import PinnedDecisions
from sim.kernel.isolation import FreshModules
from sim.kernel.scheduler import deterministic_scheduling
from sim.scenario import isolated_modules, load_scenario
from sim.trace import current_process

ROOT = Path(__file__).resolve().parents[2]
FAN_OUT = f"{ROOT / 'examples' / 'fan_out_fan_in.py'}:scenario"


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The process incarnation (``w1#2``; ``""`` outside a process) of every fresh module copy made."""
    made: list[str] = []
    real = FreshModules.module

    def module(self: FreshModules, name: str) -> object:
        if name not in self.modules:
            made.append(current_process())
        return real(self, name)

    monkeypatch.setattr(isolation_module.FreshModules, "module", module)
    yield made


@pytest.mark.parametrize("faults", ["none", "crash,drop,reject"])
def test_only_incarnations_that_run_a_body_copy_the_users_modules(copies: list[str], faults: str) -> None:
    scenario = load_scenario(FAN_OUT)
    started = ran = 0
    for seed in range(30):
        copies.clear()
        result = run_world(scenario, seed=seed, faults=faults)
        assert result.ok, result.violations
        starts = {f"{e.process}#{e.incarnation}" for e in result.trace if e.kind == "start"}
        bodies = {f"{e.process}#{e.incarnation}" for e in result.trace if e.kind == "body"}
        in_world = [p for p in copies if p]  # the oracle's replays copy outside any process
        # at most one copy each, and none by an idle one (an unchanged copy serves on: sim.kernel.copy_pool)
        assert len(in_world) == len(set(in_world)) and set(in_world) <= bodies, (seed, in_world, bodies)
        started += len(starts)
        ran += len(bodies)
    assert ran < started  # idle incarnations exist in these worlds: they made no copy


def test_copies_share_attrs_compiled_code_but_not_classes_or_functions() -> None:
    scenario = load_scenario(FAN_OUT)
    (name,) = isolated_modules(scenario)
    one, two = FreshModules([name]).module(name), FreshModules([name]).module(name)
    a, b = one.WorkItem, two.WorkItem
    assert a is not b and a.__init__ is not b.__init__  # each copy its own class and methods
    assert a.__init__.__code__ is b.__init__.__code__  # compiled once
    assert a(1, "x") != b(1, "x")  # attrs' __eq__ compares classes: the copies' values do not mix
    assert a(1, "x") == a(1, "x") and repr(a(1, "x")) == "WorkItem(id=1, data='x')"
    assert one.fan_out_fan_in_n is not two.fan_out_fan_in_n


# -- the world's own sleeps: no cancel scope each, the same worlds -------------------------------------


def test_the_trio_internals_the_world_sleeps_and_clock_use_are_present() -> None:
    assert virtual_time.internals_present()  # an upgrade of trio that moves them fails here, loudly


def _scopes_entered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    entered = [0]
    real = _trio_run.CancelScope.__enter__

    def enter(self: trio.CancelScope) -> trio.CancelScope:
        entered[0] += 1
        return real(self)

    monkeypatch.setattr(_trio_run.CancelScope, "__enter__", enter)
    return entered


@pytest.mark.parametrize("faults", ["none", "crash,drop,reject", "all"])
def test_worlds_are_the_same_with_trios_own_sleeps_and_clock_but_enter_fewer_cancel_scopes(
    monkeypatch: pytest.MonkeyPatch, faults: str
) -> None:
    scenario = load_scenario(FAN_OUT)
    entered = _scopes_entered(monkeypatch)
    ours = [run_world(scenario, seed=s, faults=faults) for s in range(40)]
    ours_scopes = entered[0]
    monkeypatch.setattr(virtual_time, "_PRESENT", False)  # trio.sleep_until and MockClock's reading
    entered[0] = 0
    theirs = [run_world(scenario, seed=s, faults=faults) for s in range(40)]
    assert [r.trace.hash() for r in ours] == [r.trace.hash() for r in theirs]
    assert [r.decisions for r in ours] == [r.decisions for r in theirs]
    # most of the simulator's own waits are alarms or wakes now, under either kind of sleep; the sleeps
    # left (request timeouts, backoffs, downtimes: only under faults) enter no cancel scope of their own
    assert ours_scopes <= entered[0], (ours_scopes, entered[0])
    if faults != "none":
        assert ours_scopes < entered[0], (ours_scopes, entered[0])


def test_a_sleep_wakes_at_its_deadline_and_an_outer_cancel_stops_it() -> None:
    woke: list[float] = []

    async def main() -> None:
        await virtual_time.sleep(1.5)
        woke.append(trio.current_time())
        await virtual_time.sleep_until(4.0)
        woke.append(trio.current_time())
        with trio.move_on_after(1.0):
            await virtual_time.sleep(10.0)
        woke.append(trio.current_time())
        assert _trio_run.GLOBAL_RUN_CONTEXT.runner.deadlines.next_deadline() == math.inf  # forgotten

    trio.run(main, clock=virtual_time.clock())
    assert woke == [1.5, 4.0, 5.0]


def test_a_task_cancelled_in_the_batch_its_sleep_ends_runs_no_further() -> None:
    """A crash at the instant a message lands: the task woken by its deadline unwinds at once, as with
    a cancel scope's sleep, instead of running on in a dead process until its next checkpoint."""
    ran: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            victim = trio.CancelScope()

            async def killer() -> None:  # created first: runs first in the batch (all draws 0)
                await virtual_time.sleep_until(1.0)
                victim.cancel()

            async def sleeper() -> None:
                with victim:
                    await virtual_time.sleep_until(1.0)
                    ran.append("after the sleep")

            nursery.start_soon(killer)
            nursery.start_soon(sleeper)

    with deterministic_scheduling(PinnedDecisions({})):
        trio.run(main, clock=virtual_time.clock())
    assert ran == []


# -- the clock jumps in the pass that finds every task blocked ----------------------------------------


class _Passes(trio.abc.Instrument):
    """Counts the passes of trio's run loop (each waits on the OS once) and the instants tasks ran at."""

    def __init__(self) -> None:
        self.passes = 0
        self.instants: set[float] = set()

    def before_io_wait(self, timeout: float) -> None:
        self.passes += 1

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.instants.add(trio.current_time())


def test_a_world_takes_one_pass_of_the_run_loop_per_instant_not_two(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(FAN_OUT)
    ours = [_Passes() for _ in range(20)]
    ran = [run_world(scenario, seed=s, faults="crash,drop,reject", instruments=[ours[s]]) for s in range(20)]
    monkeypatch.setattr(virtual_time, "_PRESENT", False)  # MockClock's own jumps, a pass after
    theirs = [_Passes() for _ in range(20)]
    again = [run_world(scenario, seed=s, faults="crash,drop,reject", instruments=[theirs[s]]) for s in range(20)]
    assert [r.trace.hash() for r in ran] == [r.trace.hash() for r in again]
    assert [p.instants for p in ours] == [p.instants for p in theirs]  # the same instants, to the bit
    saved = sum(t.passes for t in theirs) - sum(o.passes for o in ours)
    jumps = sum(len(t.instants) for t in theirs)
    assert saved >= 0.8 * jumps, (saved, jumps)  # about one pass saved per jump of the clock


def test_a_task_waiting_for_all_tasks_blocked_wakes_before_the_clock_jumps() -> None:
    seen: list[tuple[str, float]] = []

    async def main() -> None:
        async def sleeper() -> None:
            await virtual_time.sleep(5.0)
            seen.append(("slept", trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
            seen.append(("all blocked", trio.current_time()))

    trio.run(main, clock=virtual_time.clock())
    assert seen == [("all blocked", 0.0), ("slept", 5.0)]


def test_a_jump_lands_on_the_deadline_as_mockclock_lands_it() -> None:
    """Deadlines whose difference from now is inexact in floating point: the same instants as trio's own."""
    def instants(clock: trio.testing.MockClock) -> list[float]:
        out: list[float] = []

        async def main() -> None:
            for step in (0.1, 0.2, 0.7, 1e-9, 0.3, 1 / 3, 2.675, 1e6 + 0.1):
                await trio.sleep_until(trio.current_time() + step)
                out.append(trio.current_time())

        trio.run(main, clock=clock)
        return out

    assert instants(virtual_time.clock()) == instants(trio.testing.MockClock(autojump_threshold=0))


class _EmptyPasses(_Passes):
    """Also counts the passes that ran no task (an instant whose deadlines were alarms only)."""

    def __init__(self) -> None:
        super().__init__()
        self.empty = 0
        self._steps = -1

    def before_io_wait(self, timeout: float) -> None:
        if self._steps == 0:
            self.empty += 1
        self._steps = 0
        super().before_io_wait(timeout)

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._steps += 1
        super().before_task_step(task)


@pytest.mark.parametrize("faults", ["none", "crash,drop,reject", "all"])
def test_an_instant_whose_deadlines_wake_no_task_takes_no_pass_of_its_own(
    monkeypatch: pytest.MonkeyPatch, faults: str
) -> None:
    scenario = load_scenario(FAN_OUT)
    ours = [_EmptyPasses() for _ in range(20)]
    ran = [run_world(scenario, seed=s, faults=faults, instruments=[ours[s]]) for s in range(20)]
    monkeypatch.setattr(virtual_time, "JUMPS_PER_PASS", 1)  # each instant in a pass of its own, as before
    theirs = [_EmptyPasses() for _ in range(20)]
    again = [run_world(scenario, seed=s, faults=faults, instruments=[theirs[s]]) for s in range(20)]
    assert [r.trace.hash() for r in ran] == [r.trace.hash() for r in again]
    assert [r.decisions for r in ran] == [r.decisions for r in again]
    assert [p.instants for p in ours] == [p.instants for p in theirs]
    assert sum(t.empty for t in theirs) > 0
    assert sum(o.empty for o in ours) < sum(t.empty for t in theirs) / 10, (
        sum(o.empty for o in ours), sum(t.empty for t in theirs))
    assert sum(o.passes for o in ours) < sum(t.passes for t in theirs)


# -- the server looks at a parked long poll again only when it may have news --------------------------


@pytest.mark.parametrize("faults", ["none", "crash,drop,reject", "all"])
def test_parked_polls_nothing_was_notified_for_are_left_alone_and_worlds_are_the_same(
    monkeypatch: pytest.MonkeyPatch, faults: str
) -> None:
    from sim.bench.shapes import batch_scenario
    from sim.world import server as server_module

    looks = [0]
    real_look = server_module.SimServer._look

    def look(self: server_module.SimServer, poll: server_module.Parked) -> object:
        looks[0] += 1
        return real_look(self, poll)

    monkeypatch.setattr(server_module.SimServer, "_look", look)
    worlds = [(load_scenario(FAN_OUT), s) for s in range(20)] + [(batch_scenario(), s) for s in range(2)]
    ours = [run_world(scenario, seed=s, faults=faults) for scenario, s in worlds]
    our_looks, looks[0] = looks[0], 0
    monkeypatch.setattr(server_module.SimServer, "skip_unnotified", False)  # every poll after every change
    theirs = [run_world(scenario, seed=s, faults=faults) for scenario, s in worlds]
    assert [r.trace.hash() for r in ours] == [r.trace.hash() for r in theirs]
    assert [r.decisions for r in ours] == [r.decisions for r in theirs]
    assert [r.promises for r in ours] == [r.promises for r in theirs]
    assert our_looks < looks[0] / 2, (our_looks, looks[0])
