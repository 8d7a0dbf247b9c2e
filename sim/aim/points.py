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


@attrs.frozen
class Points:
    """The single-fault placements of a scenario's quiet world, in the order the world met them, and
    the fault kinds asked for that have no points (they strike at ticks)."""

    singles: tuple[AimAt, ...]
    unaimed: tuple[str, ...]
    virtual_time: float

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for point in self.singles:
            counts[point.kind] = counts.get(point.kind, 0) + 1
        return counts


class QuietRecorder:
    """``Decisions`` for the quiet world (every draw 0, no fault) that keep each opportunity it meets, in
    the order it met them, with how many times it came up before (from 0)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.sequence: list[tuple[str, str, int]] = []
        self._seen: dict[tuple[str, str], int] = {}

    def choose(self, kind: str, n: int) -> int:
        return 0

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate > 0:
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
    for kind, where, seen in recorder.sequence:
        if kind not in AIM_HOWS:  # a tick kind (partition, server_restart): no point to aim at, swarm worlds only
            continue
        op, _, about = where.partition(" ")
        singles += [AimAt(kind, how, op, about, seen + 1) for how in _ways(kind, op)]
    unaimed = tuple(kind for kind in faults.kinds if kind not in AIM_HOWS)
    return Points(tuple(singles), unaimed, quiet.virtual_time)


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


__all__ = ["TICK_KINDS", "Points", "QuietRecorder", "points_of"]
