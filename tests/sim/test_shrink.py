"""What crash search hands back once it has shrunk a failure (issue 11 item 5, issue 12 items 7 and 9):
a short pin that replays it, a readable failing example, and shrink time kept short."""

from __future__ import annotations

import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings

from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import World, pinned_world, worlds
from sim import RunResult, Scenario, run_world
from sim.bench.crash_search import bug_scenario
from sim.faults import UnfiredPlanWarning
from sim.search import KNOWN_WORLDS, HypothesisDecisions, choices_text, plan_of, same_failure
from tests.helpers.shrink_workflows import checkout_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_plan_that_reproduces_the_violations_is_the_pin_though_the_trace_differs() -> None:
    """A world with a fresh uuid in its parameter and a busy schedule: its plan alone gives the same
    broken checks but another trace, and the pin is that plan, not every choice of the world."""
    scenario = checkout_scenario(str(uuid.uuid4()))
    # A plan point names its process: the world's crashes are on w1, who runs checkout when nothing fails.
    found = next(r for r in (run_world(scenario, seed=s, faults="crash") for s in range(1000))
                 if r.violations and {e.process for e in r.trace.of_kind("crash")} == {"w1"})
    world = pinned_world(faults="crash", choices=choices_text(found.decisions))
    result = world.run(scenario)
    assert result.trace_hash == found.trace_hash  # the world itself, replayed from its choices
    plan, others = plan_of(result)
    assert plan.points and not others
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnfiredPlanWarning)
        alone = pinned_world(plan=str(plan)).run(scenario)
    assert alone.trace_hash != result.trace_hash and same_failure(result, alone)  # the case at hand
    pin = world.pinned()
    assert pin == f'@durable_example(plan="{plan}")', pin
    assert len(pin) < 120 and "choices=" not in pin
    # The pin holds on the next run of the test, whose order has another fresh id.
    again = pinned_world(**dict(re.findall(r'(\w+)="([^"]*)"', pin))).run(checkout_scenario(str(uuid.uuid4())))
    assert same_failure(result, again)


def test_hypothesis_prints_the_failing_world_as_its_faults(pytester: pytest.Pytester) -> None:
    """Hypothesis prints a failing example's arguments before it runs it again: the drawn world shows
    the faults those choices gave (a plan), not the fault rates it was drawn with."""
    pytester.makepyfile(test_found=f'''
        from hypothesis import given, settings
        from pytest_durable.testing import profiles
        from pytest_durable.testing.strategies import worlds
        from sim.scenario import load_scenario

        BUGGY = load_scenario({str(ROOT / "examples" / "retry_bug.py")!r} + ":buggy")

        @settings(max_examples=300, database=None, deadline=None, derandomize=True, phases=profiles.PHASES)
        @given(world=worlds("crash"))
        def test_checkout(world):
            assert world.run(BUGGY).ok
    ''')
    found = pytester.runpytest("-p", "no:cacheprovider")
    found.assert_outcomes(failed=1)
    found.stdout.fnmatch_lines([
        "*Failing test case: test_checkout(",
        '*    world=World(plan="crash(w1, before_settle, checkout.1)"),',
        '*durable: pin it: @durable_example(plan="crash(w1, before_settle, checkout.1)")',
    ])
    assert "World(faults=" not in found.stdout.str()


def _search_counting_runs(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """The trace hashes of every world a search drew (the shrunk one last) and how many of them it ran."""
    import sim.runner

    runs = [0]
    real = sim.runner.run_world

    def counting(*args: Any, **kwargs: Any) -> RunResult:
        runs[0] += isinstance(kwargs.get("decisions"), HypothesisDecisions)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.runner, "run_world", counting)
    hashes: list[str] = []

    @seed(1)
    @settings(max_examples=300, database=None, deadline=None, phases=profiles.PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(world=worlds("crash"))
    def check(world: World) -> None:
        result = world.run(scenario)
        hashes.append(result.trace_hash)
        assert result.ok

    with pytest.raises(AssertionError):
        check()
    return hashes, runs[0]


def test_shrinking_does_not_run_again_a_world_it_already_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrinking tries choice sequences that differ only where the world never looks; a world whose
    every question they answer as before (confirmed by one second run) is not run again. The search
    is the same either way: the same worlds in the same order, the same shrunk world."""
    scenario = bug_scenario("held-out:saga")
    with monkeypatch.context() as plain:
        plain.setattr(KNOWN_WORLDS, "find", lambda *args: None)
        without, runs_without = _search_counting_runs(scenario, plain)
    known, runs_known = _search_counting_runs(scenario, monkeypatch)
    assert known == without  # the same search, world by world
    assert runs_without >= len(without)  # every world run (and any cut short by Hypothesis)
    assert runs_known <= runs_without - 10, (runs_known, runs_without)


def test_the_search_benchmark_reports_shrink_time_and_worlds_per_bug(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.bench.crash_search import main

    assert main(runs=1, limit=300, bugs=["held-out:saga", "held-out:retried_leaf"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^bug\s+method\s+found\s+to first\s+worlds\s+faults\s+seconds\s+shrink s\s+max\s+shrink worlds$",
                     out, re.M), out
    for bug in ("held-out:saga", "held-out:retried_leaf"):
        row = re.search(rf"^{bug}\s+hypothesis\s+1/1\s+\S+\s+\S+\s+1\.0\s+\S+\s+([\d.]+)\s+([\d.]+)\s+(\d+)\.0$",
                        out, re.M)
        assert row is not None, out
        assert 0 < float(row[1]) == float(row[2]) and int(row[3]) > 0


def test_known_worlds_answer_only_the_same_answers_of_the_same_scenario_and_stay_bounded() -> None:
    from sim.search import KnownWorlds

    known, scenario = KnownWorlds(worlds=2), object()
    asked = [("choose", "latency", 4), ("flip", "crash", "settle job.1", 0.5)]
    known.add("key", scenario, asked, [3, 0], "first")
    found = known.find("key", scenario, lambda q: {"latency": 3, "crash": 0}[q[1]])
    assert found is not None and found.result == "first" and not found.verified
    assert known.find("key", scenario, lambda q: {"latency": 3, "crash": 1}[q[1]]) is None  # another answer
    assert known.find("key", object(), lambda q: {"latency": 3, "crash": 0}[q[1]]) is None  # another scenario
    known.add("key", scenario, asked, [2, 0], "second")
    known.add("key", scenario, asked[:1], [1], "third")  # past two worlds the tree starts again
    assert known.find("key", scenario, lambda q: {"latency": 3, "crash": 0}[q[1]]) is None
