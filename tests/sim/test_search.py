"""Hypothesis-driven crash search: a failing world shrinks to one crash at the earliest point, a
correct workflow survives 500 examples, and the pinned form replays the failure without Hypothesis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import World, durable_example, fault_plans, pinned_world, worlds
from sim import CrashAt, FaultConfig, FaultPlan, PinnedDecisions, Scenario, run_world
from sim.scenario import load_scenario
from sim.search import HypothesisDecisions, opportunity_keys, parse_choices, plan_of

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
BUGGY = load_scenario(str(ROOT / "examples" / "side_effect_bug.py") + ":buggy")
FIXED = load_scenario(str(ROOT / "examples" / "side_effect_bug.py") + ":fixed")

SEARCH = settings(max_examples=300, derandomize=True, database=None, deadline=None, phases=profiles.PHASES,
                  report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])


def search(scenario: Scenario, faults: str, **settings_kwargs: Any) -> tuple[World | None, list[World]]:
    """Run a Hypothesis search over ``scenario``'s worlds; the shrunk failing world (the last one
    run, when Hypothesis replays its minimal example), or None, and every world it ran."""
    ran: list[World] = []

    @settings(SEARCH, **settings_kwargs)
    @given(world=worlds(faults))
    def check(world: World) -> None:
        ran.append(world)
        result = world.run(scenario)
        assert result.ok, result.violations

    try:
        check()
    except AssertionError:
        return ran[-1], ran
    return None, ran


@pytest.fixture(scope="module")
def checkout_search() -> tuple[World | None, list[World]]:
    """One search over the buggy checkout, shared by the tests that look at what it found."""
    return search(BUGGY, "crash")


def test_a_side_effect_bug_shrinks_to_exactly_one_crash(checkout_search: tuple[World | None, list[World]]) -> None:
    shrunk, ran = checkout_search
    assert shrunk is not None and shrunk.result is not None
    plan, others = plan_of(shrunk.result)
    assert others == ()
    assert len(plan.points) == 1
    crash = plan.points[0]
    assert isinstance(crash, CrashAt)
    # the earliest point that shows the bug: the charge is recorded, the next child not yet created
    assert (crash.when, crash.op, crash.id) == ("before", "create", "checkout.1")
    assert [v.check for v in shrunk.result.violations] == ["user"]
    assert len(ran) < 300 * 3


def test_the_pinned_form_replays_the_shrunk_failure_without_hypothesis(
        checkout_search: tuple[World | None, list[World]]) -> None:
    shrunk, _ = checkout_search
    assert shrunk is not None and shrunk.result is not None
    line = shrunk.pinned()
    match = re.fullmatch(r'@durable_example\(plan="([^"]+)"\)', line)
    assert match is not None, line
    again = pinned_world(plan=match[1]).run(BUGGY)
    assert again.trace_hash == shrunk.result.trace_hash
    assert again.violations == shrunk.result.violations
    assert pinned_world(plan=match[1]).run(BUGGY).trace_hash == again.trace_hash  # and again


def test_the_choices_form_replays_any_drawn_world_exactly() -> None:
    _, ran = search(FIXED, "crash,drop,duplicate,reject", max_examples=20)
    for world in ran[:20]:
        assert world.result is not None
        match = re.fullmatch(r'@durable_example\((.*)\)', world.pinned())
        assert match is not None
        kwargs = dict(re.findall(r'(\w+)="([^"]*)"', match[1]))
        again = pinned_world(**kwargs).run(FIXED)
        assert again.trace_hash == world.result.trace_hash, kwargs


def test_a_correct_workflow_survives_500_examples() -> None:
    shrunk, ran = search(FIXED, "crash,drop,duplicate,reject", max_examples=500)
    assert shrunk is None
    assert len(ran) >= 500
    faults = [w.result.fault_counts for w in ran if w.result is not None]
    for kind in ("crash", "drop", "duplicate", "reject"):
        assert sum(1 for counts in faults if counts.get(kind)) > 25, kind  # the search did inject them


def test_faults_are_aimed_at_named_opportunities_and_fire_there() -> None:
    keys = opportunity_keys(FIXED, FaultConfig.parse("crash,reject"), None)
    assert keys["crash"][:3] == ["dispatch default", "acquire checkout", "branch checkout"]
    assert "body checkout.1" in keys["reject"]

    @settings(SEARCH, max_examples=1)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        decisions = HypothesisDecisions(data.draw)
        decisions.schedule = {"reject": {("body checkout.1", 0): 0}}
        result = run_world(FIXED, faults="reject", decisions=decisions)
        rejects = result.trace.of_kind("reject")
        assert [(e.id, e.detail) for e in rejects] == [("checkout.1", "charge")]
        assert result.ok

    check()


def test_a_long_world_goes_on_from_a_seeded_stream_and_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_long=f'''
        from hypothesis import Phase, given, settings
        from pytest_durable.testing.strategies import worlds
        from sim.scenario import load_scenario

        FIXED = load_scenario({str(ROOT / "examples" / "side_effect_bug.py")!r} + ":fixed")

        @settings(max_examples=1, database=None, deadline=None, derandomize=True, phases=[Phase.generate])
        @given(world=worlds("crash", budget=3))
        def test_long(world):
            assert world.run(FIXED).ok
            assert False, "show the notes"
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*durable: this world needed more than 3 bytes of schedule choices; the rest came "
                                 "from a seeded stream (seed *)"])


def test_a_failure_is_reported_in_our_words_and_its_pinned_line_fails_identically(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_found=f'''
        from hypothesis import given, settings
        from pytest_durable.testing import profiles
        from pytest_durable.testing.strategies import worlds
        from sim.scenario import load_scenario

        BUGGY = load_scenario({str(ROOT / "examples" / "side_effect_bug.py")!r} + ":buggy")

        @settings(max_examples=300, database=None, deadline=None, derandomize=True, phases=profiles.PHASES)
        @given(world=worlds("crash"))
        def test_checkout(world):
            result = world.run(BUGGY)
            assert result.ok, result.violations
    ''')
    found = pytester.runpytest("-p", "no:cacheprovider")
    found.assert_outcomes(failed=1)
    found.stdout.fnmatch_lines([
        "*test_checkout(",
        '*    world=World(plan="crash(w1, before_create, checkout.1)"),',
        "*durable: faults: crash(w1, before_create, checkout.1)",
        "*drawn world: root checkout resolved; faults: crash 1; * trace *",
        "*  violation (8) user: ledger: 'charge:order-42' was recorded 2 times, expected exactly once"
        " (by checkout on w1#1 at t=*; by checkout on w*#* at t=*)",
        "*checkout  checkout_buggy(*",
        '*durable: pin it: @durable_example(plan="crash(w1, before_create, checkout.1)")',
    ])
    trace = re.search(r"drawn world: .* trace ([0-9a-f]+)", found.stdout.str())
    assert trace is not None
    pin = re.search(r"durable: pin it: (@durable_example\(.*\))$", found.stdout.str(), re.M)
    assert pin is not None

    pytester.makepyfile(test_pinned=f'''
        from pytest_durable.testing.strategies import durable_example
        from sim.scenario import load_scenario

        BUGGY = load_scenario({str(ROOT / "examples" / "side_effect_bug.py")!r} + ":buggy")

        {pin[1]}
        def test_checkout_regression(world):
            result = world.run(BUGGY)
            print("trace", result.trace_hash)
            assert result.ok, result.violations
    ''')
    pinned = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "test_pinned.py", "-rA")
    pinned.assert_outcomes(failed=1)
    pinned.stdout.fnmatch_lines(["*ledger: 'charge:order-42' was recorded 2 times, expected exactly once*"])
    pinned.stdout.fnmatch_lines([f"trace {trace[1]}"])  # the same world, without Hypothesis


def test_durable_example_on_a_given_test_runs_first_either_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_order=f'''
        from hypothesis import given, settings, Phase
        from pytest_durable.testing.strategies import durable_example, worlds
        from sim.scenario import load_scenario

        BUGGY = load_scenario({str(ROOT / "examples" / "side_effect_bug.py")!r} + ":buggy")
        SEEN = []

        @durable_example(plan="crash(w1, before_create, checkout.1)")
        @settings(phases=[Phase.explicit], database=None)
        @given(world=worlds("crash"))
        def test_above(world):
            result = world.run(BUGGY)
            assert result.ok, result.violations

        @settings(phases=[Phase.explicit], database=None)
        @given(world=worlds("crash"))
        @durable_example(plan="crash(w1, before_create, checkout.1)")
        def test_below(world):
            result = world.run(BUGGY)
            assert result.ok, result.violations
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*Failing explicit example: test_above(",
                                 "*world=pinned_world(plan='crash(w1, before_create, checkout.1)', faults='none'),"])
    result.stdout.fnmatch_lines(["*Failing explicit example: test_below(",
                                 "*world=pinned_world(plan='crash(w1, before_create, checkout.1)', faults='none'),"])


def test_fault_plans_shrink_to_the_one_crash_that_matters() -> None:
    ran: list[tuple[FaultPlan, bool]] = []
    ids = ["checkout", "checkout.0", "checkout.1"]

    @SEARCH
    @given(plan=fault_plans(processes=["w1", "w2"], ids=ids, max_crashes=3))
    def check(plan: FaultPlan) -> None:
        result = run_world(BUGGY, faults="none", plan=plan, decisions=PinnedDecisions({}))
        ran.append((plan, result.ok))
        assert result.ok

    with pytest.raises(AssertionError):
        check()
    shrunk = ran[-1][0]
    assert len(shrunk.points) == 1 and isinstance(shrunk.points[0], CrashAt)
    assert not ran[-1][1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ids": ["x"], "ops": ["explode"]}, "fault_plans: unknown op 'explode'"),
    ({"ids": ["x"], "when": ["later"]}, "fault_plans: unknown when 'later'"),
    ({}, "fault_plans: crashes need processes=... and ids=..."),
])
def test_fault_plans_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=re.escape(message)):
        fault_plans(**kwargs)


def test_bad_pinned_text_is_one_clear_error() -> None:
    with pytest.raises(Exception, match=re.escape("choices: cannot read '12-1'; write INDEX:VALUE pairs")):
        durable_example(choices="12:1,12-1")
    with pytest.raises(Exception, match="fault plan: cannot read 'crash'"):
        durable_example(plan="crash")
    assert parse_choices(" 3:1, 10:2 ") == {3: 1, 10: 2}


def test_a_drawn_world_runs_once_a_pinned_world_any_number_of_times() -> None:
    world = pinned_world(plan="crash(w1, before_create, checkout.1)")
    assert world.run(BUGGY).trace_hash == world.run(BUGGY).trace_hash

    @settings(SEARCH, max_examples=1)
    @given(world=worlds("crash"))
    def check(world: World) -> None:
        world.run(FIXED)
        with pytest.raises(Exception, match="a drawn world runs once"):
            world.run(FIXED)

    check()


def test_search_is_guided_towards_re_run_leaves_and_duplicate_effects(monkeypatch: pytest.MonkeyPatch) -> None:
    import hypothesis

    targets: list[tuple[str, float]] = []
    monkeypatch.setattr(hypothesis, "target", lambda value, label="": targets.append((label, value)) or value)

    @settings(SEARCH, max_examples=1)
    @given(world=worlds("crash"))
    def check(world: World) -> None:
        world.run(BUGGY)

    check()
    assert [label for label, _ in targets] == ["leaf bodies run again", "duplicate ledger effects"]


def test_settings_profiles_turn_the_deadline_and_explain_phase_off() -> None:
    profiles.register()
    dev, ci = settings.get_profile(profiles.DEV), settings.get_profile(profiles.CI)
    for profile in (dev, ci):
        assert profile.deadline is None and Phase.explain not in profile.phases
    assert ci.derandomize and ci.database is None and not dev.derandomize
    assert not dev.report_multiple_bugs and not ci.report_multiple_bugs
    assert dev.database is not None


def test_the_dev_profile_stays_random_where_hypothesis_sees_a_ci_environment() -> None:
    code = (
        "from hypothesis import settings\n"
        "from pytest_durable.testing import profiles\n"
        "profiles.register()\n"
        "dev = settings.get_profile(profiles.DEV)\n"
        "print(settings.default.derandomize, dev.derandomize, dev.database is None)\n"
    )
    env = {**os.environ, "CI": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]  # Hypothesis itself turned derandomized; ours did not


def test_the_search_benchmark_reports_each_bug_of_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["bench", "search", "--runs", "1", "--limit", "300"]) == 0
    out = capsys.readouterr().out
    for bug in ("side_effect_bug.py:buggy", "retry_bug.py:buggy"):
        rows = re.findall(rf"^{re.escape(bug)}\s+(seed sweep|hypothesis)\s+(\d)/1\s+(\S+)\s+\S+\s+(\S+)", out, re.M)
        assert [method for method, *_ in rows] == ["seed sweep", "hypothesis"], out
        hypothesis_row = rows[1]
        assert hypothesis_row[1] == "1" and hypothesis_row[3] == "1.0", out  # found, shrunk to one fault
    assert "ratio hypothesis/sweep: worlds to first failure" in out


def test_the_profiles_load_from_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_profile='''
        from hypothesis import Phase, settings

        def test_profile():
            assert settings.default.derandomize and settings.default.database is None
            assert settings.default.deadline is None and Phase.explain not in settings.default.phases
    ''')
    pytester.runpytest_subprocess("--hypothesis-profile=durable-ci", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_worlds_can_aim_faults_at_some_ops_and_ids() -> None:
    seen: list[tuple[str, ...]] = []

    @settings(SEARCH, max_examples=60)
    @given(world=worlds("crash", ops=["settle"], ids=["checkout.1", "checkout.2"]))
    def check(world: World) -> None:
        result = world.run(FIXED)
        plan, _ = plan_of(result)
        seen.append(tuple(f"{p.op} {p.id}" for p in plan.points if isinstance(p, CrashAt)))

    check()
    struck = {point for points in seen for point in points}
    assert struck and struck <= {"settle checkout.1", "settle checkout.2"}
    with pytest.raises(Exception, match="worlds: unknown op 'explode'"):
        worlds(ops=["explode"])


def test_a_plan_point_that_never_fires_is_reported_and_a_pinned_world_warns() -> None:
    """``crash(w9, …)`` names a process the scenario does not have: the world runs without the fault,
    says so in its summary, and a pinned world (a regression test) warns instead of passing quietly."""
    from sim import UnfiredPlanWarning
    from sim.reports import render

    fired = pinned_world(plan="crash(w1, before_create, checkout.1)").run(BUGGY)
    assert fired.unfired == () and fired.fault_counts == {"crash": 1}

    plan = "crash(w9, before_create, checkout.1); drop(response, settle, 99)"
    seeded = run_world(BUGGY, seed=3, plan=plan)
    assert seeded.unfired == ("crash(w9, before_create, checkout.1)", "drop(response, settle, 99)")
    assert "plan points that never fired: crash(w9, before_create, checkout.1); drop(response, settle, 99)" in (
        render.summary(seeded))
    points = r"crash\(w9, before_create, checkout\.1\); drop\(response, settle, 99\)"
    with pytest.warns(UnfiredPlanWarning, match=rf"{points} never fired"):
        pinned_world(plan=plan).run(BUGGY)


def test_a_drawn_world_that_runs_differently_each_time_is_explained_in_our_words() -> None:
    """Hypothesis replays a failing world to shrink it; when the same choices give another world it
    raises "inconsistent data generation", which now carries a note naming the likely cause."""
    import hypothesis.errors

    from sim.search import FLAKY_NOTE
    from tests.helpers.sim_scenarios import growing_scenario

    scenario = growing_scenario()

    @settings(SEARCH, max_examples=20)
    @given(world=worlds("crash"))
    def check(world: World) -> None:
        world.run(scenario)
        raise AssertionError("every world fails, so Hypothesis replays one")

    with pytest.raises(hypothesis.errors.FlakyStrategyDefinition) as info:
        check()
    chain: list[BaseException] = []
    exc: BaseException | None = info.value
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__context__
    assert any(FLAKY_NOTE in getattr(e, "__notes__", ()) for e in chain), [type(e).__name__ for e in chain]
