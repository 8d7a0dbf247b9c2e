"""Module copies serve another incarnation only when unchanged since fresh (``sim.kernel.copy_pool``,
``sim.kernel.unchanged``): a copy whose list, dict or class attribute a body changed is made anew, and a
world runs exactly as it does with a fresh copy for every incarnation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sim import run_world
from sim.kernel import copy_pool
from sim.kernel.isolation import FreshModules
from sim.kernel.unchanged import NotComparable, Snapshot
from sim.scenario import load_scenario
from tests.helpers import module_state_workflows as ms

NAME = ms.__name__
FAN_OUT = f"{Path(__file__).resolve().parents[2] / 'examples' / 'fan_out_fan_in.py'}:scenario"


def _fresh() -> tuple[FreshModules, object]:
    fresh = FreshModules([NAME])
    return fresh, fresh.module(NAME)


@pytest.mark.parametrize("change", [
    lambda m: m.SEEN.append("x"),
    lambda m: m.CACHE.update(x=1),
    lambda m: m.Tally.hits.append("x"),
    lambda m: setattr(m.Tally, "last", "x"),
    lambda m: setattr(m, "SEEN", []),
    lambda m: setattr(m.observed, "calls", 1),
    lambda m: delattr(m, "FRESH"),
])
def test_any_change_to_a_copys_state_is_seen(change: object) -> None:
    fresh, module = _fresh()
    assert fresh.unchanged()
    change(module)  # type: ignore[operator]
    assert not fresh.unchanged()


def test_the_same_object_rebound_is_no_change_but_an_equal_one_is() -> None:
    fresh, module = _fresh()
    module.SEEN = module.SEEN  # type: ignore[attr-defined]
    assert fresh.unchanged()
    module.SEEN = []  # type: ignore[attr-defined]
    assert not fresh.unchanged()  # another list: who holds the old one may still change it


def test_state_the_walk_cannot_see_into_makes_a_copy_never_reused() -> None:
    with pytest.raises(NotComparable):
        Snapshot({"ticks": itertools.count()}, lambda obj: True)
    fresh, module = _fresh()
    module.TICKS = itertools.count()  # type: ignore[attr-defined]
    assert not fresh.unchanged()
    copy_pool.give_back(fresh)
    assert copy_pool.take([NAME]) is not fresh


def test_a_copy_given_back_unchanged_is_taken_again_and_a_changed_one_is_not() -> None:
    fresh, module = _fresh()
    copy_pool.give_back(fresh)
    assert copy_pool.take([NAME]) is fresh
    module.Tally.hits.append("x")  # type: ignore[attr-defined]
    copy_pool.give_back(fresh)
    again = copy_pool.take([NAME])
    assert again is not fresh and again.module(NAME).Tally.hits == []  # type: ignore[attr-defined]


def test_after_a_crash_the_next_incarnation_sees_its_modules_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = ms.tour_scenario()
    pooled = [run_world(scenario, seed=s, faults="crash") for s in range(60)]
    restarted = 0
    for result in pooled:
        first: dict[str, str] = {}
        for entry in result.ledger.entries:
            first.setdefault(entry.process, entry.key)
        assert set(first.values()) == {f"saw {ms.FRESH}"}, (result.seed, first)  # each incarnation's first
        restarted += any(not p.endswith("#1") for p in first)
    assert restarted >= 5, restarted  # crashes happened, and restarted incarnations ran the leaf
    monkeypatch.setattr(copy_pool, "take", FreshModules)  # a fresh copy for every incarnation, as before
    for result in pooled:
        alone = run_world(scenario, seed=result.seed, faults="crash")
        assert (alone.trace_hash, alone.violations) == (result.trace_hash, result.violations), result.seed


def test_unchanged_copies_serve_later_incarnations_and_worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = FreshModules.module

    def module(self: FreshModules, name: str) -> object:
        if name not in self.modules:
            made.append(name)
        return real(self, name)

    monkeypatch.setattr(FreshModules, "module", module)
    scenario = load_scenario(FAN_OUT)
    bodies = 0
    for seed in range(30):
        result = run_world(scenario, seed=seed, faults="crash,drop,reject")
        assert result.ok, result.violations
        bodies += len({(e.process, e.incarnation) for e in result.trace if e.kind == "body"})
    assert len(made) <= 2 < bodies, (len(made), bodies)  # the fan-out's module holds no changing state
