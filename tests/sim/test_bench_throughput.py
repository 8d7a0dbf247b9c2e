"""``python -m sim bench throughput`` (issue 11): it prints worlds per second beside trio's floor for
the same tasks and steps, and what a world did; the figures themselves are read, not asserted."""

from __future__ import annotations

import pytest

from sim.bench.throughput import FAULT_SETS, Shape, StepCounter, floor_world, idle_polls, shape
from sim.runner import run_world
from sim.scenario import load_scenario


def test_the_throughput_benchmark_prints_each_fault_set_beside_the_floor(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["bench", "throughput", "--seeds", "3", "--repeat", "1", "--examples", "5", "--shape-seeds", "2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] and
            line.split()[0] in FAULT_SETS}
    assert set(rows) == set(FAULT_SETS), out
    for cells in rows.values():
        worlds, together, ratio, apart, apart_ratio, tasks, steps, instants, events = map(float, cells)
        assert worlds > 0 and together > 0 and ratio == pytest.approx(together / worlds, rel=0.02)
        assert apart > 0 and apart_ratio == pytest.approx(apart / worlds, rel=0.02)
        assert tasks >= 3 and steps > tasks and 1 <= instants <= steps and events > 0
    assert "examples/s" in out and "side_effect_bug.py:buggy" in out
    names = ("fan-out of 3 ", "batch ", "saga ")
    shapes = [line.rsplit(None, 7) for line in out.splitlines() if line.startswith(names)]
    assert [(row[0].strip(), row[1]) for row in shapes] == [
        (name, faults) for name in ("fan-out of 3", "batch", "saga") for faults in FAULT_SETS], out
    for _, _, worlds, promises, steps, per_promise, requests, idle in shapes:
        assert float(worlds) > 0 and float(promises) >= 4 and float(steps) > float(promises)
        assert float(per_promise) == pytest.approx(float(steps) / float(promises), abs=0.01)
        assert 0 <= float(idle) < float(requests)
    batch = {row[1]: float(row[3]) for row in shapes if row[0].strip() == "batch"}
    assert batch["none"] == 304  # 3 partitions of 20 records, each record 5 promises, and the root


def test_idle_polls_are_gone_from_the_trace_and_the_fault_points() -> None:
    """A worker's dispatch and the client's wait for the root are long polls: a world's trace holds no
    dispatch that found nothing and no read of a root still pending, and each request sent is traced."""
    for seed in range(5):
        result = run_world(load_scenario("examples/fan_out_fan_in.py:scenario"), seed=seed,
                           faults="crash,drop,reject")
        requests, idle = idle_polls(result)
        applied = [e for e in result.trace if e.kind == "apply"]
        assert requests == sum(1 for e in result.trace if e.kind == "send") > 0
        assert idle == 0
        assert not [e for e in applied if e.detail == "dispatch -> 0 records"]
        assert not [e for e in applied if e.process == "client" and e.detail.endswith("-> pending")]
        assert any(e.detail.startswith("dispatch -> ") for e in applied)  # the polls that had news are there


def test_the_floor_takes_as_many_task_steps_as_the_world_it_stands_for() -> None:
    scenario = load_scenario("examples/fan_out_fan_in.py:scenario")
    work = shape(scenario, "crash,drop,reject", range(2))
    assert isinstance(work, Shape) and work.steps > 0
    counter = StepCounter()
    run_world(scenario, seed=0, instruments=[counter])
    floor_counter = StepCounter()
    floor_world(counter.tasks, counter.steps, instruments=[floor_counter])
    assert floor_counter.tasks == counter.tasks
    assert abs(floor_counter.steps - counter.steps) <= 2, (floor_counter.steps, counter.steps)
    assert len(floor_counter.instants) < len(counter.instants) / 2  # together: a few instants
    apart = StepCounter()
    floor_world(counter.tasks, counter.steps, len(counter.instants), instruments=[apart])
    assert apart.tasks == counter.tasks and abs(apart.steps - counter.steps) <= 2, (apart.steps, counter.steps)
    assert abs(len(apart.instants) - len(counter.instants)) <= 2, (len(apart.instants), len(counter.instants))
