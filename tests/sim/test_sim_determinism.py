"""Same seed, same trace hash, in separate processes with different PYTHONHASHSEED; different seeds,
different worlds."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sim import PinnedDecisions, RecordedDecisions, RunResult, run_world
from sim.reports.render import dumps, load_trace
from tests.helpers.sim_scenarios import fan_out_scenario

ROOT = Path(__file__).resolve().parents[2]
FAULTS = "crash,drop,duplicate,delay,partition,server_restart,reject,store_error"

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from sim import run_world
from tests.helpers.sim_scenarios import fan_out_scenario
for seed in (3, 11, 42):
    r = run_world(fan_out_scenario(6), seed=seed, faults=sys.argv[2])
    print(seed, r.trace_hash, r.steps, sorted(r.fault_counts.items()))
"""


def _hashes_in_subprocess(hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), FAULTS], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    return out.stdout.splitlines()


def test_same_seed_same_trace_hash_across_processes_and_hash_seeds() -> None:
    first = _hashes_in_subprocess("0")
    second = _hashes_in_subprocess("4242")
    assert len(first) == 3
    assert first == second
    # ... and in this process too, whatever its hash seed.
    here = run_world(fan_out_scenario(6), seed=3, faults=FAULTS)
    assert first[0].split()[1] == here.trace_hash


def test_different_seeds_give_different_worlds() -> None:
    hashes = {run_world(fan_out_scenario(6), seed=s, faults=FAULTS).trace_hash for s in range(20)}
    assert len(hashes) == 20


def test_a_recorded_world_replays_draw_for_draw() -> None:
    original = run_world(fan_out_scenario(6), seed=9, faults=FAULTS)
    replayed = run_world(fan_out_scenario(6), decisions=RecordedDecisions(list(original.decisions)), faults=FAULTS)
    assert replayed.trace_hash == original.trace_hash
    assert replayed.seed is None


def _unraisable_during(run: Callable[[], RunResult]) -> tuple[RunResult, list[str]]:
    """Run a world, collect garbage, and return what Python could not raise meanwhile (a world whose
    trio run was abandoned leaves coroutines behind that complain when collected)."""
    seen: list[str] = []
    saved = sys.unraisablehook
    sys.unraisablehook = lambda info: seen.append(f"{info.exc_type.__name__}: {info.exc_value}")
    try:
        result = run()
        gc.collect()
    finally:
        sys.unraisablehook = saved
    return result, seen


def test_a_replay_that_leaves_its_recording_is_a_determinism_violation_and_the_world_finishes() -> None:
    """Most draws happen inside trio's scheduler; a replay that runs out of its recording there used
    to abort the whole trio run (TrioInternalError, tasks left behind)."""
    original = run_world(fan_out_scenario(6), seed=9, faults=FAULTS)
    short = RecordedDecisions(list(original.decisions)[:10])
    replayed, unraisable = _unraisable_during(lambda: run_world(fan_out_scenario(6), decisions=short, faults=FAULTS))
    assert unraisable == []
    assert [v.check for v in replayed.violations] == ["determinism"]
    assert "(draw 10 (" in str(replayed.violations[0]) and "past the end of the recording (10 draws)" in str(
        replayed.violations[0])
    assert replayed.settled  # the rest of the world drew 0s: no more faults, first in order
    assert short.log[10:] and {v for _, v in short.log[10:]} == {0}


def test_a_pinned_choice_out_of_range_is_a_determinism_violation_and_the_world_finishes() -> None:
    original = run_world(fan_out_scenario(6), seed=9)
    at = next(i for i, (kind, _) in enumerate(original.decisions) if kind == "schedule")
    pinned = PinnedDecisions({at: 999})
    replayed, unraisable = _unraisable_during(lambda: run_world(fan_out_scenario(6), decisions=pinned))
    assert unraisable == []
    assert [v.check for v in replayed.violations] == ["determinism"]
    assert f"draw {at} (schedule): pinned 999 is not in [0, " in str(replayed.violations[0])
    assert replayed.settled


def test_json_form_loads_back_with_the_same_hash() -> None:
    result = run_world(fan_out_scenario(4), seed=5, faults="crash,drop")
    data = json.loads(dumps(result))
    trace = load_trace(data)
    assert trace.hash() == result.trace_hash
    assert [e.kind for e in trace] == [e.kind for e in result.trace]
    assert data["seed"] == 5 and data["faults"] == "crash=0.03,drop=0.03"
