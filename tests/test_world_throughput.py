"""A small world's cost (issue 11, items 2 and 3): work a world does that earns nothing is not done.

Fresh module copies are made only for process incarnations that run a body, and attrs' generated
methods are compiled once for all copies, while each copy still gets classes and functions of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import isolation as isolation_module
from sim import run_world
from sim.isolation import FreshModules, isolated_modules
from sim.ledger import _process
from sim.target import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FAN_OUT = f"{ROOT / 'examples' / 'fan_out_fan_in.py'}:scenario"


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The process incarnation (``w1#2``; ``""`` outside a process) of every fresh module copy made."""
    made: list[str] = []
    real = FreshModules.module

    def module(self: FreshModules, name: str) -> object:
        if name not in self.modules:
            made.append(_process.get())
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
        assert sorted(in_world) == sorted(bodies), (seed, in_world, bodies)  # one copy each, and no other
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
