"""Aim before luck (``sim.aim``): a world's fault points read off its quiet world, one world per single
fault at each (an ``at(...)`` plan point over the quiet schedule), then swarm worlds; and what a sweep
covered. A bug that one fault at one point shows is found by the sweep itself, not by a lucky seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable import UsageError
from sim import FaultConfig, FaultPlan, run_world
from sim.aim import AimedSweep, Planned, points_of, swarm_faults
from sim.faults import AimAt
from sim.kernel.decisions import PinnedDecisions
from sim.scenario import load_scenario
from tests.helpers.sim_scenarios import fan_out_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CDR = FaultConfig.parse("crash,drop,reject")


def _example(target: str):  # type: ignore[no-untyped-def]
    return load_scenario(f"{EXAMPLES / target}")


@pytest.mark.parametrize("text", [
    "at(crash, after settle job.1)", "at(crash, before create job.1, 2)", "at(crash, await job)",
    "at(drop, response create job.0)", "at(reject, body job.2)", "at(reject, repeatedly body job.2)",
    "at(duplicate, late settle job.1)",
    "at(duplicate, settle job.1)", "at(delay, create job)", "at(store_error, acquire job)",
])
def test_an_at_point_reads_back_as_it_is_written(text: str) -> None:
    plan = FaultPlan.parse(text)
    assert [str(p) for p in plan.points] == [text]
    assert isinstance(plan.points[0], AimAt)


@pytest.mark.parametrize("text", [
    "at(crash, settle job.1)",  # a crash at a request says before, during or after
    "at(crash, after await job)",  # a crash at an await says nothing more
    "at(drop, sideways settle job.1)", "at(partition, tick 3)", "at(crash, after settle job.1, 0)",
    "at(reject, body)",
])
def test_an_at_point_that_names_no_point_is_one_clear_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"fault plan: cannot read .*at\(crash, before\|during\|after OP ID\)"):
        FaultPlan.parse(text)


def test_an_at_point_strikes_once_where_it_names_and_nowhere_else() -> None:
    scenario = fan_out_scenario(3, workers=1)
    for plan, kind, detail in [("at(crash, after settle job.1)", "crash", "after settle job.1"),
                               ("at(crash, during create job.2)", "crash", "during create job.2"),
                               ("at(drop, request settle job.0)", "drop", "settle request"),
                               ("at(reject, body job.1)", "reject", "leaf")]:
        result = run_world(scenario, faults=CDR, plan=plan, decisions=PinnedDecisions({}))
        assert result.fault_counts == {kind: 1}, plan
        assert next(e.detail for e in result.trace.of_kind(kind)).startswith(detail.split()[0]), plan
        assert result.unfired == () and result.ok, plan


def test_an_at_point_never_met_is_reported_unfired() -> None:
    result = run_world(fan_out_scenario(3, workers=1), plan="at(crash, after settle job.9)",
                       decisions=PinnedDecisions({}))
    assert result.unfired == ("at(crash, after settle job.9)",)
    assert result.fault_counts == {}


def test_the_points_of_a_world_are_its_requests_awaits_and_leaves_each_with_its_ways() -> None:
    points = points_of(fan_out_scenario(3, workers=1), CDR)
    names = [str(p) for p in points.singles]
    assert len(names) == len(set(names))  # every placement once
    for how in ("before", "during", "after"):
        assert f"at(crash, {how} settle job.1)" in names
    assert "at(drop, request create job.0)" in names and "at(drop, response create job.0)" in names
    assert {f"at(reject, body job.{i})" for i in range(3)} <= set(names)
    assert any(n.startswith("at(crash, await job") for n in names)
    assert "at(crash, during dispatch default)" not in names  # a long poll's answer: during is before
    assert "at(drop, request dispatch default)" not in names
    assert points.by_kind()["reject"] == 6  # each leaf rejected once, and repeatedly
    # every placement fires in its world: the quiet world is the same world each time up to the fault
    for point in points.singles:
        result = run_world(fan_out_scenario(3, workers=1), faults=CDR, plan=FaultPlan((point,)),
                           decisions=PinnedDecisions({}))
        many = 3 if point.how == "repeatedly" else 1  # up to reject's bound
        assert result.unfired == () and sum(result.fault_counts.values()) == many, point


def test_idle_time_holds_no_points() -> None:
    """A workflow that sleeps 100 s has no more points than one that sleeps a second: idle polls are not
    opportunities (both sleeps end before faults stop, at 120 s)."""
    from tests.helpers.sim_scenarios import sleeping_scenario
    short, long = (points_of(sleeping_scenario(seconds), CDR) for seconds in (1.0, 100.0))
    assert len(short.singles) == len(long.singles) > 0


@pytest.mark.parametrize(("target", "point"), [
    ("transfer_bug.py:buggy", "at(crash, await pay.0)"),
    ("retry_bug.py:buggy", "at(crash, before settle checkout.1)"),
])
def test_a_bug_one_fault_at_one_point_shows_is_found_by_the_sweep_at_that_point(target: str, point: str) -> None:
    sweep = AimedSweep(_example(target), CDR)
    failing = [str(p.point) for p in sweep.worlds() if not sweep.run(p, run_world).ok]
    assert point in failing
    assert sweep.coverage.singles_run == sweep.coverage.singles == len(sweep.points.singles)
    # and its twin passes every single-fault world
    fixed = AimedSweep(_example(target.replace("buggy", "fixed")), CDR) if "transfer" in target else None
    if fixed is not None:
        assert all(fixed.run(p, run_world).ok for p in fixed.worlds())


def test_coverage_says_what_ran_and_what_was_left_out() -> None:
    sweep = AimedSweep(fan_out_scenario(3, workers=1), FaultConfig.parse("crash,drop,reject,partition"), swarm=3,
                       cap=5)
    ran = [sweep.run(p, run_world) for p in sweep.worlds()]
    n = len(sweep.points.singles)
    assert len(ran) == 1 + 5 + 3 == sweep.size()
    assert sweep.coverage.line() == f"points: 5 of {n} single faults, 3 swarm worlds (partition: swarm worlds only)"
    assert sweep.coverage.capped and "cap of 5" in sweep.coverage.notes()[0]
    uncovered = sweep.uncovered()
    assert len(uncovered) == n - 5 + 1
    assert uncovered[0].endswith("past the cap of 5 single-fault worlds")
    assert uncovered[-1].startswith("partition: strikes at fault ticks")


def test_a_swarm_world_draws_its_own_mix_from_its_seed_alone() -> None:
    mixes = {str(swarm_faults(seed, FaultConfig.parse("all"))) for seed in range(40)}
    assert len(mixes) == 40  # each its own
    assert str(swarm_faults(7, CDR)) == str(swarm_faults(7, CDR))
    for seed in range(40):
        mix = swarm_faults(seed, CDR)
        assert mix.kinds and set(mix.kinds) <= {"crash", "drop", "reject"}
    assert swarm_faults(3, FaultConfig()).kinds == ()


def test_a_bug_two_faults_show_is_missed_by_single_faults_and_found_by_pairs() -> None:
    """The refund runs only when the charge was rejected, and double-refunds only when a crash lands in
    it: the single-fault phase passes; depth 2 finds the pair and names both points."""
    from tests.helpers.sim_scenarios import compensation_scenario

    singles = AimedSweep(compensation_scenario(keyed=False), CDR)
    assert all(singles.run(p, run_world).ok for p in singles.worlds())
    pairs = AimedSweep(compensation_scenario(keyed=False), CDR, depth=2)
    failing = [str(p.plan) for p in pairs.worlds() if not pairs.run(p, run_world).ok]
    assert "at(reject, body saga.0); at(crash, await saga.1)" in failing
    assert pairs.coverage.pairs is not None and pairs.coverage.pairs_run == pairs.coverage.pairs > 0
    assert pairs.coverage.line() == (f"points: {pairs.coverage.singles} of {pairs.coverage.singles} single faults, "
                                     f"{pairs.coverage.pairs:,} of {pairs.coverage.pairs:,} pairs")
    # the fixed twin passes every pair, and the examples' correct workflows too: no false alarm
    for scenario in (compensation_scenario(keyed=True), _example("transfer_bug.py:fixed")):
        clean = AimedSweep(scenario, CDR, depth=2)
        bad = [str(p.plan) for p in clean.worlds() if not clean.run(p, run_world).ok]
        assert bad == [] and clean.coverage.pairs, (scenario.workflow.name, bad[:3])


def test_every_second_fault_of_a_pair_fires_where_it_was_listed() -> None:
    sweep = AimedSweep(fan_out_scenario(3, workers=1), CDR, depth=2, pair_cap=200)
    results = [(p, sweep.run(p, run_world)) for p in sweep.worlds()]
    paired = [(p, r) for p, r in results if p.second is not None]
    assert len(paired) == 200 < (sweep.coverage.pairs or 0)
    def faults(p: Planned) -> int:  # a repeated rejection strikes up to reject's bound (3)
        return sum(3 if point.how == "repeatedly" else 1 for point in p.plan.points)  # type: ignore[union-attr]

    assert all(r.unfired == () for _, r in paired), [str(p.plan) for p, r in paired if r.unfired][:3]
    assert all(sum(r.fault_counts.values()) == faults(p) or "repeatedly" in str(p.plan) for p, r in paired)
    assert all(sum(r.fault_counts.values()) >= 2 for _, r in paired)
    assert "the pairs stopped at their cap of 200 worlds" in sweep.coverage.notes()[0]


def test_a_leaf_rejected_repeatedly_fails_for_good_within_the_bound_and_opens_the_compensation() -> None:
    """A saga whose charge fails for good (rejected at every attempt its retries allow, within reject's
    bound of 3) must release the reservation: the buggy twin does not, and a single aimed point finds it;
    the correct saga compensates at that point too."""
    from tests.helpers import outcome_scenarios as os_

    point = "at(reject, repeatedly body saga.1)"
    buggy = run_world(os_.saga_buggy_scenario(), faults=CDR, plan=point, decisions=PinnedDecisions({}))
    assert buggy.fault_counts["reject"] >= 2 and not buggy.ok  # every attempt the charge's retries allow
    assert "outcome" in [v.check for v in buggy.violations]
    fixed = run_world(os_.saga_scenario(), faults=CDR, plan=point, decisions=PinnedDecisions({}))
    assert fixed.ok and fixed.fault_counts == buggy.fault_counts
    assert fixed.value == "refunded"
    sweep = AimedSweep(os_.saga_buggy_scenario(), CDR)
    assert point in [str(p.point) for p in sweep.worlds() if not sweep.run(p, run_world).ok]
