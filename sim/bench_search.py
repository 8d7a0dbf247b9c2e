"""``python -m sim bench search``: how fast crash search finds each bug of ``examples/``, and how small
it makes the failing world, against a plain seed sweep in the same run.

The bugs are every ``examples/*.py`` that defines ``buggy()`` (a ``Scenario``). For each bug and each
of ``runs`` independent searches it reports the worlds run until the first failure, the faults in
the world finally reported (the shrunk one for Hypothesis, the first failing one for the sweep) and
the wall time. The sweep's run ``r`` starts at seed ``r * 1000``; Hypothesis's run ``r`` uses
``@seed(r)``. Medians are printed, and the ratio of Hypothesis's figure to the sweep's.

The search must be as strong as the sweep: a run in which the sweep finds a bug and the search
does not is a miss, printed as ``MISSED: …``, and the command exits with status 1.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
from hypothesis import HealthCheck, Phase, given, seed, settings

from .faults import FaultConfig
from .result import RunResult
from .scenario import Scenario
from .search import World, plan_of, worlds
from .target import load_scenario
from .world import run_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_bugs() -> tuple[str, ...]:
    """``FILE.py:buggy`` for every example that defines ``buggy()``, by file name."""
    return tuple(f"{path.name}:buggy" for path in sorted(EXAMPLES.glob("*.py"))
                 if not path.name.startswith("test_") and "\ndef buggy(" in path.read_text())


PHASES = (Phase.generate, Phase.target, Phase.shrink)


@attrs.frozen
class Found:
    """One search: worlds to the first failure, worlds in all, faults in the reported world, seconds."""

    first: int | None
    worlds: int
    faults: int
    seconds: float


def faults_in(result: RunResult) -> int:
    plan, others = plan_of(result)
    return len(plan.points) + len(others)


def sweep(scenario: Scenario, faults: str, start: int, limit: int) -> Found:
    began = time.perf_counter()
    for n in range(limit):
        result = run_world(scenario, seed=start + n, faults=faults)
        if not result.ok:
            return Found(n + 1, n + 1, faults_in(result), time.perf_counter() - began)
    return Found(None, limit, 0, time.perf_counter() - began)


def hypothesis_search(scenario: Scenario, faults: str, run: int, limit: int) -> Found:
    ran: list[World] = []
    first: list[int] = []

    @seed(run)
    @settings(max_examples=limit, database=None, deadline=None, phases=PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(world=worlds(faults))
    def search(world: World) -> None:
        ran.append(world)
        result = world.run(scenario)
        if not result.ok and not first:
            first.append(len(ran))
        assert result.ok

    began = time.perf_counter()
    try:
        search()
    except AssertionError:
        shrunk = ran[-1].result
        assert shrunk is not None
        return Found(first[0], len(ran), faults_in(shrunk), time.perf_counter() - began)
    return Found(None, len(ran), 0, time.perf_counter() - began)


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def main(*, runs: int = 5, faults: str = "crash", limit: int = 1000, bugs: Sequence[str] | None = None) -> int:
    FaultConfig.parse(faults)  # a bad spec is a usage error before anything runs
    bugs = example_bugs() if bugs is None else bugs
    missed: list[str] = []
    print(f"crash search over {runs} runs per bug, faults {faults!r}, at most {limit} worlds per run; medians")
    print(f"{'bug':<26} {'method':<11} {'found':>6} {'to first':>9} {'worlds':>8} {'faults':>7} {'seconds':>8}")
    for bug in bugs:
        scenario = load_scenario(f"{EXAMPLES / bug.split(':')[0]}:{bug.split(':')[1]}")
        rows = {
            "seed sweep": [sweep(scenario, faults, r * 1000, limit) for r in range(runs)],
            "hypothesis": [hypothesis_search(scenario, faults, r, limit) for r in range(runs)],
        }
        medians: dict[str, tuple[float, float]] = {}
        for method, found in rows.items():
            hits = [f for f in found if f.first is not None]
            to_first = [float(f.first) for f in hits if f.first is not None]
            sizes = [float(f.faults) for f in hits]
            medians[method] = (statistics.median(to_first) if to_first else 0.0,
                               statistics.median(sizes) if sizes else 0.0)
            print(f"{bug:<26} {method:<11} {len(hits):>3}/{runs:<2} {_median(to_first):>9} "
                  f"{_median([f.worlds for f in found]):>8} {_median(sizes):>7} "
                  f"{_median([f.seconds for f in found]):>8}")
        misses = [r for r, (swept, searched) in enumerate(zip(rows["seed sweep"], rows["hypothesis"], strict=True))
                  if swept.first is not None and searched.first is None]
        if misses:
            missed.append(f"MISSED: crash search did not find {bug} in run(s) {', '.join(map(str, misses))} "
                          f"(within {limit} worlds) where the seed sweep found it")
        (sweep_first, sweep_faults), (hyp_first, hyp_faults) = medians["seed sweep"], medians["hypothesis"]
        if sweep_first and hyp_first:
            print(f"{'':<26} ratio hypothesis/sweep: worlds to first failure {hyp_first / sweep_first:.2f}, "
                  f"faults in the reported world {hyp_faults / sweep_faults:.2f}")
    print("to first: worlds run until the first failing one; worlds: all worlds run, shrinking included; "
          "faults: faults in the world reported")
    for line in missed:
        print(line)
    return 1 if missed else 0
