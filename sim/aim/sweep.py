"""``AimedSweep``: the worlds of one sweep in the order they run — the fault-free world, one world per
single-fault placement of it (up to a cap), with ``depth=2`` one world per pair of faults (the second
at each point the world of the first met after it), then swarm worlds — and ``Coverage``, what the
sweep covered, said in one line (``points: 64 of 64 single faults, 310 of 2,016 pairs, 100 swarm
worlds``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import attrs

from ..faults import AimAt, FaultConfig, FaultPlan
from ..kernel.decisions import Decisions, SeededDecisions
from ..scenario import Scenario, SimConfig
from ..world import RunResult
from .points import Points, QuietRecorder, points_of, second_faults
from .swarm import swarm_faults

#: How many single-fault worlds a sweep runs at most, unless told otherwise; and pairs, with ``depth=2``.
AIM_CAP = 2000
PAIR_CAP = 5000

FAULT_FREE, SINGLE, PAIR, SWARM, SEEDED = "fault-free", "single", "pair", "swarm", "seeded"


@attrs.frozen
class Planned:
    """One world of a sweep: the fault-free world and the single-fault ones run the quiet schedule (every
    choice the first, the shortest) with the sweep's fault kinds drawing no fault of their own, plus, for
    a single-fault world, its ``point``; a swarm world runs its ``seed`` with the mix it drew, a seeded
    world (a sweep that does not aim) its ``seed`` with the sweep's own mix."""

    phase: str
    faults: FaultConfig
    point: AimAt | None = None
    seed: int | None = None
    second: AimAt | None = None

    @property
    def plan(self) -> FaultPlan:
        return FaultPlan(tuple(p for p in (self.point, self.second) if p is not None))

    def decisions(self) -> Decisions:
        """A seed's draws; for an aimed world, the quiet schedule, noting the opportunities it meets."""
        return SeededDecisions(self.seed) if self.seed is not None else QuietRecorder()

    def __str__(self) -> str:
        if self.phase == SWARM:
            return f"swarm world, seed {self.seed} (faults {self.faults})"
        if self.second is not None:
            return f"two faults: {self.plan}"
        return "the fault-free world" if self.point is None else f"one fault: {self.point}"


@attrs.define
class Coverage:
    """What a sweep covered so far: the single-fault placements it listed and ran, the swarm worlds it
    ran, the kinds only swarm worlds cover, and the aimed points whose world took another path."""

    singles: int = 0
    singles_run: int = 0
    pairs: int | None = None
    pairs_run: int = 0
    pair_cap: int = PAIR_CAP
    swarm: int = 0
    fault_free: bool = False
    unaimed: tuple[str, ...] = ()
    cap: int = AIM_CAP
    unfired: list[str] = attrs.Factory(list)

    @property
    def capped(self) -> bool:
        return self.singles > self.cap

    def line(self) -> str:
        """``points: 64 of 64 single faults, 100 swarm worlds`` (and what only the swarm covers)."""
        parts = [f"{self.singles_run} of {self.singles} single faults"]
        if self.pairs is not None:
            parts.append(f"{self.pairs_run:,} of {self.pairs:,} pairs")
        if self.swarm or not self.singles:
            parts.append(f"{self.swarm} swarm world{'s' if self.swarm != 1 else ''}")
        text = "points: " + ", ".join(parts)
        if self.unaimed:
            text += f" ({', '.join(self.unaimed)}: swarm worlds only)"
        return text

    def notes(self) -> list[str]:
        """What the line leaves out that a user should know: a cap reached, points that did not fire."""
        out = []
        if self.capped:
            out.append(f"the single-fault phase stopped at its cap of {self.cap} worlds ({self.singles - self.cap} "
                       "points not run); raise the cap to cover them")
        if self.pairs is not None and self.pairs > self.pair_cap:
            out.append(f"the pairs stopped at their cap of {self.pair_cap:,} worlds ({self.pairs - self.pair_cap:,} "
                       "not run); raise it to cover them")
        if self.unfired:
            out.append(f"{len(self.unfired)} aimed point(s) did not fire (the world took another path: does the "
                       f"workflow read something outside ctx?): {', '.join(self.unfired[:3])}")
        return out


class AimedSweep:
    """The worlds of one sweep of ``scenario`` under the fault kinds of ``faults``: ``worlds()`` in order,
    ``record()`` each result, ``coverage`` says what was covered. The points are found (by running the
    quiet world once) when first needed."""

    def __init__(self, scenario: Scenario, faults: FaultConfig, config: SimConfig | None = None, *,
                 swarm: int = 0, first_seed: int = 0, cap: int = AIM_CAP, aim: bool = True, depth: int = 1,
                 pair_cap: int = PAIR_CAP) -> None:
        self.scenario = scenario
        self.faults = faults
        self.config = config
        self.swarm = swarm
        self.first_seed = first_seed
        self.cap = cap
        self.aim = aim
        self.depth = depth
        self.pair_cap = pair_cap
        self.coverage = Coverage(cap=cap, pair_cap=pair_cap)
        self._points: Points | None = None
        #: Second faults by first (depth 2): what each single-fault world met after its fault.
        self._seconds: dict[AimAt, list[AimAt]] = {}

    @property
    def points(self) -> Points:
        if self._points is None:
            self._points = points_of(self.scenario, self.faults, self.config) if self.aim else Points((), (), 0.0)
            self.coverage.singles = len(self._points.singles)
            self.coverage.unaimed = self._points.unaimed
        return self._points

    def aimed(self) -> list[Planned]:
        """The fault-free world and the single-fault worlds, up to the cap."""
        if not self.aim:
            return []
        return [Planned(FAULT_FREE, self.faults), *(Planned(SINGLE, self.faults, point)
                                                     for point in self.points.singles[:self.cap])]

    def swarmed(self) -> list[Planned]:
        """The sampled worlds after the aimed ones: swarm worlds, or (a sweep that does not aim) seeds of
        the sweep's own fault mix."""
        seeds = range(self.first_seed, self.first_seed + self.swarm)
        if not self.aim:
            return [Planned(SEEDED, self.faults, seed=seed) for seed in seeds]
        return [Planned(SWARM, swarm_faults(seed, self.faults), seed=seed) for seed in seeds]

    def paired(self) -> list[Planned]:
        """With ``depth=2``, once the single-fault worlds ran: one world per pair, the second fault at each
        point the first one's world met after it (pairs its world never reaches are not worlds), none
        twice, up to the pair cap."""
        if self.depth < 2:
            return []
        seen: set[str] = set()
        pairs: list[Planned] = []
        for first, seconds in self._seconds.items():
            for second in seconds:
                key = f"{first}; {second}"
                if key not in seen:
                    seen.add(key)
                    pairs.append(Planned(PAIR, self.faults, first, second=second))
        self.coverage.pairs = len(pairs)
        return pairs[:self.pair_cap]

    def worlds(self) -> Iterator[Planned]:
        """Every world of the sweep, in order (the pairs are known once the single-fault worlds ran)."""
        yield from self.aimed()
        yield from self.paired()
        yield from self.swarmed()

    def size(self) -> int:
        """How many worlds ``worlds()`` gives before the pairs are known."""
        return len(self.aimed()) + self.swarm

    def run(self, planned: Planned, run: Callable[..., RunResult]) -> RunResult:
        """Run ``planned`` with ``run`` (``run_world`` or one like it: scenario, then seed, faults, plan,
        decisions and config by keyword; a seeded world gets its seed, an aimed one its decisions) and
        record it."""
        decisions = planned.decisions()
        result = run(self.scenario, seed=planned.seed, faults=planned.faults, plan=planned.plan,
                     decisions=None if planned.seed is not None else decisions, config=self.config)
        self.record(planned, result, decisions)
        return result

    def record(self, planned: Planned, result: RunResult, decisions: Decisions | None = None) -> None:
        """Count ``planned``'s world; for a single fault at depth 2, keep where its world can take a second
        (``decisions``: the ``QuietRecorder`` it ran with)."""
        coverage = self.coverage
        if planned.phase == SWARM:
            coverage.swarm += 1
        elif planned.phase == PAIR:
            coverage.pairs_run += 1
        elif planned.point is None:
            coverage.fault_free = True
        else:
            coverage.singles_run += 1
            if result.unfired:
                coverage.unfired.append(str(planned.point))
            elif self.depth >= 2 and isinstance(decisions, QuietRecorder):
                at = self.points.index[(planned.point.kind, planned.point.where, planned.point.nth)]
                self._seconds[planned.point] = second_faults(planned.point, at, decisions.sequence)

    def uncovered(self) -> list[str]:
        """The single-fault points the sweep did not run, each with why."""
        singles: Sequence[AimAt] = self.points.singles
        out = [f"{point}: past the cap of {self.cap} single-fault worlds" for point in singles[self.cap:]]
        out += [f"{point}: its world took another path, and the point never came up" for point in
                self.coverage.unfired]
        out += [f"{kind}: strikes at fault ticks, not at a point; swarm worlds only" for kind in self.points.unaimed]
        return out


__all__ = ["AIM_CAP", "FAULT_FREE", "PAIR", "PAIR_CAP", "SEEDED", "SINGLE", "SWARM", "AimedSweep", "Coverage",
           "Planned"]
