"""Where a drawn world's faults fall: for each fault kind, a list of planned faults drawn from
Hypothesis, each aimed at a named opportunity (or a point of the quiet world's timeline) and
carrying its details, so deleting one fault leaves the others where they were."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import hypothesis.strategies as st

from ..faults import FaultConfig
from .details import DETAIL_RANGE
from .draws import integers

#: Which time an opportunity (say ``release job``) a fault aimed by name strikes: draws below
#: ``FIRST_TIME`` all mean the first time, then the second, the third, the fourth.
FIRST_TIME = 3
OCCURRENCES = 4

#: At least this share of faults strikes a point of the quiet world's timeline (the rest: by name).
TIMELINE_SHARE = 0.75

#: How finely a fault aimed by name divides the quiet world's run (``span``) for its "not before" time.
AFTER_STEPS = 24

#: A planned fault: (opportunity, occurrence, not before this virtual time) -> detail.
FaultKey = tuple[str, int, float]
#: The n-th time (from 0) an opportunity came up in the quiet world.
Point = tuple[str, int]


def fault_schedules(faults: FaultConfig, keys: Mapping[str, Sequence[str]], *,
                    timeline: Mapping[str, Sequence[Point]] | None = None,
                    span: float | None = None) -> st.SearchStrategy[dict[str, dict[FaultKey, int]]]:
    """For each fault kind, where its faults fall: ``{(opportunity, occurrence, after): detail}``.

    An opportunity is named by what it is (``"create job.1"``, ``"heartbeat job"``, ``"await job.0"``,
    ``"tick 4"``), so a fault stays where it is when Hypothesis deletes another one or straightens
    the schedule. Three faults in four (or more) strike a point of ``timeline[kind]``, every opportunity the
    quiet world met in the order it met them (``("heartbeat job", 11)``: the twelfth heartbeat), so
    faults fall over a world's run as a sweep's do, late in a long wait as often as at its start.
    The rest are aimed by name at any of ``keys[kind]`` (``opportunity_keys``: also those only a
    faulty world reaches, a release, a fulfill), at its ``occurrence``-th time at or after ``after``
    (one of ``AFTER_STEPS`` steps up to ``span``, how long the quiet world ran; half the draws mean
    0). Shrinking deletes faults (up to the kind's bound), moves to the timeline and to an earlier
    point, lowers the occurrence, ``after`` and the detail (the first choice, e.g. crash *before* the
    request, the shortest restart)."""
    timeline = timeline or {}
    step = min(faults.quiesce_after, faults.quiesce_after if span is None else span) / AFTER_STEPS

    def kind_schedule(kind: str) -> st.SearchStrategy[dict[FaultKey, int]]:
        names = list(keys.get(kind, ())) or [""]
        points = list(timeline.get(kind, ()))
        # Each point of the timeline takes `weight` neighbouring slots, the names one each after them:
        # one index per aim, so shrinking it moves a fault to an earlier point and never to a twin.
        weight = math.ceil(TIMELINE_SHARE * len(names) / ((1 - TIMELINE_SHARE) * len(points))) if points else 0
        slots = weight * len(points)
        fault = st.tuples(integers(slots + len(names) - 1), integers(FIRST_TIME + OCCURRENCES - 2),
                          integers(2 * AFTER_STEPS), integers(DETAIL_RANGE - 1))

        def key(i: int, nth: int, after: int) -> FaultKey:
            if i < slots:
                where, n = points[i // weight]
                return where, n, 0.0
            return names[i - slots], max(0, nth - FIRST_TIME + 1), max(0, after - AFTER_STEPS) * step

        return st.lists(fault, max_size=faults.bound(kind)).map(
            lambda drawn: {key(i, nth, after): detail for i, nth, after, detail in drawn})

    return st.fixed_dictionaries({kind: kind_schedule(kind) for kind in faults.kinds})
