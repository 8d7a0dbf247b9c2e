"""Faults the simulator and the crash search can reach (issue 8, items 10, 11, 13, 21): a duplicate
that lands late, a crash in the middle of a body, and a search that can aim at every opportunity and
timing a sweep can produce."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import World, worlds
from sim import RunResult, Scenario, SeededDecisions, run_world
from sim.scenario import load_scenario
from sim.search import HypothesisDecisions, opportunity_keys
from sim.trace import Event
from tests.helpers.sim_scenarios import remote_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))


def example(name: str) -> Scenario:
    return load_scenario(f"{EXAMPLES / name}")


SEARCH = settings(max_examples=300, derandomize=True, database=None, deadline=None, phases=profiles.PHASES,
                  report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])


def first_failure(scenario: Scenario, faults: str, seeds: int = 300) -> RunResult | None:
    for seed in range(seeds):
        result = run_world(scenario, seed=seed, faults=faults)
        if not result.ok:
            return result
    return None


def search(scenario: Scenario, faults: str, max_examples: int = 300) -> World | None:
    """The shrunk failing world of a Hypothesis search with the default profile's phases, or None."""
    ran: list[World] = []

    @settings(SEARCH, max_examples=max_examples)
    @given(world=worlds(faults))
    def check(world: World) -> None:
        ran.append(world)
        assert world.run(scenario).ok

    try:
        check()
    except AssertionError:
        return ran[-1]
    return None


# -- item 10: a duplicate may land late -------------------------------------------------------------


def _late_copies(result: RunResult) -> list[tuple[Event, Event, Event, bool]]:
    """(original apply, duplicate, copy's apply, sender crashed meanwhile) for each late duplicate."""
    events = list(result.trace)
    found = []
    for i, event in enumerate(events):
        if event.kind != "deliver":
            continue
        op = event.detail.split(" ")[0]
        sent = next(e for e in reversed(events[:i]) if e.kind == "duplicate" and e.id == event.id
                    and e.process == event.process and e.detail.startswith(op + ","))
        original = next(e for e in reversed(events[:sent.seq]) if e.kind == "apply" and e.id == event.id
                        and e.process == event.process and e.detail.startswith(op + " "))
        copy = events[i + 1]
        assert (copy.kind, copy.id, copy.time) == ("apply", event.id, event.time)
        crashed = any(e.kind == "crash" and e.process == event.process and e.incarnation == event.incarnation
                      for e in events[sent.seq:i])
        found.append((original, sent, copy, crashed))
    return found


def test_a_duplicate_lands_late_after_the_state_changed_and_every_check_holds() -> None:
    scenario = remote_scenario()
    stale: list[tuple[str, str, str]] = []
    after_crash = 0
    for seed in range(150):
        result = run_world(scenario, seed=seed, faults="duplicate=0.3:5,crash")
        assert result.ok, (seed, result.violations)  # settled-once, task invariants, fencing, value
        duplicates = result.trace.of_kind("duplicate")
        assert result.fault_counts.get("duplicate", 0) == len(duplicates)  # the sweep counts late ones too
        for original, sent, copy, crashed in _late_copies(result):
            assert copy.time > sent.time
            if original.detail != copy.detail:  # the state changed between the original and its copy
                stale.append((original.detail, copy.detail, sent.detail))
            after_crash += crashed
    ops = {detail.split(" ")[0] for detail, _, _ in stale}
    assert {"acquire", "fulfill", "create"} <= ops, ops  # a stale acquire, a stale fulfill (a task's settle), …
    assert after_crash > 0  # a copy already on the wire lands after its sender crashed


def test_a_duplicate_drawn_with_delay_0_is_applied_at_once_as_before() -> None:
    class NoLateDuplicates(SeededDecisions):
        def choose(self, kind: str, n: int) -> int:
            value = super().choose(kind, n)
            return 0 if kind == "duplicate_delay" else value

    scenario = remote_scenario()
    seen = 0
    for seed in range(20):
        result = run_world(scenario, decisions=NoLateDuplicates(seed), faults="duplicate=0.3:5")
        assert result.ok and not result.trace.of_kind("deliver")
        for event in result.trace.of_kind("duplicate"):
            seen += 1
            copy = result.trace.events[event.seq + 1]
            assert (copy.kind, copy.time, copy.detail.split(" ")[0]) == ("apply", event.time, event.detail)
    assert seen > 5


class ForgetfulStore(MemoryStore):
    """A store bug only a late duplicate shows: a create for an id that exists starts the promise
    over (pending, no value) instead of answering with the record. A copy applied at once finds the
    promise still pending and changes nothing visible; a copy landing after the promise settled
    turns it back to pending."""

    async def create_promise(self, id: str, param: str, timeout_at: float, tags: Any = None, *,
                             target: str | None = None, fence: Any = None) -> PromiseRecord:
        existing = self._promise_or_none(id)
        if existing is not None and existing.settled:
            self._promises[id] = attrs.evolve(existing, state=PromiseState.PENDING, value=None, settled_on=None)
            return self._promises[id]
        return await super().create_promise(id, param, timeout_at, tags, target=target, fence=fence)


def test_a_store_bug_only_a_late_duplicate_shows_is_found_and_named() -> None:
    """Item 10's hidden bug: the same sweep with every duplicate applied at once passes all 300
    worlds; with duplicates that may land later, a world fails with (1) settled-once naming the
    promise the stale create reopened."""

    class AtOnce(SeededDecisions):
        def choose(self, kind: str, n: int) -> int:
            value = super().choose(kind, n)
            return 0 if kind == "duplicate_delay" else value

    scenario = example("fan_out_fan_in.py:scenario")
    faults = "duplicate=0.3"
    for seed in range(300):
        quick = run_world(scenario, decisions=AtOnce(seed), faults=faults, store=ForgetfulStore(TrioClock()))
        assert quick.ok, (seed, quick.violations)
    found = None
    for seed in range(300):
        result = run_world(scenario, seed=seed, faults=faults, store=ForgetfulStore(TrioClock()))
        if not result.ok:
            found = result
            break
    assert found is not None, "no late duplicate reopened a settled promise in 300 worlds"
    first = found.violations[0]
    assert first.check == "settled-once" and first.id
    assert f"promise {first.id} changed after it settled" in first.message
    assert any(e.kind == "deliver" and e.id == first.id for e in found.trace)  # a late copy of its create


# -- item 13: a crash in the middle of a body -------------------------------------------------------


def test_a_crash_between_two_effects_of_a_leaf_is_found_by_the_default_sweep() -> None:
    found = first_failure(example("transfer_bug.py:buggy"), "crash,drop,reject")
    assert found is not None
    assert [v.check for v in found.violations] == ["user"]
    assert "debit:tx-7 x2 but credit:tx-7 x1" in found.violations[0].message
    crashes = [e.detail for e in found.trace.of_kind("crash")]
    assert "await pay.0" in crashes, crashes  # the leaf's process died at its await, between the effects
    again = run_world(example("transfer_bug.py:buggy"), seed=found.seed, faults="crash,drop,reject")
    assert again.trace_hash == found.trace_hash


def test_the_correct_twin_of_the_between_effects_bug_passes_the_sweep() -> None:
    assert first_failure(example("transfer_bug.py:fixed"), "crash,drop,reject") is None


def test_only_a_crash_at_an_await_shows_the_between_effects_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without crash opportunities at the awaits of bodies, crashes at requests alone never split the
    debit from its credit: the bug needs exactly this fault."""
    from sim.faults import AwaitCrashes

    monkeypatch.setattr(AwaitCrashes, "after_task_step", lambda self, task: None)
    assert first_failure(example("transfer_bug.py:buggy"), "crash,drop,reject") is None


def test_no_crash_fault_means_no_await_draws() -> None:
    """The instrument draws only when crashes may happen: a world without them keeps its choices."""
    result = run_world(example("transfer_bug.py:buggy"), seed=4, faults="drop,reject")
    assert not [kind for kind, _ in result.decisions if kind == "crash"]


# -- items 11 and 21: the search reaches what a sweep reaches ----------------------------------------


def test_the_search_can_aim_at_opportunities_a_quiet_world_never_has() -> None:
    from sim import FaultConfig

    keys = opportunity_keys(remote_scenario(), FaultConfig.parse("crash,drop,partition,server_restart"), None)
    quiet = ["dispatch default", "acquire pipe"]
    assert keys["crash"][:2] == quiet  # the quiet world's first, in order
    for name in ("heartbeat pipe", "release pipe", "heartbeat pipe.0", "release pipe.2", "await pipe.1"):
        assert name in keys["crash"], name
    assert "release pipe.0" in keys["drop"]
    assert {"tick 1", "tick 60", "tick 120"} <= set(keys["partition"]) & set(keys["server_restart"])


def _planted(scenario: Scenario, faults: str, schedule: dict[str, dict[Any, int]]) -> RunResult:
    results: list[RunResult] = []

    @settings(SEARCH, max_examples=1)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        decisions = HypothesisDecisions(data.draw)
        decisions.schedule = schedule
        results.append(run_world(scenario, faults=faults, decisions=decisions))

    run()
    return results[0]


def test_a_planned_fault_aims_at_a_time_a_heartbeat_and_a_restart_downtime() -> None:
    """``(opportunity, occurrence, after)``: the first heartbeat of the reminder at or after t=55 s;
    its detail's second hex digit is the restart downtime (3: the longest)."""
    scenario = example("reminder_bug.py:buggy")
    result = _planted(scenario, "crash", {"crash": {("heartbeat remind", 0, 55.0): 0x30}})
    crashes = result.trace.of_kind("crash")
    assert [e.detail for e in crashes] == ["before heartbeat remind"]
    assert 55.0 <= crashes[0].time < 60.0  # during the 60 s wait
    restart = next(e for e in result.trace.of_kind("start") if e.time > crashes[0].time)
    assert restart.time - crashes[0].time == pytest.approx(4 * 2.0)  # restart_delay * 4
    assert [v.check for v in result.violations] == ["user"]  # the wait started over: the reminder is late
    quick = _planted(scenario, "crash", {"crash": {("heartbeat remind", 0, 55.0): 0}})
    crash = quick.trace.of_kind("crash")[0]
    assert next(e for e in quick.trace.of_kind("start") if e.time > crash.time).time - crash.time == (
        pytest.approx(2.0))


def test_a_planned_chaos_fault_reaches_a_late_tick() -> None:
    result = _planted(remote_scenario(), "server_restart", {"server_restart": {("tick 3", 0, 0.0): 0}})
    restarts = result.trace.of_kind("server_restart")
    assert [e.time for e in restarts] == [pytest.approx(3.0)]


def test_crash_search_finds_the_timer_that_is_not_durable_and_passes_its_fix() -> None:
    shrunk = search(example("reminder_bug.py:buggy"), "crash")
    assert shrunk is not None and shrunk.result is not None
    assert [v.check for v in shrunk.result.violations] == ["user"]
    assert "reminder:inv-3 sent at" in shrunk.result.violations[0].message
    assert search(example("reminder_bug.py:fixed"), "crash", max_examples=60) is None


def test_crash_search_finds_the_crash_between_two_effects() -> None:
    shrunk = search(example("transfer_bug.py:buggy"), "crash")
    assert shrunk is not None and shrunk.result is not None
    assert shrunk.result is not None and "await, pay.0" in repr(shrunk), repr(shrunk)  # crash(w?, await, pay.0)


def test_the_search_benchmark_covers_every_bug_of_the_examples() -> None:
    from sim.bench.crash_search import example_bugs

    assert example_bugs() == ("reminder_bug.py:buggy", "retry_bug.py:buggy", "side_effect_bug.py:buggy",
                              "transfer_bug.py:buggy")


def test_the_search_benchmark_fails_loudly_when_the_search_misses_what_the_sweep_finds(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sim.bench.crash_search as bench

    def never(scenario: Scenario, faults: str, run: int, limit: int) -> bench.Found:
        return bench.Found(None, limit, 0, 0.0)

    monkeypatch.setattr(bench, "hypothesis_search", never)
    assert bench.main(runs=1, limit=100, bugs=["side_effect_bug.py:buggy"]) == 1
    out = capsys.readouterr().out
    assert "MISSED: crash search did not find side_effect_bug.py:buggy in run(s) 0 (within 100 worlds) where the " \
           "seed sweep found it" in out


def test_the_plan_of_a_world_reads_structured_fields_not_the_wording_of_events() -> None:
    """Item 20: rewording every event's text leaves the faults recovered from a trace as they were."""
    import attrs

    from sim.search import plan_of
    from sim.trace import Trace

    plan = "crash(w1, before_settle, checkout.1); drop(response, create, 2)"
    result = run_world(example("retry_bug.py:buggy"), seed=4, plan=plan, faults="crash=0.05,drop=0.05")
    points, others = plan_of(result)
    assert {str(p) for p in points.points} >= {"crash(w1, before_settle, checkout.1)", "drop(response, create, 2)"}

    reworded = Trace()
    for e in result.trace:
        reworded.add(e.time, e.process, e.incarnation, e.kind, e.id, f"reworded {e.detail[::-1]}", **dict(e.data))
    again = plan_of(attrs.evolve(result, trace=reworded))
    assert [str(p) for p in again[0].points] == [str(p) for p in points.points]
    assert len(again[1]) == len(others)
