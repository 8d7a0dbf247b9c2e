"""Upgrade worlds (``Scenario(upgrade=sim.Upgrade(...))``): a second version of the order workflow
(``examples/deploy``) deployed while orders are in flight, under faults. A version 2 that reorders the
children fails and the report names both versions; one guarded by ``ctx.patched`` passes 1,000 worlds of
every fault, with v2 replaying v1 executions on the old path and new ones on the new path; a fleet that
keeps an old worker is found failing the other way round."""

from __future__ import annotations

from collections import Counter

import attrs
import pytest

import sim
from examples.deploy import orders_v1
from examples.deploy.upgrade_worlds import EXPECTED, leaf_only, old_workers_stay, patched, reordered, upgrade_world
from pytest_durable.core.errors import UsageError
from sim.kernel.decisions import PinnedDecisions
from sim.reports.diagnosis import diagnosis
from sim.scenario import build, scenario_spec

MARKER = ".patch-fraud-check"


def versions_of(result: sim.RunResult) -> dict[str, int]:
    """The version each incarnation of the world ran, by ``w1#2``."""
    return {e.who: int(e.get("version")) for e in result.trace.of_kind("start")}


def bodies_of(result: sim.RunResult, promise: str) -> list[int]:
    """The versions that ran ``promise``'s body, in order."""
    version = versions_of(result)
    return [version[e.who] for e in result.trace.of_kind("body") if e.id == promise]


def test_the_reordered_version_fails_the_fault_free_world_naming_both_versions() -> None:
    result = sim.run_world(reordered(), decisions=PinnedDecisions({}))  # the sweep's first world
    assert not result.ok
    found = [v for v in result.violations if v.check == "nondeterminism"]
    assert found, result.violations
    worker = found[0].message
    assert "order-1 fulfil('order-1', 2)" in worker
    assert "the store recorded reserve('order-1', 0) but the replay called charge('order-1', 20)" in worker
    assert "v1 (examples.deploy.orders_v1) ran order-1 on w" in worker
    assert "v2 (examples.deploy.orders_v2_reordered) replayed it on w" in worker
    oracle = [v.message for v in found if v.message.startswith("replaying")]
    assert oracle and "with v2 (examples.deploy.orders_v2_reordered)" in oracle[0]
    assert diagnosis(result).startswith("an upgrade that breaks executions in flight: v2 "
                                        "(examples.deploy.orders_v2_reordered)")


def test_the_patched_version_passes_a_thousand_worlds_of_every_fault() -> None:
    """1,000 seeded worlds of ``--faults all``: each passes; among them worlds whose fleet was mixed (a v1
    worker ran a body after the deploy had started), v1 executions replayed by v2 on the old path (no
    patch marker), and executions v2 ran on the new path (with the marker, the fraud check a child)."""
    scenario = patched()
    tally: Counter[str] = Counter()
    for seed in range(1000):
        result = sim.run_world(scenario, seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        tally["worlds"] += 1
        version = versions_of(result)
        deploys = result.trace.of_kind("deploy")
        if deploys and any(e.seq > deploys[0].seq and version[e.who] == 1 for e in result.trace.of_kind("body")):
            tally["mixed fleet"] += 1
        ids = {p.id for p in result.promises}
        for root in ("order-1", "order-2"):
            ran = bodies_of(result, root)
            if root + MARKER in ids:
                tally["new path"] += 1
                assert 1 not in ran[ran.index(2):]  # no v1 worker replayed it once v2 ran it
                assert any(p.id == f"{root}.2" and '"fraud_check"' in p.param for p in result.promises)
            elif 1 in ran and 2 in ran:
                tally["v1 replayed by v2 on the old path"] += 1
    assert tally["worlds"] == 1000
    assert tally["mixed fleet"] >= 50, tally
    assert tally["v1 replayed by v2 on the old path"] >= 100, tally
    assert tally["new path"] >= 1000, tally  # order-2 always starts after the deploy


def test_the_leaf_only_version_passes_and_runs_its_new_leaf_body() -> None:
    scenario = leaf_only()
    assert sim.run_world(scenario, decisions=PinnedDecisions({})).ok
    v2_ships = 0
    for seed in range(60):
        result = sim.run_world(scenario, seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        v2_ships += 2 in bodies_of(result, "order-2.4")
    assert v2_ships > 40  # the new ship body ran, and the values stay version 1's


def test_an_old_worker_that_stays_is_found_replaying_what_the_new_version_began() -> None:
    found = None
    for seed in range(40):
        result = sim.run_world(old_workers_stay(), seed=seed, faults="crash,drop,reject")
        if not result.ok:
            found = result
            break
    assert found is not None
    message = next(v.message for v in found.violations if v.check == "nondeterminism")
    assert "the store recorded fraud_check(" in message and "but the replay called charge(" in message
    assert "v2 (examples.deploy.orders_v2_patched) ran order-" in message
    assert "v1 (examples.deploy.orders_v1) replayed it on w3#" in message  # the worker that stayed
    assert diagnosis(found).startswith("an old worker replayed an execution the new version began")


def test_a_version_one_execution_is_replayed_with_version_one() -> None:
    """The deploy comes after order-1 settled: the oracle replays order-1 with v1 and order-2 with v2, and
    neither is flagged although v2 reorders the calls."""
    scenario = attrs.evolve(reordered(), upgrade=sim.Upgrade(to="examples.deploy.orders_v2_reordered", at=3.0))
    result = sim.run_world(scenario, seed=0)
    assert result.ok, [str(v) for v in result.violations]
    assert set(bodies_of(result, "order-1")) == {1} and set(bodies_of(result, "order-2")) == {2}
    assert result.replayed == 2
    v2_calls = [p.param for p in result.promises if p.id == "order-2.0"]
    assert '"charge"' in v2_calls[0]  # v2's order: the charge first


def test_the_same_seed_gives_the_same_upgrade_world_and_seeds_draw_different_deploys() -> None:
    scenario = patched()
    first = sim.run_world(scenario, seed=11, faults="all")
    again = sim.run_world(scenario, seed=11, faults="all")
    assert first.trace_hash == again.trace_hash and first.decisions == again.decisions
    instants = {sim.run_world(scenario, seed=s).trace.of_kind("deploy")[0].time for s in range(8)}
    assert len(instants) > 2


def test_a_failing_upgrade_world_replays_identically_from_its_decisions_and_its_spec() -> None:
    faults = "crash,drop,reject"
    result = next(r for seed in range(1, 40) if not (r := sim.run_world(reordered(), seed=seed, faults=faults)).ok)
    assert result.fault_counts  # a world with faults, not the fault-free one
    pinned = sim.run_world(reordered(), decisions=sim.RecordedDecisions(list(result.decisions)), faults=faults)
    assert pinned.trace_hash == result.trace_hash and pinned.violations == result.violations
    rebuilt = build(scenario_spec(reordered()))  # what a saved world and the hash-seed re-run carry
    assert rebuilt.upgrade == reordered().upgrade
    assert sim.run_world(rebuilt, seed=result.seed, faults=faults).trace_hash == result.trace_hash


def test_the_deploy_waits_for_its_after_promise() -> None:
    scenario = attrs.evolve(patched(), upgrade=sim.Upgrade(to="examples.deploy.orders_v2_patched", after="order-1.4"))
    result = sim.run_world(scenario, seed=0)
    assert result.ok
    settled = next(e.time for e in result.trace.events if e.id == "order-1.4" and e.get("state") == "resolved")
    assert result.trace.of_kind("deploy")[0].time >= settled
    assert set(bodies_of(result, "order-1")) == {1}


@pytest.mark.parametrize(("upgrade", "said"), [
    (dict(to="examples.deploy.no_such_version"), "Upgrade(to='examples.deploy.no_such_version'): cannot import it"),
    (dict(to="examples.fan_out_fan_in"), "the module defines none of the scenario's durable functions"),
    (dict(to="examples.deploy.orders_v2_patched", at=(2.0, 1.0)), "Upgrade(at=...): a window is (first, last)"),
    (dict(to="examples.deploy.orders_v2_patched", fleet=3), "fleet=3 keeps every one of the 3 workers"),
    (dict(to="examples.deploy.orders_v2_patched", fleet="blue-green"), "Upgrade(fleet=...): one of 'rolling'"),
])
def test_a_bad_upgrade_is_one_line_naming_the_argument(upgrade: dict[str, object], said: str) -> None:
    with pytest.raises(UsageError) as caught:
        attrs.evolve(upgrade_world("orders_v2_patched"), upgrade=sim.Upgrade(**upgrade))  # type: ignore[arg-type]
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_a_scenario_takes_only_an_upgrade_record() -> None:
    with pytest.raises(UsageError, match=r"upgrade= must be a sim.Upgrade"):
        sim.Scenario(orders_v1.fulfil, ("order-1", 2), upgrade="examples.deploy.orders_v2_patched")  # type: ignore[arg-type]
    assert EXPECTED.startswith("2 reserved")


def test_each_fleet_moves_the_workers_it_says() -> None:
    """``rolling`` restarts every worker on v2, a gap apart; ``restarts`` none (only a crash upgrades one);
    ``1`` keeps the last worker on v1 for good; ``mixed`` draws how many stay."""
    def world(fleet: str | int, seed: int = 0, faults: str = "none") -> sim.RunResult:
        upgrade = sim.Upgrade(to="examples.deploy.orders_v2_leaf_only", at=1.0, fleet=fleet, gap=0.5)
        return sim.run_world(attrs.evolve(leaf_only(), upgrade=upgrade), seed=seed, faults=faults)

    rolling = world("rolling")
    stops = [(e.time, e.who) for e in rolling.trace.of_kind("crash") if e.get("when") == "deploy"]
    assert stops == [(1.0, "w1#1"), (1.5, "w2#1"), (2.0, "w3#1")]
    assert versions_of(rolling) == {"w1#1": 1, "w2#1": 1, "w3#1": 1, "w1#2": 2, "w2#2": 2, "w3#2": 2}
    restarts = world("restarts")
    assert restarts.trace.of_kind("deploy") and set(versions_of(restarts).values()) == {1}
    crashed = next(r for seed in range(30) if len(versions_of(r := world("restarts", seed, "crash=0.2:3"))) > 3)
    assert {e.who for e in crashed.trace.of_kind("start") if e.time > 1.0 and e.get("version") == "2"}
    kept = world(1)
    assert kept.trace.of_kind("deploy")[0].get("staying") == "w3"
    assert {w: v for w, v in versions_of(kept).items() if w.startswith("w3")} == {"w3#1": 1}
    drawn = {world("mixed", seed).trace.of_kind("deploy")[0].get("staying") for seed in range(12)}
    assert drawn == {"", "w3", "w2,w3"}
