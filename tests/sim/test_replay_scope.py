"""The replay oracle runs only where it could disagree (``sim.checks.replay_scope``), and that changes no
verdict: every example and test scenario, over 2,000 worlds of ``crash,drop,reject`` and ``all``, each
judged twice over the same finished world, once replaying every workflow and once by the rule."""

from __future__ import annotations

import copy
import random
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import pytest_durable.sdk.executor as executor_module
import sim.runner.one_world as one_world
from pytest_durable.core.codec import encode
from pytest_durable.core.records import PromiseState
from pytest_durable.core.store import TAG_PARENT
from sim import Scenario, run_world
from sim.checks import Verdict, judge
from sim.checks.ctx_only import Certifier
from sim.scenario import NOT_GIVEN, isolated_modules, load_scenario
from tests.helpers import fidelity_scenarios as fs
from tests.helpers import outcome_scenarios as os_
from tests.helpers import reach_workflows as rw
from tests.helpers import shrink_workflows as sw
from tests.helpers import sim_scenarios as ss

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAULTS = ("crash,drop,reject", "all")
REPLAY_CHECKS = ("replay-children", "replay-value", "nondeterminism")


def _example(target: str) -> Callable[[], Scenario]:
    return lambda: load_scenario(f"{EXAMPLES / target}")


#: (name, scenario factory, seeds per fault set): cheap worlds get many seeds, dear ones a few.
PLAN: dict[str, list[tuple[str, Callable[[], Scenario], int]]] = {
    "examples": [
        ("fan_out_fan_in", _example("fan_out_fan_in.py:scenario"), 40),
        ("payments_client", _example("payments_client.py:scenario"), 40),
        ("reminder_bug.buggy", _example("reminder_bug.py:buggy"), 6),
        ("reminder_bug.fixed", _example("reminder_bug.py:fixed"), 6),
        ("retry_bug.buggy", _example("retry_bug.py:buggy"), 50),
        ("side_effect_bug.buggy", _example("side_effect_bug.py:buggy"), 50),
        ("supplier_race", _example("supplier_race.py:race_scenario"), 20),
        ("side_effect_bug.fixed", _example("side_effect_bug.py:fixed"), 50),
        ("transfer_bug.buggy", _example("transfer_bug.py:buggy"), 50),
        ("transfer_bug.fixed", _example("transfer_bug.py:fixed"), 50),
    ],
    "sim_and_reach": [
        ("fan_out", lambda: ss.fan_out_scenario(3), 50),
        ("remote", lambda: ss.remote_scenario(2), 25),
        ("coin_flip", ss.random_scenario, 25),
        ("grows_each_run", ss.growing_scenario, 8),
        ("reach.buggy", rw.buggy, 6),
        ("reach.fixed", rw.fixed, 6),
        ("checkout", lambda: sw.checkout_scenario("order-1"), 50),
    ],
    "fidelity": [
        ("guarded_charge", fs.guarded_charge, 50),
        ("keyed_charge", fs.keyed_charge, 50),
        ("spread", fs.spread_scenario, 20),
        ("wallclock_quote", fs.wallclock_quote, 25),
        ("recorded_quote", fs.recorded_quote, 50),
        ("set_order", fs.set_order, 20),
        ("sorted_order", fs.sorted_order, 20),
        ("clocks", fs.clocks_scenario, 20),
    ],
    "outcomes": [
        ("saga", os_.saga_scenario, 50),
        ("saga_buggy", os_.saga_buggy_scenario, 50),
        ("price", os_.price_scenario, 50),
        ("price_buggy", os_.price_buggy_scenario, 50),
        ("held", os_.held_scenario, 15),
        ("booking", os_.booking_scenario, 50),
        ("reward", os_.reward_scenario, 50),
        ("batch", os_.batch_scenario, 50),
    ],
}


def _state_outside(scenario: Scenario) -> Callable[[], None]:
    """What a replay could change outside the world and a second judging of it must start from again:
    the global ``random`` (a body that reads it draws anew) and the containers of scenario modules that
    are not isolated (a body's counter there counts every replay). Returns a function that restores it."""
    state = random.getstate()
    isolated = set(isolated_modules(scenario))
    saved: list[tuple[Any, Any]] = []
    for name in {fn.__module__ for fn in scenario.all_functions()} - isolated:
        module = sys.modules.get(name)
        for key, value in vars(module).items() if isinstance(module, types.ModuleType) else ():
            if type(value) in (list, dict, set) and not key.startswith("__"):
                saved.append((value, copy.deepcopy(value)))

    def restore() -> None:
        random.setstate(state)
        for value, content in saved:
            value.clear()
            value.update(content) if isinstance(value, (dict, set)) else value.extend(content)

    return restore


@pytest.fixture
def judged_both_ways(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Verdict, Verdict]]]:
    """Every world run_world judges is judged twice over the same finished world: replaying every
    workflow, then by the rule (the verdict the world keeps), from the same state outside it."""
    pairs: list[tuple[Verdict, Verdict]] = []

    def twice(*args: Any, **kwargs: Any) -> Verdict:
        restore = _state_outside(args[3])
        everything = judge(*args, **{**kwargs, "replay_all": True})
        restore()
        by_rule = judge(*args, **kwargs)
        pairs.append((everything, by_rule))
        return by_rule

    monkeypatch.setattr(one_world, "judge", twice)
    yield pairs


def _lines(verdict: Verdict) -> list[str]:
    return [f"{v.check}: {v.message}" for v in verdict.violations]


def test_the_plan_covers_2000_worlds_and_every_scenario_module() -> None:
    assert sum(seeds for cases in PLAN.values() for _, _, seeds in cases) * len(FAULTS) >= 2000
    examples = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("test_")}
    assert examples == {name.split(".")[0] for name, _, _ in PLAN["examples"]}


@pytest.mark.parametrize("group", sorted(PLAN))
def test_leaving_out_the_replays_that_cannot_disagree_changes_no_verdict(
        group: str, judged_both_ways: list[tuple[Verdict, Verdict]]) -> None:
    worlds = skipped = failing = replay_failing = 0
    for name, make, seeds in PLAN[group]:
        scenario = make()
        for faults in FAULTS:
            for seed in range(seeds):
                judged_both_ways.clear()
                result = run_world(scenario, seed=seed, faults=faults)
                (everything, by_rule), = judged_both_ways
                assert _lines(by_rule) == _lines(everything), (name, faults, seed)
                assert everything.unreplayed == 0
                assert (result.replayed, result.unreplayed) == (by_rule.replayed, by_rule.unreplayed)
                worlds += 1
                skipped += by_rule.unreplayed > 0
                failing += not result.ok
                replay_failing += any(v.check in REPLAY_CHECKS for v in everything.violations)
    assert worlds == 2 * sum(seeds for _, _, seeds in PLAN[group])
    assert skipped > 0, worlds  # the rule does leave replays out
    assert failing > 0  # and the worlds include failing ones
    assert (replay_failing > 0) == (group in ("fidelity", "sim_and_reach")), replay_failing  # the oracle's own


def test_a_platform_bug_a_replay_shows_is_still_found_in_every_world_it_shows_in(
        monkeypatch: pytest.MonkeyPatch, judged_both_ways: list[tuple[Verdict, Verdict]]) -> None:
    """BUG planted in the SDK: a re-execution reads its resolved children as -1 from its preloaded branch.
    The workflow is certified, but the world replayed it, so the oracle replays it too and finds it."""
    execution = executor_module.Execution

    def corrupted(**kwargs: Any) -> Any:
        kwargs["branch"] = {id: attrs.evolve(r, value=encode(-1, what="a corrupted value"))
                            if r.state is PromiseState.RESOLVED and TAG_PARENT in r.tags else r
                            for id, r in kwargs["branch"].items()}
        return execution(**kwargs)

    monkeypatch.setattr(executor_module, "Execution", corrupted)
    scenario = attrs.evolve(ss.fan_out_scenario(3), expected=NOT_GIVEN)
    found = 0
    for faults in ("drop,reject", "crash,drop,reject"):
        for seed in range(60):
            judged_both_ways.clear()
            run_world(scenario, seed=seed, faults=faults)
            (everything, by_rule), = judged_both_ways
            assert _lines(by_rule) == _lines(everything), (faults, seed)
            found += any(v.check == "replay-value" for v in by_rule.violations)
    assert found > 0


def test_workflows_that_read_outside_ctx_are_never_left_out() -> None:
    """coin_flip reads random, grows_each_run a shared counter, pay_wallclock the clock, notify_set set
    order, remind_buggy trio's clock: each is replayed in every world, so a skip cannot hide them."""
    cases = [ss.random_scenario(), ss.growing_scenario(), fs.wallclock_quote(), fs.set_order(),
             load_scenario(f"{EXAMPLES / 'reminder_bug.py'}:buggy")]
    for scenario in cases:
        check = Certifier(isolated_modules(scenario))
        assert check.workflow(scenario.workflow), scenario.workflow.name
        for seed in range(5):
            result = run_world(scenario, seed=seed, faults="crash,drop,reject")
            assert result.unreplayed == 0 and result.replayed > 0, (scenario.workflow.name, seed)


def test_the_fault_free_world_is_always_replayed() -> None:
    result = run_world(load_scenario(f"{EXAMPLES / 'fan_out_fan_in.py'}:scenario"), seed=0, faults="none")
    assert (result.replayed, result.unreplayed) == (1, 0)


def test_a_crash_world_is_left_out_when_a_run_of_the_workflow_read_the_record_as_it_is() -> None:
    """A crash makes the next run replay what the first recorded; when that run read every child as the
    final record has it and settled as recorded, the oracle's replay could only repeat it (the workflow
    is certified), so it is left out: every crash world of the seed's fan-out is."""
    scenario = load_scenario(f"{EXAMPLES / 'fan_out_fan_in.py'}:scenario")
    crashed = 0
    for seed in range(40):
        result = run_world(scenario, seed=seed, faults="crash")
        if result.fault_counts.get("crash", 0) and result.ok:
            crashed += 1
            assert (result.replayed, result.unreplayed) == (0, 1), seed
    assert crashed >= 5


def test_a_run_that_read_a_child_otherwise_than_the_record_has_it_is_replayed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """BUG planted in the SDK: each body run a world's worker makes reads its first child's value as -1
    (the record keeps the real one). No run agrees with the record, so every world replays the workflow,
    and the oracle's replay (over the real record) gives another value than the runs settled with."""
    import pytest_durable.sdk.frame as frame_module

    real = frame_module.Frame.outcome

    def misread(self: Any, record: Any) -> object:
        live = self.execution.on_end is not None  # a world's worker, not the oracle's replay
        if live and record.id.endswith(".0") and record.state is PromiseState.RESOLVED:
            record = attrs.evolve(record, value=encode(-1, what="a misread value"))
        return real(self, record)

    monkeypatch.setattr(frame_module.Frame, "outcome", misread)
    scenario = attrs.evolve(ss.fan_out_scenario(3), expected=NOT_GIVEN)
    found = 0
    for seed in range(30):
        result = run_world(scenario, seed=seed, faults="crash")
        assert result.unreplayed == 0, seed
        found += any(v.check == "replay-value" for v in result.violations)
    assert found == 30
