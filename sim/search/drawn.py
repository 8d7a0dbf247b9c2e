"""Crash search with Hypothesis: a ``Decisions`` whose choices come from a Hypothesis test case, so
Hypothesis generates worlds and shrinks a failing one to fewer, earlier faults and a straighter schedule.

The faults are drawn first, aimed at named opportunities (``settle job.1``), so removing one leaves the
others in place; the schedule choices follow as the world asks, in the simulator's encoding (0 = first
in order / shortest delay). A world that needs more schedule choices than the budget takes the rest
from a seeded stream (its seed drawn from Hypothesis too) and says so with ``note()``.
``pytest_durable.strategies`` is the public face of this engine.
"""

from __future__ import annotations

import math
import random
import sys
import warnings
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs
import hypothesis
import hypothesis.strategies as st
import trio
from hypothesis.control import current_build_context

from pytest_durable.core.codec import encode_call
from pytest_durable.core.errors import UsageError
from pytest_durable.core.inspection import InspectableStore

from ..faults import AT_AWAIT, CRASH_OPS, CRASH_WHEN, CrashAt, DropAt, FaultConfig, FaultPlan, UnfiredPlanWarning
from ..kernel.decisions import Decisions, PinnedDecisions
from ..reports import render
from ..scenario import Scenario, SimConfig
from ..trace import Event
from ..world import RunResult
from .known_worlds import Known, KnownWorlds

Draw = Callable[[st.SearchStrategy[Any]], Any]

#: Schedule choices drawn from Hypothesis per world before a seeded stream takes over: one block of
#: this many bytes, each choice taking the bytes its range needs (one below 256).
DEFAULT_BUDGET = 256
#: Choices that say what a fault looks like come with the fault, not from the schedule: each is a
#: hexadecimal digit (its position here) of the number a planned fault of that family carries. The
#: restart downtime of a crashed process comes with its crash; how late a duplicate lands, with it.
DETAILS: Mapping[str, tuple[str, int]] = {
    "crash_when": ("crash", 0), "restart_size": ("crash", 1),
    "drop_side": ("drop", 0),
    "delay_size": ("delay", 0),
    "duplicate_delay": ("duplicate", 0),
    "partition_who": ("partition", 0), "partition_size": ("partition", 1),
    "server_restart_size": ("server_restart", 0),
}
DETAIL_KINDS = frozenset(DETAILS)
#: A detail digit read through a table instead of modulo: half of all crashes strike *before* their
#: request (nothing reached the store, so the work is done again), a quarter each during or after it.
DETAIL_TABLES: Mapping[str, tuple[int, ...]] = {"crash_when": (0,) * 8 + (1,) * 4 + (2,) * 4}
#: Each planned fault carries a number whose hexadecimal digits are its detail choices.
DETAIL_RANGE = 256

_INTEGERS: dict[int, st.SearchStrategy[int]] = {}
_BLOCKS: dict[int, st.SearchStrategy[bytes]] = {}


def _blocks(size: int) -> st.SearchStrategy[bytes]:
    found = _BLOCKS.get(size)
    if found is None:
        found = _BLOCKS[size] = st.binary(min_size=size, max_size=size)
    return found


def _integers(upper: int) -> st.SearchStrategy[int]:
    found = _INTEGERS.get(upper)
    if found is None:
        found = _INTEGERS[upper] = st.integers(0, upper)
    return found


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
        fault = st.tuples(_integers(slots + len(names) - 1), _integers(FIRST_TIME + OCCURRENCES - 2),
                          _integers(2 * AFTER_STEPS), _integers(DETAIL_RANGE - 1))

        def key(i: int, nth: int, after: int) -> FaultKey:
            if i < slots:
                where, n = points[i // weight]
                return where, n, 0.0
            return names[i - slots], max(0, nth - FIRST_TIME + 1), max(0, after - AFTER_STEPS) * step

        return st.lists(fault, max_size=faults.bound(kind)).map(
            lambda drawn: {key(i, nth, after): detail for i, nth, after, detail in drawn})

    return st.fixed_dictionaries({kind: kind_schedule(kind) for kind in faults.kinds})


class _KeyRecorder:
    """Decisions for a quiet world (every draw 0, no fault) that note each opportunity it meets,
    in order, and how many times each came up before."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.timeline: dict[str, list[Point]] = {}
        self._seen: dict[tuple[str, str], int] = {}

    def choose(self, kind: str, n: int) -> int:
        return 0

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate > 0:
            n = self._seen.get((kind, where), 0)
            self._seen[(kind, where)] = n + 1
            self.timeline.setdefault(kind, []).append((where, n))
        return False


@attrs.frozen
class Opportunities:
    """Where a scenario's worlds can go wrong: ``every`` opportunity per fault kind by name (the
    quiet world's first), the quiet world's ``timeline`` of them, and how long it ran (``span``)."""

    every: dict[str, list[str]]
    timeline: dict[str, list[Point]]
    span: float


_KEYS: dict[tuple[Any, ...], Opportunities] = {}

#: The fault kinds met at each request (named ``"{op} {id}"``), and the requests a worker may send
#: about a promise or its task (``dispatch`` names a group instead).
REQUEST_KINDS = ("crash", "drop", "duplicate", "delay", "store_error")
PROMISE_OPS = ("create", "settle", "get")
#: Requests about a task: only a root or an rpc child has one (a local child runs in its parent's).
TASK_OPS = ("acquire", "heartbeat", "release", "branch", "fulfill", "suspend")


def _scenario_key(scenario: Scenario) -> tuple[Any, ...]:
    """What makes two scenarios run the same world (a test may build an equal one per example)."""
    fn = scenario.workflow
    return (fn.name, encode_call(fn.name, scenario.args, scenario.kwargs), scenario.root_id, scenario.group,
            tuple(sorted(scenario.workers.items())), tuple(f.name for f in scenario.all_functions()))


def opportunity_keys(scenario: Scenario, faults: FaultConfig, config: SimConfig | None) -> dict[str, list[str]]:
    """The fault opportunities a world of ``scenario`` can reach, per kind: first those of the world
    with nothing going wrong, in the order they come up (the likely ones, where shrinking goes), then
    every other one named after the promises and groups it has: each request op about each promise
    (a heartbeat, a release, a fulfill a quiet world never sends), an ``await`` in each body, each
    body for ``reject``, and every chaos tick until ``quiesce_after``. Cached per scenario."""
    return _opportunities(scenario, faults, config).every


def _opportunities(scenario: Scenario, faults: FaultConfig, config: SimConfig | None) -> Opportunities:
    """``opportunity_keys``, the quiet world's timeline of them, and how long it ran."""
    from ..runner import run_world

    key = (_scenario_key(scenario), str(faults), config)
    cached = _KEYS.get(key)
    if cached is None:
        recorder = _KeyRecorder()
        quiet_world = run_world(scenario, faults=faults, config=config, decisions=recorder)
        quiet = {kind: list(dict.fromkeys(where for where, _ in points))
                 for kind, points in recorder.timeline.items()}
        ids: dict[str, None] = {scenario.root_id: None}
        tasks: dict[str, None] = {scenario.root_id: None}
        groups: dict[str, None] = {scenario.group: None}
        for names in quiet.values():
            for name in names:
                what, _, about = name.partition(" ")
                if what == "dispatch":
                    groups[about] = None
                elif what != "tick" and about:
                    ids[about] = None
                    if what in TASK_OPS:
                        tasks[about] = None
        ticks = int(faults.quiesce_after / (config or SimConfig()).fault_tick)
        requests = ([f"dispatch {g}" for g in groups] + [f"{op} {i}" for i in ids for op in PROMISE_OPS]
                    + [f"{op} {t}" for t in tasks for op in TASK_OPS])
        reachable: dict[str, list[str]] = {kind: requests for kind in REQUEST_KINDS}
        reachable["crash"] = requests + [f"await {i}" for i in ids]
        reachable["reject"] = [f"body {i}" for i in ids]
        reachable["partition"] = reachable["server_restart"] = [f"tick {n}" for n in range(1, ticks + 1)]
        every: dict[str, list[str]] = {}
        for kind in faults.kinds:
            ordered = dict.fromkeys(quiet.get(kind, []))
            ordered.update(dict.fromkeys(reachable.get(kind, [])))
            every[kind] = list(ordered)
        cached = _KEYS[key] = Opportunities(every, recorder.timeline, quiet_world.virtual_time)
    return cached


#: Said under Hypothesis's "inconsistent data generation" error, which a drawn world raises when the
#: same choices do not give the same world.
FLAKY_NOTE = (
    "durable: the same choices gave a different world, so Hypothesis cannot replay or shrink it: the workflow "
    "(or a leaf) reads time, randomness or other state outside ctx; --durable-check-determinism shows where "
    "two runs of one world part"
)


class HypothesisDecisions:
    """A world's choices from a Hypothesis test case. The faults — which opportunity of each kind
    fires, and its details — are drawn first (``begin``), then the schedule: one block of ``budget``
    bytes from which every other choice (batch order, latency, ``ctx.random()``) is read as the world
    asks, and past its end a seeded stream whose seed Hypothesis draws.

    The schedule is one draw, not one per choice, so that every world's choice sequence has the same
    shape: Hypothesis ranks worlds by their faults alone (fewer, then earlier), and its generator,
    which copies values between draws of the same kind, spends its tries on other faults rather than
    on copying one schedule choice over another of the same world."""

    def __init__(self, draw: Draw, *, budget: int = DEFAULT_BUDGET) -> None:
        self.log: list[tuple[str, int]] = []
        self.schedule: dict[str, dict[FaultKey, int]] = {}
        self.budget = budget
        self.fallback_seed: int | None = None
        #: What a draw raised (Hypothesis stops a test case with an exception when its choices run
        #: out). It cannot unwind through trio's scheduler, so the world goes on with zeros and
        #: ``raise_stopped`` re-raises it once the world is over.
        self.stopped: BaseException | None = None
        self._draw = draw
        self._block = b""
        self._used = 0
        self._rng: random.Random | None = None
        self._seen: dict[tuple[str, FaultKey], int] = {}
        self._details: dict[str, int] = {}
        #: The questions the world asked (``log`` holds the answers), to know it again (``known``).
        self.asked: list[tuple[Any, ...]] = []

    def begin(self, faults: FaultConfig, keys: Mapping[str, Sequence[str]], *,
              timeline: Mapping[str, Sequence[Point]] | None = None, span: float | None = None) -> None:
        """Draw where the faults fall and the schedule block, before the world makes any choice."""
        try:
            self.schedule = self._draw(fault_schedules(faults, keys, timeline=timeline, span=span))
            self._block = self._draw(_blocks(self.budget))
        except BaseException as exc:  # handed back to Hypothesis by raise_stopped
            self.stopped = exc

    def seal(self) -> None:
        """Draw, as a choice with one possible value, a fingerprint of every choice the world asked
        for. Hypothesis replays a world to shrink it; when the same choices make another world (the
        workflow reads time or state outside ctx), the fingerprint differs and Hypothesis reports
        inconsistent data generation (with ``FLAKY_NOTE``) instead of shrinking a moving target."""
        if self.stopped is not None:
            return
        fingerprint = zlib.crc32(repr(self.log).encode())
        try:
            self._draw(st.integers(fingerprint, fingerprint))
        except BaseException as exc:  # handed back to Hypothesis by raise_stopped
            self.stopped = exc

    def raise_stopped(self) -> None:
        if self.stopped is None:
            return
        if isinstance(self.stopped, hypothesis.errors.FlakyStrategyDefinition) and FLAKY_NOTE not in getattr(
                self.stopped, "__notes__", ()):
            self.stopped.add_note(FLAKY_NOTE)
        raise self.stopped

    def _int(self, upper: int) -> int:
        size = max(1, (upper.bit_length() + 7) // 8)
        if self._used + size <= len(self._block):
            value = int.from_bytes(self._block[self._used:self._used + size], "big") % (upper + 1)
            self._used += size
            return value
        if self._rng is None:
            self._used = len(self._block)
            if self.fallback_seed is None:  # drawn once: a look-up in known worlds may have drawn it
                try:
                    self.fallback_seed = self._draw(_integers((1 << 32) - 1))
                except BaseException as exc:  # handed back to Hypothesis by raise_stopped
                    self.stopped = exc
                    self.fallback_seed = 0
            self._rng = random.Random(self.fallback_seed)
            hypothesis.note(f"durable: this world needed more than {self.budget} bytes of schedule choices; the "
                            f"rest came from a seeded stream (seed {self.fallback_seed})")
        return self._rng.randrange(upper + 1)

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        self.asked.append(("choose", kind, n))
        return self._choose(kind, n)

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        try:
            now = trio.current_time()
        except RuntimeError:  # asked outside a world (a test of these decisions alone)
            now = 0.0
        self.asked.append(("flip", kind, where, now))
        return self._flip(kind, where, now)

    def _choose(self, kind: str, n: int) -> int:
        if kind in DETAILS:
            family, digit = DETAILS[kind]
            nibble = self._details.get(family, 0) >> 4 * digit & 15
            table = DETAIL_TABLES.get(kind)
            value = (table[nibble] if table is not None else nibble) % n
        else:
            value = self._int(n - 1)
        self.log.append((kind, value))
        return value

    def _flip(self, kind: str, where: str, now: float) -> bool:
        detail = None
        planned = self.schedule.get(kind)
        if planned:
            for key, value in planned.items():
                aim, nth, after = key if len(key) == 3 else (*key, 0.0)  # (where, nth) as a test may plant it
                if aim != where or now < after:
                    continue
                seen = self._seen.get((kind, key), 0)
                self._seen[(kind, key)] = seen + 1
                if seen == nth and detail is None:
                    detail = value
        if detail is not None:
            self._details[kind] = detail
        self.log.append((kind, int(detail is not None)))
        return detail is not None

    def _answer(self, question: tuple[Any, ...]) -> int:
        if question[0] == "choose":
            return self._choose(question[1], question[2])
        return int(self._flip(question[1], question[2], question[3]))

    def known(self, worlds: KnownWorlds, key: Hashable, owner: object) -> Known | None:
        """The end of a world run before whose every question these choices answer the same way (so
        running it again gives that world, if the workflow is deterministic), or None. Unless that
        world is ``verified``, the choices start afresh for a run (a fallback seed drawn meanwhile is
        kept: the run draws no second one)."""
        found = worlds.find(key, owner, self._answer)
        if found is None or not found.verified or self.stopped is not None:
            self.log, self.asked, self._used, self._rng, self._seen, self._details = [], [], 0, None, {}, {}
        else:
            self.asked = []  # the questions are those of the world found
        return found


# -- what happened, as a plan -------------------------------------------------------------------------


def plan_of(result: RunResult) -> tuple[FaultPlan, tuple[str, ...]]:
    """The faults a world had: crashes (at a request, the Nth of its kind, or at an await in a body)
    and dropped messages as ``FaultPlan`` points, and every other fault (a duplicate, delay, partition,
    server restart, rejected leaf, refused request) as a line. It reads the events' structured fields,
    never their wording."""
    points: list[CrashAt | DropAt] = []
    others: list[str] = []
    sent: dict[tuple[str, str, str], int] = {}
    per_op: dict[str, int] = {}
    asked: dict[tuple[str, str, str], int] = {}  # requests per process (all incarnations), op and id
    for event in result.trace:
        if event.kind == "send":
            op = event.get("op")
            per_op[op] = per_op.get(op, 0) + 1
            sent[(event.process, event.id, op)] = per_op[op]
            asked[(event.process, op, event.id)] = asked.get((event.process, op, event.id), 0) + 1
        elif event.kind == "crash":
            when, op, about = event.get("when"), event.get("op"), event.get("about")
            if when in CRASH_WHEN and op in CRASH_OPS:
                points.append(CrashAt(event.process, when, op, about, asked.get((event.process, op, about), 1)))
            elif when == AT_AWAIT:  # in the middle of a body: the plan names the first await there
                points.append(CrashAt(event.process, AT_AWAIT, "", about))
        elif event.kind == "drop":
            op, side = event.get("op"), event.get("side")
            nth = sent.get((event.process, event.id, op))
            if event.get("cause") == "fault" and op in CRASH_OPS and nth is not None:
                points.append(DropAt(side, op, nth))
            else:
                others.append(f"drop({event.process}, {event.detail}, {event.id})")
        elif event.kind in render.FAULT_EVENTS:  # the rest: no plan point says them
            others.append(f"{event.kind}({event.process}, {', '.join(p for p in (event.id, event.detail) if p)})")
    return FaultPlan(tuple(points)), tuple(others)


def failure_of(result: RunResult) -> frozenset[tuple[str, str]]:
    """What a world's failure is, as a pin must reproduce it: its broken checks, each with the
    promise it names (not the wording, which carries times and incarnations)."""
    return frozenset((v.check, v.id) for v in result.violations)


def same_failure(found: RunResult, again: RunResult) -> bool:
    """``again`` (a world run from a pin) fails as ``found`` did: the same broken checks by check and
    promise id (a parameter holding a fresh value may change the trace and not the bug). A world that
    broke no check can only have failed in the test's own assertions, which the world cannot see:
    then only the same trace will do."""
    if again.trace_hash == found.trace_hash:
        return True
    return bool(found.violations) and failure_of(again) == failure_of(found)


def describe_faults(result: RunResult) -> str:
    """All of a world's faults on one line: ``crash(w1, after_create, job.1); reject(w2, job.0, …)``."""
    plan, others = plan_of(result)
    return "; ".join([str(p) for p in plan.points] + list(others)) or "no faults"


def choices_text(log: Sequence[tuple[str, int]]) -> str:
    """The non-zero draws of a decision log as ``index:value`` pairs (all others were 0)."""
    return ",".join(f"{i}:{v}" for i, (_, v) in enumerate(log) if v)


def parse_choices(text: str) -> dict[int, int]:
    values: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        index, sep, value = part.partition(":")
        if not sep or not index.isdigit() or not value.isdigit():
            raise UsageError(f"choices: cannot read {part!r}; write INDEX:VALUE pairs separated by commas, "
                             "e.g. 12:1,13:2")
        values[int(index)] = int(value)
    return values


# -- a world to run -------------------------------------------------------------------------------------


@attrs.define(eq=False)
class World:
    """The faults and every choice of one simulated world, to run a scenario in.

    Drawn by ``worlds()`` (choices from Hypothesis; such a world runs once) or made by
    ``pinned_world()`` (choices from text; it runs the same way every time). After a run, ``result``
    holds the ``RunResult``, ``report()`` describes it and ``pinned()`` gives the line that replays it.
    """

    faults: FaultConfig
    plan: FaultPlan
    drawn: HypothesisDecisions | None = None
    pinned_values: dict[int, int] | None = None
    pinned_from: str = ""
    aim: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    result: RunResult | None = None
    scenario: Scenario | None = None
    config: SimConfig | None = None
    #: The drawn world this one replays (``replica()``); its plan points may rightly not fire.
    replica_of: World | None = None
    #: The Hypothesis test case a drawn world takes its choices from (to remember its faults by them).
    case: Any = None

    def run(self, scenario: Scenario, *, config: SimConfig | None = None,
            observers: Sequence[Callable[[Event], None]] = (), store: InspectableStore | None = None) -> RunResult:
        """Run ``scenario`` in this world and check it (over ``store``, a fresh ``MemoryStore`` if not given)."""
        from ..runner import run_world

        decisions: Decisions
        if self.drawn is not None:
            if self.result is not None:
                raise UsageError("World.run: a drawn world runs once (its choices are used up); "
                                 "draw another, or pin it with world.pinned()")
            found = _opportunities(scenario, self.faults, config)
            keys = _aimed(found.every, *self.aim)
            timeline = {kind: [p for p in points if p[0] in keys.get(kind, ())]
                        for kind, points in found.timeline.items()}
            self.drawn.begin(self.faults, keys, timeline=timeline, span=found.span)
            self.drawn.raise_stopped()
            decisions = self.drawn
        else:
            decisions = PinnedDecisions(dict(self.pinned_values or {}))
        self.scenario, self.config = scenario, config
        # A drawn world whose choices answer every question of a world run before is that world:
        # Hypothesis, shrinking, tries many such choice sequences (not with a store or observers to feed).
        # The world Hypothesis reports runs for real: a workflow that reads state outside ctx (so the
        # same choices give another world) is still caught there as inconsistent data generation.
        known = (id(scenario), str(self.faults), str(self.plan), config, self.drawn.budget, self.aim) \
            if self.drawn is not None and store is None and not observers and not _is_final() else None
        found_before = None
        if known is not None and self.drawn is not None:
            found_before = self.drawn.known(KNOWN_WORLDS, known, scenario)
            self.drawn.raise_stopped()
        if found_before is not None and found_before.verified:
            self.result = found_before.result
        else:
            self.result = run_world(scenario, faults=self.faults, plan=self.plan, config=config,
                                    decisions=decisions, observers=observers, store=store)
        if found_before is not None:  # run a second time: the same world (else Hypothesis says it is not)
            found_before.verified = found_before.result.trace_hash == self.result.trace_hash
        elif known is not None and self.drawn is not None:
            KNOWN_WORLDS.add(known, scenario, self.drawn.asked, [v for _, v in self.drawn.log], self.result)
        if self.drawn is not None:
            self.drawn.seal()
            self.drawn.raise_stopped()
            _SEEN_FAULTS.remember(self.case, short_form(self.result))
            _guide(self.result)
            if _is_final():
                hypothesis.note(self.report())
        elif self.result.unfired and self.replica_of is None:
            warnings.warn(UnfiredPlanWarning(
                f"{self.pinned_from or 'a pinned world'}: the plan point(s) {'; '.join(self.result.unfired)} never "
                "fired (no request matched), so this world ran without them; re-pin from a fresh search"
            ), stacklevel=2)
        return self.result

    def report(self) -> str:
        """The world in our words: its faults on one line, its summary and tree, and how to pin it."""
        result = self._ran("report")
        lines = [f"durable: faults: {describe_faults(result)}", render.summary(result),
                 render.world_tree(result),
                 f"durable: pin it: {self.pinned()}"]
        return "\n".join(lines)

    def replica(self) -> World:
        """A pinned world with this world's faults, plan and every non-zero choice of its run: running
        the same scenario in it must give the same trace (how a drawn world, whose choices are used
        up, is checked for determinism)."""
        result = self._ran("replica")
        return World(self.faults, self.plan, pinned_values={i: v for i, (_, v) in enumerate(result.decisions) if v},
                     pinned_from=f"replica of {self!r}", replica_of=self)

    def pinned(self) -> str:
        """``@durable_example(...)`` that replays this world's failure without Hypothesis: its fault
        plan alone when a trial run shows that the plan reproduces it (``same_failure``), else its
        faults and every non-zero choice (which replays the world itself)."""
        result = self._ran("pinned")
        plan, others = plan_of(result)
        quiesce = self.faults.quiesce_after
        extra = f", quiesce_after={quiesce:g}" if quiesce != FaultConfig().quiesce_after else ""
        if (plan.points or not others) and self.scenario is not None:
            with warnings.catch_warnings():  # a trial: a point that does not fire just means "no"
                warnings.simplefilter("ignore", UnfiredPlanWarning)
                again = pinned_world(plan=str(plan), quiesce_after=quiesce).run(self.scenario, config=self.config)
            if same_failure(result, again):
                return f'@durable_example(plan="{plan}"{extra})'
        spec = f'faults="{self.faults}"' + (f', plan="{self.plan}"' if self.plan.points else "")
        return f'@durable_example({spec}, choices="{choices_text(result.decisions)}"{extra})'

    def _ran(self, what: str) -> RunResult:
        if self.result is None:
            raise UsageError(f"World.{what}: run a scenario in this world first (world.run(scenario))")
        return self.result

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis prints a world in a failing example: the short form, not every field."""
        printer.text(repr(self))

    def __repr__(self) -> str:
        if self.pinned_from:
            return self.pinned_from
        if self.result is not None:
            return short_form(self.result)
        # Hypothesis prints a failing example before it runs it again: a drawn world that is not run yet
        # shows the faults the same choices gave when they last ran, if they did.
        return _SEEN_FAULTS.recall(self.case) or f"World(faults={str(self.faults)!r})"


def short_form(result: RunResult) -> str:
    """A world as its faults: ``World(plan="crash(w1, before_settle, checkout.1)")``, with any fault
    no plan point says after it (``others="reject(w2, job.0, …)"``)."""
    plan, others = plan_of(result)
    parts = [f'plan="{plan}"'] + ([f'others="{"; ".join(others)}"'] if others else [])
    return f"World({', '.join(parts)})"


class _SeenFaults:
    """The short form of each drawn world lately run, by the choices its test case had made when the
    world was over. Hypothesis replays a failing test case from its choices and prints its arguments
    before running it, so that print can show what those choices did rather than the fault rates."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._forms: dict[tuple[Any, ...], str] = {}
        self._lengths: dict[int, None] = {}

    def remember(self, case: Any, form: str) -> None:
        choices = getattr(case, "choices", None)
        if choices is None:
            return
        key = tuple(choices)
        self._forms.pop(key, None)
        self._forms[key] = form
        self._lengths[len(key)] = None
        if len(self._forms) > self.LIMIT:
            del self._forms[next(iter(self._forms))]

    def recall(self, case: Any) -> str | None:
        prefix = getattr(case, "prefix", None)
        if not prefix:
            return None
        prefix = tuple(prefix)
        for length in self._lengths:
            try:
                form = self._forms.get(prefix[:length]) if length <= len(prefix) else None
            except TypeError:  # a prefix holding a choice template (not a value): nothing to look up
                return None
            if form is not None:
                return form
        return None


_SEEN_FAULTS = _SeenFaults()
#: Drawn worlds run in this process, to answer a world Hypothesis asks for again (shrinking).
KNOWN_WORLDS = KnownWorlds()


def _test_case() -> Any:
    """The Hypothesis test case (``ConjectureData``) drawing now, if any."""
    try:
        return getattr(current_build_context(), "data", None)
    except hypothesis.errors.InvalidArgument:
        return None


def _is_final() -> bool:
    try:
        return bool(current_build_context().is_final)
    except hypothesis.errors.InvalidArgument:
        return False


def _guide(result: RunResult) -> None:
    """Point Hypothesis at worse worlds: more leaf bodies run again, more duplicate effects."""
    bodies: dict[str, int] = {}
    for event in result.trace.of_kind("body"):
        if not event.get("workflow"):
            bodies[event.id] = bodies.get(event.id, 0) + 1
    hypothesis.target(float(sum(n - 1 for n in bodies.values())), label="leaf bodies run again")
    hypothesis.target(float(sum(n - 1 for n in result.ledger.counts().values())), label="duplicate ledger effects")


def worlds(faults: str | FaultConfig = "crash", *, plan: str | FaultPlan | st.SearchStrategy[FaultPlan] = "",
           ops: Sequence[str] = (), ids: Sequence[str] = (), quiesce_after: float = 120.0,
           budget: int = DEFAULT_BUDGET) -> st.SearchStrategy[World]:
    """Worlds whose every choice Hypothesis makes: faults of the kinds in ``faults`` (each kind up to
    its bound, as in ``FaultConfig.parse``: ``"crash:1,drop"``) plus explicit points from ``plan`` (text,
    a plan or a strategy). ``ops`` and ``ids`` narrow where faults may strike: only requests of those
    ops (``create``, ``settle``, …), only about those promise ids (empty: anywhere)."""
    config = faults if isinstance(faults, FaultConfig) else FaultConfig.parse(faults, quiesce_after=quiesce_after)
    plans = plan if isinstance(plan, st.SearchStrategy) else st.just(
        plan if isinstance(plan, FaultPlan) else FaultPlan.parse(plan))
    for op in ops:
        if op not in CRASH_OPS:
            raise UsageError(f"worlds: unknown op {op!r}; ops are {', '.join(CRASH_OPS)}")
    aim = (tuple(ops), tuple(ids))

    @st.composite
    def world(draw: Draw) -> World:
        drawn = World(config, draw(plans), drawn=HypothesisDecisions(draw, budget=budget), aim=aim,
                      case=_test_case())
        _insist_on_a_run(drawn)
        return drawn

    return world()


def _insist_on_a_run(world: World) -> None:
    """Fail a test case that ends without running ``world``: it tested nothing of the faults it drew
    (a test case that failed or was rejected on its own is left to say so)."""
    try:
        context = current_build_context()
    except hypothesis.errors.InvalidArgument:
        return
    test = getattr(context, "wrapped_test", None)
    if str(getattr(test, "__module__", "")).startswith("hypothesis."):
        return  # worlds().example() at a prompt: nothing is meant to run it

    def check() -> None:
        __tracebackhide__ = True
        if world.result is None and sys.exc_info()[1] is None:
            raise UsageError(
                f"worlds(): {getattr(test, '__name__', 'the test')} drew a world and never ran it, so it tested "
                "nothing of the faults Hypothesis drew; pass it to world.run(scenario) or "
                "durable_sim.run(workflow, ..., world=world) (run_world() or durable_sim.run() without world= "
                "run another world)"
            )

    hypothesis.control.cleanup(check)


def _aimed(keys: Mapping[str, Sequence[str]], ops: Sequence[str], ids: Sequence[str]) -> dict[str, list[str]]:
    """The opportunity names left once faults may only strike ``ops`` requests about ``ids`` (an
    ``await`` in a body is no request: with ``ops`` given it is left out)."""

    def allowed(name: str) -> bool:
        what, _, about = name.partition(" ")
        if what == "tick":
            return True
        return (not ops or what == "body" or what in ops) and (not ids or about in ids)

    return {kind: [name for name in names if allowed(name)] for kind, names in keys.items()}


def fault_plans(processes: Sequence[str] = ("w1", "w2"), ids: Sequence[str] = (), *,
                ops: Sequence[str] = ("create", "settle", "fulfill", "suspend", "acquire"),
                when: Sequence[str] = CRASH_WHEN, max_crashes: int = 2, max_drops: int = 0,
                max_nth: int = 20) -> st.SearchStrategy[FaultPlan]:
    """Explicit fault plans: up to ``max_crashes`` crashes of ``processes`` at any of ``when`` and ``ops`` on
    ``ids`` and up to ``max_drops`` dropped requests or responses; shrinks towards the empty plan."""
    for op in ops:
        if op not in CRASH_OPS:
            raise UsageError(f"fault_plans: unknown op {op!r}; ops are {', '.join(CRASH_OPS)}")
    for w in when:
        if w not in CRASH_WHEN:
            raise UsageError(f"fault_plans: unknown when {w!r}; use {', '.join(CRASH_WHEN)}")
    if max_crashes and not (processes and ids):
        raise UsageError("fault_plans: crashes need processes=... and ids=... (the promise ids to crash at)")
    crashes = st.builds(CrashAt, st.sampled_from(processes), st.sampled_from(when), st.sampled_from(ops),
                        st.sampled_from(ids)) if max_crashes else st.nothing()
    drops = st.builds(DropAt, st.sampled_from(("request", "response")), st.sampled_from(ops),
                      st.integers(1, max_nth)) if max_drops else st.nothing()
    return st.builds(
        lambda c, d: FaultPlan((*c, *d)),
        st.lists(crashes, max_size=max_crashes, unique=True),
        st.lists(drops, max_size=max_drops, unique=True),
    )


def pinned_world(*, plan: str = "", faults: str = "none", choices: str = "", quiesce_after: float = 120.0) -> World:
    """The world a ``pinned()`` line names: its faults, explicit points and non-zero choices (every
    other choice is 0). Bad text is a ``UsageError`` naming the part that cannot be read."""
    text = ", ".join(f"{k}={v!r}" for k, v in (("plan", plan), ("faults", faults), ("choices", choices)) if v)
    return World(FaultConfig.parse(faults, quiesce_after=quiesce_after), FaultPlan.parse(plan),
                 pinned_values=parse_choices(choices), pinned_from=f"pinned_world({text})")
