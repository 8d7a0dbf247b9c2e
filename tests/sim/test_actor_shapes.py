"""Issue 23's shapes with outside parties (``tests/helpers/shape_workflows.py``): each correct workflow
passes 1,000 worlds of every fault kind, and its buggy twin is found with a report naming the promise
at fault. The plugin's default run of the same shapes is ``tests/plugin/test_actor_shapes_plugin.py``."""

from __future__ import annotations

from sim import RunResult, run_world
from sim.reports.render import summary, world_tree
from tests.helpers import shape_workflows as shapes

WORLDS = 1000


def first_failing(scenario: object, worlds: int = WORLDS) -> RunResult | None:
    for seed in range(worlds):
        result = run_world(scenario, seed=seed, faults="all")  # type: ignore[arg-type]
        if not result.ok:
            return result
    return None


def test_the_approval_passes_a_thousand_worlds_of_every_fault_kind() -> None:
    scenario = shapes.approval()
    outcomes = {"shipped": 0, "escalated": 0}
    early = late = twice = never = 0
    for seed in range(WORLDS):
        result = run_world(scenario, seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        assert result.root is not None and result.root.value is not None
        outcomes[result.root.value.strip('"')] += 1
        acts = [e for e in result.trace.events if e.kind == "actor"]
        early += any("not found" in e.detail for e in acts)
        late += any("already rejected_timedout" in e.detail for e in acts)
        twice += sum(e.detail.endswith(": resolved") or "already" in e.detail for e in acts) == 2
        never += any("never acts" in e.detail for e in acts)
    # every case of the shape came up, many times over: the sweep is not a thousand copies of one world
    # (early: so early that the promise did not exist yet, and the approver sent it again)
    assert min(outcomes.values()) > 100, outcomes
    assert min(early, late, twice, never) > 20, (early, late, twice, never)


def test_the_approval_that_takes_a_timeout_for_a_yes_is_found_naming_the_approval() -> None:
    found = first_failing(shapes.approval_buggy())
    assert found is not None
    report = summary(found)
    assert "order 7 shipped but its approval approval-7 is rejected_timedout" in report
    assert "approval-7  durable.promise(120.0)  rejected_timedout" in world_tree(found)


def test_the_checkout_passes_a_thousand_worlds_of_every_fault_kind() -> None:
    scenario = shapes.checkout_scenario()
    dispatched_after_root = 0
    for seed in range(WORLDS):
        result = run_world(scenario, seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        dispatch = next(p for p in result.promises if p.id == "checkout-7.1")
        assert dispatch.settled and dispatch.state.value == "resolved"
        root_settled = next(e.time for e in result.trace.events if e.kind == "settled" and e.id == "checkout-7")
        dispatched_after_root += result.ledger.made("parcel:7")[0].time > root_settled
    assert dispatched_after_root > WORLDS // 2  # the world went on after its root, and judged the dispatch


def test_the_detached_dispatch_that_ships_twice_is_found_naming_its_leaf() -> None:
    found = first_failing(shapes.checkout_buggy_scenario())
    assert found is not None
    report = summary(found)
    assert "'parcel:7' was recorded 2 times, expected exactly once (by checkout-7.1.1 on" in report
    tree = world_tree(found)
    assert "checkout-7.1  dispatch_buggy('7')  (detached)  resolved" in tree
    assert "checkout-7.1.1  ship_parcel_without_key('7')" in tree
    # only a world that waits for detached children sees it: both shipments came after the root settled
    root_settled = next(e.time for e in found.trace.events if e.kind == "settled" and e.id == "checkout-7")
    assert all(entry.time > root_settled for entry in found.ledger.made("parcel:7"))
