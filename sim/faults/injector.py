"""The fault injector: decides, through ``Decisions``, whether each fault opportunity fires.

Every opportunity draws (so the decision log has the same shape whatever the outcome), faults stop
at their kind's bound and after ``quiesce_after``, and each fault that fires is counted and traced.
"""

from __future__ import annotations

from collections.abc import Callable

from ..kernel.decisions import Decisions
from .config import FaultConfig
from .kinds import AT_AWAIT
from .plan import REPEATEDLY, AimAt, CrashAt, DropAt, FaultPlan


class InjectedFault(Exception):
    """A transient failure the simulator injected into a leaf (fault kind ``reject``)."""


class Injector:
    """Fault decisions for one world."""

    def __init__(self, config: FaultConfig, plan: FaultPlan, decisions: Decisions, now: Callable[[], float]) -> None:
        self.config = config
        self.decisions = decisions
        self.now = now
        self.counts: dict[str, int] = {}
        self._rates = {kind: rate for kind, rate in config.rates.items() if rate > 0}
        self._crash_points: list[CrashAt] = [p for p in plan.points if isinstance(p, CrashAt) and p.when != AT_AWAIT]
        self._await_points: list[CrashAt] = [p for p in plan.points if isinstance(p, CrashAt) and p.when == AT_AWAIT]
        #: Requests a crash point could match so far, per (process, op, id): for ``crash(…, N)``.
        self._crash_seen: dict[tuple[str, str, str], int] = {}
        self._drop_points: list[DropAt] = [p for p in plan.points if isinstance(p, DropAt)]
        self._op_counts: dict[str, int] = {}
        #: Sides (``request``/``response``) of the next messages to drop, queued by a script.
        self.forced_drops: list[str] = []
        #: (when, op) crashes queued by a script for the next worker request of that op.
        self.forced_crashes: list[tuple[str, str]] = []
        #: ``at(...)`` points not yet met, the kinds they name, how often each (kind, where) came up,
        #: and how the one that just fired strikes (read by the kind's own draw of its details).
        self._aims: list[AimAt] = [p for p in plan.points if isinstance(p, AimAt)]
        self._aim_kinds = frozenset(p.kind for p in self._aims)
        self._aim_seen: dict[tuple[str, str], int] = {}
        self._aimed_how = ""
        self._fired_aims: set[AimAt] = set()

    @property
    def quiet(self) -> bool:
        """No new faults: past ``quiesce_after``."""
        return self.now() >= self.config.quiesce_after

    def fire(self, kind: str, where: str = "") -> bool:
        """One opportunity for ``kind`` at ``where`` (e.g. ``"settle job.1"``); True (and counted)
        when the fault happens. A kind with no rate costs one dictionary look-up (the common case: a
        world has a few hundred opportunities, most of kinds it does not inject)."""
        if kind in self._aim_kinds and self._aimed(kind, where):
            return True
        rate = self._rates.get(kind, 0.0)
        if not rate > 0 or self.counts.get(kind, 0) >= self.config.bound(kind) or self.quiet:
            return False
        if self.decisions.flip(kind, rate, where):
            self.count(kind)
            return True
        return False

    def _aimed(self, kind: str, where: str) -> bool:
        """Whether an ``at(...)`` point names this opportunity (its ``nth`` time, counted as a quiet
        world's ``Decisions`` count it: until faults stop); it fires, and is spent, if so. A
        ``repeatedly`` point fires there and at every later time, up to its kind's bound."""
        if self.quiet:
            return False
        key = (kind, where)
        nth = self._aim_seen[key] = self._aim_seen.get(key, 0) + 1
        for point in self._aims:
            if point.kind != kind or point.where != where:
                continue
            if point.nth == nth:
                if point.how != REPEATEDLY:
                    self._aims.remove(point)
                self._fired_aims.add(point)
            elif not (point.how == REPEATEDLY and point in self._fired_aims and nth > point.nth
                      and self.counts.get(kind, 0) < self.config.bound(kind)):
                continue
            self.count(kind)
            self._aimed_how = point.how
            return True
        return False

    def _how(self, ways: tuple[str, ...], question: str) -> str:
        """How the fault that just fired strikes: as its ``at(...)`` point says, else drawn."""
        how, self._aimed_how = self._aimed_how, ""
        return how if how in ways else ways[self.decisions.choose(question, len(ways))]

    def duplicate_delay(self, delays: int) -> int:
        """Which of ``delays`` a duplicate that just fired lands after (0: at once): an ``at(duplicate,
        late ...)`` point's copy lands last, else it is drawn."""
        how, self._aimed_how = self._aimed_how, ""
        return delays - 1 if how == "late" else self.decisions.choose("duplicate_delay", delays)

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def amount(self, kind: str, steps: int = 4) -> int:
        """How big a fault is, 1..steps (1 = the least)."""
        return 1 + self.decisions.choose(kind + "_size", steps)

    # -- per request -----------------------------------------------------------------------------------

    def request_number(self, op: str) -> int:
        """Count requests per op (from 1), for ``drop(side, op, nth)`` points."""
        self._op_counts[op] = self._op_counts.get(op, 0) + 1
        return self._op_counts[op]

    def planned_crash(self, process: str, op: str, id: str) -> str | None:
        """The ``when`` of an explicit crash point for this request, consumed on use."""
        for when, forced_op in self.forced_crashes:
            if forced_op == op:
                self.forced_crashes.remove((when, forced_op))
                self.count("crash")
                return when
        if not self._crash_points:
            return None
        key = (process, op, id)
        nth = self._crash_seen[key] = self._crash_seen.get(key, 0) + 1
        for point in self._crash_points:
            if point.process == process and point.op == op and point.id == id and point.nth == nth:
                self._crash_points.remove(point)
                self.count("crash")
                return point.when
        return None

    @property
    def awaits_planned(self) -> bool:
        """The plan names crashes at awaits in bodies: ``AwaitCrashes`` must watch for them."""
        return bool(self._await_points) or any(p.kind == "crash" and p.op == AT_AWAIT for p in self._aims)

    def planned_await_crash(self, process: str, promise: str) -> bool:
        """An explicit ``crash(process, await, promise)`` point for this await, consumed on use."""
        for point in self._await_points:
            if point.process == process and point.id == promise:
                self._await_points.remove(point)
                self.count("crash")
                return True
        return False

    def random_crash(self, where: str = "") -> str | None:
        if self.fire("crash", where):
            return self._how(("before", "during", "after"), "crash_when")
        return None

    def planned_drop(self, op: str, nth: int) -> str | None:
        for point in self._drop_points:
            if point.op == op and point.nth == nth:
                self._drop_points.remove(point)
                self.count("drop")
                return point.side
        return None

    def unfired(self) -> tuple[str, ...]:
        """The explicit plan points no request matched (so far): a plan aimed at the wrong process,
        op or id changes nothing, and a test pinned on it would pass without its fault."""
        aims = [p for p in self._aims if p not in self._fired_aims]
        return tuple(str(p) for p in (*self._crash_points, *self._await_points, *self._drop_points, *aims))

    def answer_dropped(self, op: str, nth: int, where: str = "") -> bool:
        """Whether the answer of a long poll with news is lost: a planned or scripted drop of a response
        (a request-side one waits for a request: a long poll's was applied while it waited), or a drawn
        drop (no side to draw: only the answer can be lost)."""
        for point in self._drop_points:
            if point.op == op and point.nth == nth and point.side == "response":
                self._drop_points.remove(point)
                self.count("drop")
                return True
        if self.forced_drops and self.forced_drops[0] == "response":
            self.forced_drops.pop(0)
            self.count("drop")
            return True
        if self.fire("drop", where):
            self._aimed_how = ""  # only the answer can be lost: the poll's request was applied as it waited
            return True
        return False

    def random_drop(self, where: str = "") -> str | None:
        if self.forced_drops:
            self.count("drop")
            return self.forced_drops.pop(0)
        if self.fire("drop", where):
            return self._how(("request", "response"), "drop_side")
        return None
