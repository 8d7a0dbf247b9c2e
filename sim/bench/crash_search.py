"""``python -m sim bench search``: how fast crash search finds each bug of ``examples/``, and how small
it makes the failing world, against the aimed sweep (``sim.aim``) and a plain seed sweep in the same run.

The bugs are every ``examples/*.py`` that defines ``buggy()`` (a ``Scenario``). For each bug and each
of ``runs`` independent searches it reports the worlds run until the first failure, the faults in
the world finally reported (the shrunk one for Hypothesis, the first failing one for the sweep) and
the wall time, and for the search the CPU time it spent shrinking (from the first failure until
Hypothesis reported, which must stay under ``SHRINK_LIMIT`` seconds) and the worlds that took. ``held_out=True``
adds the bugs of ``sim.bench.heldout``, of other shapes than the examples'. The sweep's run ``r``
starts at seed ``r * 1000``; Hypothesis's run ``r`` uses ``@seed(r)``; the aimed sweep's run ``r`` takes
its swarm worlds from seed ``r * 1000`` (its fault-free and single-fault worlds are the same in every
run: a bug one fault shows is found in each at the same world). Medians are printed, and the ratio of
Hypothesis's figure to the sweep's.

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

from ..aim import AimedSweep
from ..faults import FaultConfig
from ..runner import run_world
from ..scenario import Scenario, load_scenario
from ..search import DrawnWorld, plan_of, worlds
from ..world import RunResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Seconds a search may spend shrinking one failure (from the first failure to the report).
SHRINK_LIMIT = 20.0
#: How a held-out bug is named on the command line and in the table.
HELD_OUT_PREFIX = "held-out:"


def example_bugs() -> tuple[str, ...]:
    """``FILE.py:buggy`` for every example that defines ``buggy()``, by file name."""
    return tuple(f"{path.name}:buggy" for path in sorted(EXAMPLES.glob("*.py"))
                 if not path.name.startswith("test_") and "\ndef buggy(" in path.read_text())


PHASES = (Phase.generate, Phase.target, Phase.shrink)


@attrs.frozen
class Found:
    """One search: worlds to the first failure, worlds in all, faults in the reported world, seconds,
    and the CPU seconds and worlds spent after the first failure (shrinking, then the report's replay:
    CPU time, so that other work on the machine does not count)."""

    first: int | None
    worlds: int
    faults: int
    seconds: float
    shrink_seconds: float = 0.0
    shrink_worlds: int = 0


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


def aimed_sweep(scenario: Scenario, faults: str, start: int, limit: int) -> Found:
    """The aimed sweep (``sim.aim``): the fault-free world, one world per single fault, then swarm worlds
    from seed ``start``, until the first failure or ``limit`` worlds (the quiet world that lists the
    points is not counted: it is the fault-free world run once more)."""
    began = time.perf_counter()
    aimed = AimedSweep(scenario, FaultConfig.parse(faults), swarm=limit, first_seed=start)
    for n, planned in enumerate(aimed.worlds()):
        if n >= limit:
            break
        result = aimed.run(planned, run_world)
        if not result.ok:
            return Found(n + 1, n + 1, faults_in(result), time.perf_counter() - began)
    return Found(None, limit, 0, time.perf_counter() - began)


def hypothesis_search(scenario: Scenario, faults: str, run: int, limit: int) -> Found:
    ran: list[DrawnWorld] = []
    first: list[int] = []
    first_at: list[float] = []

    @seed(run)
    @settings(max_examples=limit, database=None, deadline=None, phases=PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(world=worlds(faults))
    def search(world: DrawnWorld) -> None:
        ran.append(world)
        result = world.run(scenario)
        if not result.ok and not first:
            first.append(len(ran))
            first_at.append(time.process_time())
        assert result.ok

    began = time.perf_counter()
    try:
        search()
    except AssertionError:
        ended, cpu = time.perf_counter(), time.process_time()
        shrunk = ran[-1].result
        assert shrunk is not None
        return Found(first[0], len(ran), faults_in(shrunk), ended - began, cpu - first_at[0], len(ran) - first[0])
    return Found(None, len(ran), 0, time.perf_counter() - began)


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def held_out_bugs() -> tuple[str, ...]:
    """``held-out:NAME`` for every bug of ``sim.bench.heldout``."""
    from .heldout import HELD_OUT

    return tuple(f"{HELD_OUT_PREFIX}{name}" for name in HELD_OUT)


def bug_scenario(bug: str) -> Scenario:
    """The scenario a bug's name stands for: ``FILE.py:buggy`` in ``examples/``, or ``held-out:NAME``."""
    if bug.startswith(HELD_OUT_PREFIX):
        from .heldout import HELD_OUT

        return HELD_OUT[bug.removeprefix(HELD_OUT_PREFIX)]()
    return load_scenario(f"{EXAMPLES / bug.split(':')[0]}:{bug.split(':')[1]}")


def main(*, runs: int = 5, faults: str = "crash", limit: int = 1000, bugs: Sequence[str] | None = None,
         held_out: bool = False) -> int:
    FaultConfig.parse(faults)  # a bad spec is a usage error before anything runs
    bugs = (example_bugs() + (held_out_bugs() if held_out else ())) if bugs is None else bugs
    missed: list[str] = []
    slow: list[str] = []
    print(f"crash search over {runs} runs per bug, faults {faults!r}, at most {limit} worlds per run; medians")
    print(f"{'bug':<26} {'method':<11} {'found':>6} {'to first':>9} {'worlds':>8} {'faults':>7} {'seconds':>8} "
          f"{'shrink s':>9} {'max':>6} {'shrink worlds':>14}")
    for bug in bugs:
        scenario = bug_scenario(bug)
        rows = {
            "aimed": [aimed_sweep(scenario, faults, r * 1000, limit) for r in range(runs)],
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
            shrinks = [f.shrink_seconds for f in hits] if method == "hypothesis" else []
            shrink = (f" {_median(shrinks):>9} {max(shrinks):>6.1f} "
                      f"{_median([float(f.shrink_worlds) for f in hits]):>14}") if shrinks else ""
            print(f"{bug:<26} {method:<11} {len(hits):>3}/{runs:<2} {_median(to_first):>9} "
                  f"{_median([f.worlds for f in found]):>8} {_median(sizes):>7} "
                  f"{_median([f.seconds for f in found]):>8}{shrink}")
            slow += [f"SLOW SHRINK: {bug} run {r} shrank for {f.shrink_seconds:.1f} CPU s (over {SHRINK_LIMIT:g} s)"
                     for r, f in enumerate(found) if method == "hypothesis" and f.shrink_seconds > SHRINK_LIMIT]
        misses = [r for r, (swept, searched) in enumerate(zip(rows["seed sweep"], rows["hypothesis"], strict=True))
                  if swept.first is not None and searched.first is None]
        if misses:
            missed.append(f"MISSED: crash search did not find {bug} in run(s) {', '.join(map(str, misses))} "
                          f"(within {limit} worlds) where the seed sweep found it")
        (sweep_first, sweep_faults), (hyp_first, hyp_faults) = medians["seed sweep"], medians["hypothesis"]
        if sweep_first and hyp_first:
            print(f"{'':<26} ratio hypothesis/sweep: worlds to first failure {hyp_first / sweep_first:.2f}, "
                  f"faults in the reported world {hyp_faults / sweep_faults:.2f}")
        aimed_first = medians["aimed"][0]
        if aimed_first and sweep_first:
            print(f"{'':<26} ratio aimed/sweep: worlds to first failure {aimed_first / sweep_first:.2f}")
    print("aimed: the fault-free world, one world per single fault, then swarm worlds (sim.aim); "
          "to first: worlds run until the first failing one; worlds: all worlds run, shrinking included; "
          "faults: faults in the world reported; shrink s (CPU seconds: median, max) and shrink worlds: after the "
          "first failure")
    for line in missed + slow:
        print(line)
    return 1 if missed else 0
