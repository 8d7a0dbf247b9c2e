"""The fault points of a scenario's world: where one fault can strike in the world where nothing goes
wrong, each with the ways it can strike there, as ``at(...)`` plan points.

They are read off the quiet world (every choice the first, shortest, no fault: ``KeyRecorder``) with
the sweep's fault kinds on: each time the world offers a kind a chance to fire (a request a worker
sends, an answer it gets, an await in a body, a leaf's attempt) is a point, named by what it is and
the how-many-th time it came up. A long poll that returns nothing new offers no chance at all, so idle
time holds no points. Partitions and server restarts strike at fault ticks, not at a point of the
protocol: the swarm worlds cover them.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..faults import AIM_HOWS, AT_AWAIT, AimAt, FaultConfig
from ..scenario import Scenario, SimConfig

#: Kinds that strike at fault ticks rather than at points (left to the swarm worlds).
TICK_KINDS = ("partition", "server_restart")


#: One opportunity as a quiet world met it: (kind, where, how many times it came up before, from 0).
Opportunity = tuple[str, str, int]


@attrs.frozen
class Points:
    """The single-fault placements of a scenario's quiet world, in the order the world met them, the
    fault kinds asked for that have no points (they strike at ticks), and where in the world's
    ``sequence`` of opportunities each placement lies (``index``: what a pair's first fault is kept by)."""

    singles: tuple[AimAt, ...]
    unaimed: tuple[str, ...]
    virtual_time: float
    index: dict[tuple[str, str, int], int] = attrs.field(factory=dict)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for point in self.singles:
            counts[point.kind] = counts.get(point.kind, 0) + 1
        return counts


class QuietRecorder:
    """``Decisions`` for the quiet world (every draw 0, no fault drawn; logged as ``PinnedDecisions({})``
    logs them) that keep each opportunity it meets, in the order it met them, with how many times it
    came up before (from 0). A fault an ``at(...)`` point fires draws nothing, so it is not among them."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.sequence: list[Opportunity] = []
        self._seen: dict[tuple[str, str], int] = {}

    def choose(self, kind: str, n: int) -> int:
        if n > 1:
            self.log.append((kind, 0))
        return 0

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate > 0:
            self.log.append((kind, 0))
            n = self._seen.get((kind, where), 0)
            self._seen[(kind, where)] = n + 1
            self.sequence.append((kind, where, n))
        return False


def points_of(scenario: Scenario, faults: FaultConfig, config: SimConfig | None = None) -> Points:
    """Every single-fault placement of ``scenario``'s quiet world for the kinds ``faults`` turns on."""
    from ..runner import run_world

    recorder = QuietRecorder()
    quiet = run_world(scenario, faults=faults, config=config, decisions=recorder)
    singles: list[AimAt] = []
    index: dict[tuple[str, str, int], int] = {}
    for i, (kind, where, seen) in enumerate(recorder.sequence):
        placed = placements(kind, where, seen + 1)
        singles += placed
        index.update({(p.kind, p.where, p.nth): i for p in placed})
    unaimed = tuple(kind for kind in faults.kinds if kind not in AIM_HOWS)
    return Points(tuple(singles), unaimed, quiet.virtual_time, index)


def placements(kind: str, where: str, nth: int) -> list[AimAt]:
    """The ways ``kind`` can strike at the ``nth`` time ``where`` comes up, each an ``at(...)`` point; none
    for a tick kind (partition, server_restart: it strikes at ticks, and swarm worlds cover it)."""
    if kind not in AIM_HOWS:
        return []
    op, _, about = where.partition(" ")
    return [AimAt(kind, how, op, about, nth) for how in _ways(kind, op)]


def second_faults(first: AimAt, at: int, sequence: Sequence[Opportunity]) -> list[AimAt]:
    """The placements of a second fault in the world of ``first``, whose ``sequence`` of opportunities
    (``QuietRecorder``) agrees with the quiet world's up to ``first``, which lay at ``at`` in it: every
    one the world met after that, retries, takeovers and compensations included. ``first`` drew nothing
    of its own, so the same opportunity is one time further on for the injector, which counted it."""
    out: list[AimAt] = []
    for kind, where, seen in sequence[at:]:
        nth = seen + 1 + (kind == first.kind and where == first.where)
        out += placements(kind, where, nth)
    return out


def _ways(kind: str, op: str) -> Sequence[str]:
    """How ``kind`` can strike at an opportunity of ``op``: a crash before, during or after a request
    (at an await, just there; a worker's long poll was applied while it waited, so "during" is
    "before" its answer), a drop of the request or the response (of a long poll's, only the answer),
    a duplicate applied at once or landing late; one way for the rest."""
    if kind == "crash":
        return ("",) if op == AT_AWAIT else ("before", "after") if op == "dispatch" else ("before", "during", "after")
    if kind == "drop":
        return ("response",) if op == "dispatch" else ("request", "response")
    return AIM_HOWS.get(kind, ("",))


__all__ = ["TICK_KINDS", "Opportunity", "Points", "QuietRecorder", "placements", "points_of", "second_faults"]
