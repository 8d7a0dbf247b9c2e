"""A fan-out of 10 000 children completes in one world. (How its cost grows with N is measured by
``python -m sim bench``, not asserted here.)"""

from __future__ import annotations

from sim import run_world
from sim.bench import bench_fan_out, bench_leaf
from sim.scenario import Scenario


def test_ten_thousand_children_in_one_world() -> None:
    n = 10_000
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                        workers={"default": 1}, root_id="big")
    result = run_world(scenario, seed=1)
    assert result.ok, result.violations
    assert result.value == n * (n - 1) // 2
    assert len(result.promises) == n + 1
    assert sum(1 for e in result.trace.of_kind("body") if e.id.startswith("big.")) == n
