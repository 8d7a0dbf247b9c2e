"""``python -m sim bench throughput``: worlds per second, beside trio's own floor for the same work.

A simulator's bug-finding power per CPU second is its throughput. For the seed's fan-out of three
(``examples/fan_out_fan_in.py:scenario``) under no faults, ``crash,drop,reject`` and ``all`` it prints
worlds per second, trio task steps and trace events per world, and two floors: empty trio runs under
trio's own MockClock whose tasks do nothing but sleep, with as many tasks and task steps as the world
had, timed in the same run. In the first (the issue's yardstick) the sleepers wake together, a dozen
instants in all; in the second they wake at as many distinct instants as the world's tasks ran at, and
trio pays for each instant (a jump of the clock, a pass of its run loop). The ratio world/floor says
how much a world costs beyond trio's own scheduling of its steps. Then the cost of each promise in
shapes teams run (``shapes``: the fan-out, a batch of 304 promises, a saga with retries): worlds per
second, task steps per promise, requests per world and how many of them were idle polls in the trace (a
worker's dispatch that found nothing, the client's read of a root still pending: none since waiting is a
long poll, and the column shows it stays so). Then Hypothesis crash search:
examples per second on each bug of ``examples/``.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Sequence

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, Phase, given, seed, settings

from ..runner import run_world
from ..scenario import Scenario, load_scenario
from ..search import DrawnWorld, worlds
from ..world import RunResult
from .crash_search import EXAMPLES, example_bugs
from .shapes import batch_scenario, saga_scenario

FAULT_SETS = ("none", "crash,drop,reject", "all")


class StepCounter(trio.abc.Instrument):
    """Counts the task steps, the tasks and the distinct instants tasks stepped at in one trio run."""

    def __init__(self) -> None:
        self.steps = 0
        self.tasks = 0
        self.instants: set[float] = set()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1
        self.instants.add(trio.current_time())

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.tasks += 1


@attrs.frozen
class Shape:
    """What one world did, on average over the sweep: trio tasks, task steps, distinct instants its
    tasks stepped at, and trace events."""

    tasks: float
    steps: float
    instants: float
    events: float


def shape(scenario: Scenario, faults: str, seeds: range) -> Shape:
    """Count the work of each world (an instrument in the run: counted apart from the timed sweep)."""
    tasks = steps = instants = events = 0
    for s in seeds:
        counter = StepCounter()
        result = run_world(scenario, seed=s, faults=faults, instruments=[counter])
        tasks += counter.tasks
        steps += counter.steps
        instants += len(counter.instants)
        events += result.steps
    n = len(seeds)
    return Shape(tasks / n, steps / n, instants / n, events / n)


def sweep_seconds(scenario: Scenario, faults: str, seeds: range) -> float:
    """Wall seconds of one sweep over ``seeds``; a failing world stops the benchmark (it measures a
    correct workflow)."""
    start = time.perf_counter()
    for s in seeds:
        result = run_world(scenario, seed=s, faults=faults)
        if not result.ok:
            raise SystemExit(f"bench throughput: world {s} of {faults!r} failed: {result.violations[0]}")
    return time.perf_counter() - start


def floor_world(tasks: int, steps: int, instants: int = 0, instruments: Sequence[trio.abc.Instrument] = ()) -> None:
    """One trio run under a MockClock with ``tasks`` tasks (trio's own included) that between them take
    ``steps`` steps, each a short sleep the clock jumps over, as a world's tasks wait on virtual time.
    With ``instants`` the sleeps end at that many distinct instants, dealt out in turn (a sleeper whose
    next instant is its current one takes a zero sleep, still a step); without, the sleepers wake
    together."""
    own_tasks, own_steps = _empty_run()
    sleepers = max(tasks - own_tasks, 0)
    # a sleeper takes a step to start and one per sleep; the empty run's own steps come on top
    sleeps = max(steps - own_steps - sleepers, 0)
    wakes: list[list[float]] = [[] for _ in range(max(sleepers, 1))]
    for n in range(sleeps):
        at = (n * instants // sleeps + 1) if instants else (n // max(sleepers, 1) + 1)
        wakes[n % len(wakes)].append(at * 0.001)

    async def sleeper(times: list[float]) -> None:
        for at in times:
            await trio.sleep_until(at)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for times in wakes[:sleepers]:
                nursery.start_soon(sleeper, times)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=list(instruments))


@functools.cache
def _empty_run() -> tuple[int, int]:
    """Tasks and steps of a trio run whose main task only opens an empty nursery: trio's own."""
    counter = StepCounter()

    async def main() -> None:
        async with trio.open_nursery():
            pass

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[counter])
    return counter.tasks, counter.steps


def floor_seconds(shape: Shape, worlds: int, *, same_instants: bool = False) -> float:
    instants = round(shape.instants) if same_instants else 0
    start = time.perf_counter()
    for _ in range(worlds):
        floor_world(round(shape.tasks), round(shape.steps), instants)
    return time.perf_counter() - start


@attrs.frozen
class Cost:
    """What a world of one shape cost, on average over a sweep: worlds per second, promises, task
    steps, requests sent (every attempt) and the idle ones among them."""

    worlds_per_second: float
    promises: float
    steps: float
    requests: float
    idle: float

    @property
    def steps_per_promise(self) -> float:
        return self.steps / self.promises


def idle_polls(result: RunResult) -> tuple[int, int]:
    """Requests a world sent, and how many of them were idle polls in its trace: a dispatch that found no
    task, or the client's read of a root still pending (long polls leave none: they answer with news)."""
    requests = sum(1 for event in result.trace if event.kind == "send")
    idle = sum(1 for event in result.trace if event.kind == "apply" and (
        event.detail == "dispatch -> 0 records" or (event.process == "client" and event.detail == "get -> pending")))
    return requests, idle


def cost(scenario: Scenario, faults: str, seeds: range) -> Cost:
    """Time a sweep of ``scenario`` (failing worlds stop the benchmark), then count each world's work."""
    seconds = sweep_seconds(scenario, faults, seeds)
    promises = steps = requests = idle = 0
    for s in seeds:
        counter = StepCounter()
        result = run_world(scenario, seed=s, faults=faults, instruments=[counter])
        sent, polls = idle_polls(result)
        promises, steps, requests, idle = promises + len(result.promises), steps + counter.steps, \
            requests + sent, idle + polls
    n = len(seeds)
    return Cost(n / seconds, promises / n, steps / n, requests / n, idle / n)


def print_costs(seeds: int) -> None:
    """The shapes table: per shape and fault set, what a world and each of its promises cost."""
    shapes = (("fan-out of 3", load_scenario(f"{EXAMPLES / 'fan_out_fan_in.py'}:scenario")),
              ("batch", batch_scenario()), ("saga", saga_scenario()))
    print(f"shapes ({seeds} seeds each): what a world and each of its promises cost")
    print(f"{'shape':<13} {'faults':<18} {'worlds/s':>9} {'promises':>8} {'steps':>8} {'steps/promise':>13} "
          f"{'requests':>8} {'idle polls':>10}")
    for name, scenario in shapes:
        for faults in FAULT_SETS:
            c = cost(scenario, faults, range(seeds))
            print(f"{name:<13} {faults:<18} {c.worlds_per_second:>9.1f} {c.promises:>8.1f} {c.steps:>8.1f} "
                  f"{c.steps_per_promise:>13.2f} {c.requests:>8.1f} {c.idle:>10.1f}")
    print("batch: 3 partitions, each 20 record workflows 4 at a time (fetch, a drawn sleep, store), every workflow "
          "a task of its own; saga: flight, hotel, charge with retries, compensated when a step's retries run out")


def search_rate(scenario: Scenario, examples: int) -> tuple[float, int]:
    """Examples per second of Hypothesis's crash search (generation only, failures included), and
    how many examples ran."""
    ran: list[int] = []

    @seed(0)
    @settings(max_examples=examples, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(world=worlds("crash"))
    def search(world: DrawnWorld) -> None:
        ran.append(1)
        world.run(scenario)

    start = time.perf_counter()
    search()
    return len(ran) / (time.perf_counter() - start), len(ran)


def main(*, seeds: int = 200, repeat: int = 3, examples: int = 100, bugs: Sequence[str] | None = None,
         shape_seeds: int = 20) -> int:
    scenario = load_scenario(f"{EXAMPLES / 'fan_out_fan_in.py'}:scenario")
    window = range(seeds)
    print(f"throughput: the fan-out of 3 (examples/fan_out_fan_in.py:scenario), {seeds} seeds, best of {repeat}")
    print(f"{'':<18} {'':>9} {'floor, together':>16} {'floor, instants':>16}")
    print(f"{'faults':<18} {'worlds/s':>9} {'floor/s':>9} {'ratio':>6} {'floor/s':>9} {'ratio':>6} "
          f"{'tasks':>6} {'steps':>7} {'instants':>8} {'events':>7}")
    for faults in FAULT_SETS:
        work = shape(scenario, faults, window)
        world = min(sweep_seconds(scenario, faults, window) for _ in range(repeat))
        together = min(floor_seconds(work, seeds) for _ in range(repeat))
        apart = min(floor_seconds(work, seeds, same_instants=True) for _ in range(repeat))
        print(f"{faults:<18} {seeds / world:>9.1f} {seeds / together:>9.1f} {world / together:>6.2f} "
              f"{seeds / apart:>9.1f} {world / apart:>6.2f} {work.tasks:>6.1f} {work.steps:>7.1f} "
              f"{work.instants:>8.1f} {work.events:>7.1f}")
    print("floor: an empty trio run (trio's MockClock) with the world's tasks and task steps, each step a sleep; "
          "together: the sleepers wake at the same instants; instants: at as many distinct instants as the "
          "world's tasks ran at. ratio: a world's wall time over the floor's (1.0 = only trio's own cost)")
    print_costs(shape_seeds)
    print(f"crash search (Hypothesis, faults 'crash', {examples} examples, generation only):")
    rates = []
    for bug in example_bugs() if bugs is None else bugs:
        file, name = bug.split(":")
        rate, ran = search_rate(load_scenario(f"{EXAMPLES / file}:{name}"), examples)
        rates.append(rate)
        print(f"  {bug:<26} {rate:>7.1f} examples/s ({ran} examples)")
    if rates:
        print(f"  {'median':<26} {statistics.median(rates):>7.1f} examples/s")
    return 0
