"""``ctx.cancel`` under the simulator (issue 25, item 4): ``examples/supplier_race.py`` asks three
suppliers, takes the first quote and cancels the others with everything under them. The fault-free
world gives the expected value with both slower quotes canceled and nothing pending; a few hundred worlds
of every fault pass every check (the replay oracle included), and a crash on either side of the cancel's
settle cancels nothing twice. A twin that stops the quotes with ``abort`` instead is caught by the
example's invariant."""

from __future__ import annotations

import pytest

from examples.supplier_race import race_scenario
from pytest_durable.core.records import PromiseState
from sim import run_world
from sim.faults.kinds import FAULT_KINDS
from tests.helpers.cancel_shapes import aborting_scenario

CANCELED = PromiseState.REJECTED_CANCELED


def test_the_fault_free_world_cancels_the_slower_quotes_and_everything_under_them() -> None:
    result = run_world(race_scenario(), seed=0)
    assert result.ok, [str(v) for v in result.violations]
    assert result.value == "globex quoted 90; canceled acme, initech"
    states = {p.id: p.state for p in result.promises}
    assert (states["rfq.0"], states["rfq.1"], states["rfq.2"]) == (CANCELED, PromiseState.RESOLVED, CANCELED)
    # initech's line prices were still being worked on (its timer never made), acme's timer still running:
    # all canceled
    assert [states[f"rfq.2.{n}"] for n in range(4)] == [CANCELED] * 4 and "rfq.2.4" not in states
    assert states["rfq.0.4"] is CANCELED and states["rfq.1.4"] is PromiseState.RESOLVED
    assert result.replayed >= 1  # the oracle replayed the root, ctx.cancel included, over its record


@pytest.mark.parametrize("kind", ["all", *FAULT_KINDS])
def test_300_worlds_of_each_fault_pass(kind: str) -> None:
    values = set()
    for seed in range(300):
        result = run_world(race_scenario(), seed=seed, faults=kind)
        assert result.ok, (kind, seed, [str(v) for v in result.violations])
        values.add(result.value)
    assert "globex quoted 90; canceled acme, initech" in values


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("child", ["rfq.0", "rfq.2"])
def test_a_crash_at_the_cancel_cancels_once(when: str, child: str) -> None:
    result = run_world(race_scenario(), seed=0, plan=f"at(crash, {when} settle {child})")
    assert result.ok, [str(v) for v in result.violations]
    assert result.value == "globex quoted 90; canceled acme, initech"
    assert any(e.kind == "crash" for e in result.trace.events), "the planned crash did not happen"


def test_the_invariant_catches_children_stopped_without_a_cancel() -> None:
    result = run_world(aborting_scenario(), seed=0)
    assert result.value == "globex quoted 90; canceled acme, initech"
    assert not result.ok
    messages = [v.message for v in result.violations if v.check == "user"]
    assert any("rfq.2 is still pending" in m for m in messages), messages
    assert any("the store holds [] canceled" in m for m in messages), messages
