"""The aimed sweeps of one durable test (``sim.aim``): which world each ``durable_sim.run`` call of the
test's body runs in, world after world, and what they covered.

World 1 is the fault-free world; each call position of the body (its first ``run``, its second, ...) gets
its own ``AimedSweep``, built then from the scenario that call runs. Worlds 2 onwards place one fault at
each single-fault point of that sweep (the quiet schedule plus one ``at(...)`` point), then the test's
``seeds`` run as swarm worlds (each seed draws its own fault mix). A call whose sweep has run out of
points, or whose scenario is not its sweep's (another workflow or arguments), runs a swarm world.
The aimed phase does not depend on the run seed, so a bug one fault at one point shows is found in every
run.
"""

from __future__ import annotations

import attrs

from sim import FaultConfig, RunResult, Scenario, SimConfig
from sim.aim import AimedSweep, Planned, swarm_faults
from sim.aim.sweep import FAULT_FREE, SINGLE, SWARM

from ..core.codec import encode_call
from .harness import WorldSettings

__all__ = ["FAULT_FREE", "SINGLE", "SWARM", "Position", "TestSweeps", "pin_text"]


@attrs.define
class Position:
    """One call position of a test's body: what its scenario is (to tell a different call), its sweep, and
    that sweep's aimed worlds once read."""

    key: str
    sweep: AimedSweep
    _aimed: list[Planned] | None = None

    def aimed(self) -> list[Planned]:
        if self._aimed is None:
            self._aimed = self.sweep.aimed()
        return self._aimed


def scenario_key(scenario: Scenario, settings: WorldSettings) -> str:
    """What makes two calls the same sweep: the workflow, its arguments, the root id, the functions
    registered, the workers, the actors, the upgrade and the fault kinds."""
    call = encode_call(scenario.workflow.name, scenario.args, scenario.kwargs)
    functions = ",".join(sorted(fn.name for fn in scenario.functions))
    return "|".join([call, scenario.root_id, functions, repr(sorted(scenario.workers.items())), settings.faults,
                     str(settings.quiesce_after), *(a.key() for a in scenario.actors),
                     *((scenario.upgrade.key(),) if scenario.upgrade is not None else ())])


def pin_text(planned: Planned) -> str:
    """What ``@pytest.mark.durable(aim=...)`` takes to run ``planned`` again: its point, or ``fault-free``."""
    return str(planned.point) if planned.point is not None else "fault-free"


class TestSweeps:
    """Where each ``run`` of one test goes, world after world (``harness.Aimer``): ``start`` each world,
    ``place`` and ``record`` each call; ``aimed_worlds`` says, after world 1, how long the aimed phase is."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.positions: list[Position] = []
        self.index = 0
        self._calls = 0
        self._aimed: int | None = None
        self._pending: tuple[AimedSweep | None, Planned] | None = None
        self._placed: dict[int, Planned] = {}  # by id() of each result, which the test's DurableSim keeps alive
        self.strays = 0  # calls no sweep of theirs placed (another scenario than their position's, or a new position)

    def start(self, index: int) -> None:
        """World ``index`` (from 0) begins: its calls count from the first position again."""
        self.index = index
        self._calls = 0

    def aimed_worlds(self) -> int:
        """How many worlds the aimed phase has: the fault-free one and the most single-fault worlds of any
        position (the points are read off the quiet world the first time this is asked); 0 if no call aimed."""
        if self._aimed is None:
            self._aimed = max((len(p.aimed()) for p in self.positions), default=0)
        return self._aimed

    @property
    def known(self) -> bool:
        """Whether the aimed phase's length is known (world 1 has run and its points were read)."""
        return self._aimed is not None

    def place(self, scenario: Scenario, settings: WorldSettings) -> None:
        """Make ``settings`` this call's world: in world 1 the fault-free one (its position's sweep made now);
        then its sweep's next single-fault world, or a swarm world of the world's seed."""
        position = self._calls
        self._calls += 1
        key = scenario_key(scenario, settings)
        if self.index == 0 and position == len(self.positions):
            faults = FaultConfig.parse(settings.faults, quiesce_after=settings.quiesce_after)
            config = settings.config or SimConfig(budget=settings.budget)
            self.positions.append(Position(key, AimedSweep(scenario, faults, config, cap=self.cap)))
        mine = self.positions[position] if position < len(self.positions) else None
        if mine is not None and mine.key != key:
            mine = None  # another workflow or other arguments than this position's sweep: a swarm world
        sweep = mine.sweep if mine is not None else None
        if mine is not None and self.index == 0:
            planned = Planned(FAULT_FREE, mine.sweep.faults)
        elif mine is not None and self.index < len(mine.aimed()):
            planned = mine.aimed()[self.index]
        else:
            faults = FaultConfig.parse(settings.faults, quiesce_after=settings.quiesce_after)
            planned = Planned(SWARM, swarm_faults(settings.seed, faults), seed=settings.seed)
        self._pending = (sweep, planned)
        if planned.phase == SWARM:
            settings.faults = str(planned.faults)
        else:
            settings.plan, settings.quiet = str(planned.plan), True

    def record(self, result: RunResult) -> None:
        if self._pending is None:
            return
        sweep, planned = self._pending
        self._pending = None
        if sweep is not None:
            sweep.record(planned, result)
        else:
            self.strays += 1
        self._placed[id(result)] = planned

    def planned_of(self, result: RunResult) -> Planned | None:
        """The sweep's world ``result`` ran in, if a sweep placed it."""
        return self._placed.get(id(result))

    def name_of(self, result: RunResult) -> str:
        planned = self.planned_of(result)
        return str(planned) if planned is not None else ""

    def coverage(self) -> str:
        """``points: 61 of 61 single faults, 20 swarm worlds`` (one per call position, if several)."""
        if not self.known:
            return "the fault-free world (its points not read yet)"
        lines = [p.sweep.coverage.line() for p in self.positions]
        text = lines[0] if len(lines) == 1 else "; ".join(f"call {n}: {line}" for n, line in enumerate(lines, 1))
        if self.strays:
            whose = "its" if len(lines) == 1 else "their"
            text += (f"; {self.strays} call{'s' if self.strays != 1 else ''} unlike {whose} sweep's (another workflow "
                     "or arguments) ran as swarm worlds")
        return text

    def capped(self) -> list[int]:
        """The number of points left out by each position whose sweep reached the cap."""
        return [p.sweep.coverage.singles - self.cap for p in self.positions if self.known and p.sweep.coverage.capped]

    def unfired(self) -> list[str]:
        """Aimed points whose world took another path, so the point never came up."""
        return [point for p in self.positions for point in p.sweep.coverage.unfired]
