"""What a world's timeline shows, before any HTML: a bar for each body run, a mark for each moment
(crashes, restarts, network faults, ledger effects, violations), the promises at fault, the lanes and
the rows bars take in them, and the axis that turns virtual time into pixels. ``timeline`` draws it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import attrs

from ..checks import Violation
from ..trace import Event, event_text
from ..world import RunResult

#: Trace events drawn as marks on the lane of the process that met them.
MARK_KINDS = ("crash", "start", "drop", "duplicate", "refused", "unavailable", "partition", "reject", "torn")
#: Requests with which a body hands back its outcome: its bar ends there.
END_OPS = ("settle", "fulfill", "release", "suspend")
#: Processes that are not simulated programs: their events go to the checks lane.
NOT_PROCESSES = ("checks", "world", "director")
#: A quiet stretch longer than this (virtual seconds) is drawn as a break of fixed width.
BREAK = 0.5
@attrs.frozen
class Bar:
    """One body run: on which lane, which promise and function, its attempt, from when to when, how it ended."""

    lane: str
    id: str
    func: str
    workflow: bool
    attempt: int
    start: float
    end: float
    ended: str  # "settled" | "crashed" | "rejected" | "running"
    event: Event


@attrs.frozen
class Mark:
    """One moment on a lane: its kind (the class), when, a short label and the tooltip text."""

    lane: str
    kind: str
    time: float
    label: str
    tip: str
    data: tuple[tuple[str, str], ...] = ()


def lane_name(event: Event) -> str:
    """The lane an event is drawn on: its process incarnation's, or the checks' lane."""
    return "checks" if event.process in NOT_PROCESSES else event.who


def culprits(result: RunResult) -> set[str]:
    """The promises at fault: those the violations name, and those whose bodies made a ledger effect a
    violation names (``'charge:order-42' was recorded 2 times`` names the workflow that charged)."""
    ids = {v.id for v in result.violations if v.id}
    text = "\n".join(v.message for v in result.violations)
    for entry in result.ledger.entries:
        if entry.by and named(entry.key, text):
            ids.add(entry.by)
    return ids


def named(key: str, text: str) -> bool:
    """Whether ``text`` names ledger key ``key`` as a whole (``charge:1`` is not named by ``charge:12``)."""
    return re.search(r"(?<![\w:.-])" + re.escape(key) + r"(?![\w:.-])", text) is not None


def said(violation: Violation) -> str:
    """A violation as the page says it; check ``test`` is the test's own failure."""
    return f"the test failed: {violation.message}" if violation.check == "test" else str(violation)


def bars(result: RunResult) -> list[Bar]:
    """Every body run, its end found in the events after it on the same lane."""
    events = result.trace.events
    attempts: dict[str, int] = {}
    out: list[Bar] = []
    for i, event in enumerate(events):
        if event.kind != "body":
            continue
        attempts[event.id] = attempts.get(event.id, 0) + 1
        lane = lane_name(event)
        end, ended = result.virtual_time, "running"
        for later in events[i + 1:]:
            if lane_name(later) != lane:
                continue
            if later.kind == "crash":
                end, ended = later.time, "crashed"
                break
            if later.id != event.id:
                continue
            if later.kind == "send" and later.get("op") in END_OPS:
                end, ended = later.time, "settled"
                break
            if later.kind == "reject":
                end, ended = later.time, "rejected"
                break
            if later.kind == "body":
                end, ended = later.time, "running"
                break
        out.append(Bar(lane, event.id, event.get("func", event.detail), event.get("workflow") == "yes",
                       attempts[event.id], event.time, end, ended, event))
    return out


def marks(result: RunResult, decoded: dict[str, str]) -> list[Mark]:
    """Crashes, restarts, network faults, errors, server changes, ledger effects and violations."""
    out: list[Mark] = []
    errors = {"nondeterminism", "unregistered", "user-base-exception", "stuck-body", "missing-dependency", "error"}
    for event in result.trace:
        tip = event_text(event, decoded)
        lane = lane_name(event)
        if event.kind == "start":
            if event.incarnation > 1:
                out.append(Mark(lane, "restart", event.time, "restart", tip))
        elif event.kind in MARK_KINDS:
            label = {"crash": "crash", "drop": "drop", "duplicate": "dup", "refused": "refused",
                     "unavailable": "unavailable", "partition": "partition", "reject": "reject",
                     "torn": "torn"}[event.kind]
            out.append(Mark("server" if event.kind == "torn" else lane, event.kind, event.time, label, tip))
        elif event.kind in errors:
            out.append(Mark(lane, "error", event.time, event.kind, tip))
        elif event.kind == "server_restart":
            out.append(Mark("server", "server-restart", event.time, "restart", tip))
        elif event.kind == "apply" and event.detail.startswith("create ->"):
            out.append(Mark("server", "created", event.time, "", tip, (("promise", event.id),)))
        elif event.kind == "settled":
            state = event.get("state")
            out.append(Mark("server", f"settled {state}", event.time, "", tip,
                            (("promise", event.id), ("state", state))))
    text = "\n".join(v.message for v in result.violations)
    counts = Counter(entry.key for entry in result.ledger.entries)
    for n, entry in enumerate(result.ledger.entries):
        again = counts[entry.key] > 1 and named(entry.key, text)
        tip = f"ledger effect {entry.key} {entry}"
        out.append(Mark(entry.process or "checks", "effect culprit" if again else "effect", entry.time, entry.key,
                        tip, (("key", entry.key), ("by", entry.by), ("n", str(n)))))
    for violation in result.violations:
        label = "test failed" if violation.check == "test" else f"({violation.number}) {violation.check}"
        out.append(Mark("checks", "violation", _violation_time(result, violation), label, said(violation),
                        (("check", violation.check),)))
    return out


def _violation_time(result: RunResult, violation: Violation) -> float:
    """When a violation is marked: at the last event it names, else at the world's end."""
    if violation.events and violation.events[-1] < len(result.trace):
        return result.trace.events[violation.events[-1]].time
    return result.virtual_time


class Axis:
    """Virtual time to pixels: every moment where something happens gets room, and a quiet stretch
    longer than ``BREAK`` seconds is drawn as a fixed-width break, so bursts of milliseconds stay readable."""

    def __init__(self, times: Iterable[float], end: float) -> None:
        self.times = sorted({0.0, end, *times})
        units = [0.0]
        self.breaks: list[tuple[float, float]] = []
        for a, b in zip(self.times, self.times[1:], strict=False):
            gap = b - a
            if gap > BREAK:
                self.breaks.append((a, b))
                units.append(units[-1] + 4.0)
            else:
                units.append(units[-1] + 1.0 + 8.0 * gap)
        total = units[-1] or 1.0
        self.width = min(max(1080.0, 16.0 * len(self.times)), 30000.0)
        self.xs = [self.width * u / total for u in units]

    def x(self, t: float) -> float:
        """Pixels from the left for time ``t``, linear between the two known moments around it."""
        times, xs = self.times, self.xs
        if t <= times[0]:
            return xs[0]
        if t >= times[-1]:
            return xs[-1]
        lo, hi = 0, len(times) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if times[mid] <= t:
                lo = mid
            else:
                hi = mid
        span = times[hi] - times[lo]
        return xs[lo] + (xs[hi] - xs[lo]) * ((t - times[lo]) / span if span else 0.0)


#: A lane's span: from its first event to its crash (or the world's end).
Span = tuple[float, float]


def lanes(result: RunResult, all_bars: list[Bar], all_marks: list[Mark],
          end: float) -> tuple[dict[str, Span], list[str]]:
    """Each lane's span and the order lanes are drawn in: the server, then every process incarnation
    (``w1#2``) and any other lane with a bar or mark, as they first appear, then the checks' lane if it
    has a mark."""
    spans: dict[str, Span] = {"server": (0.0, end)}
    for event in result.trace.events:
        if event.process in NOT_PROCESSES or event.process == "server":
            continue
        lane = lane_name(event)
        first, last = spans.get(lane, (event.time, event.time))
        spans[lane] = (min(first, event.time), max(last, event.time))
    crashed = {lane_name(e) for e in result.trace.events if e.kind == "crash"}
    for lane, (first, _last) in list(spans.items()):
        if lane not in crashed:  # a live incarnation lasts to the end of the world
            spans[lane] = (first, end)
    shown = {b.lane for b in all_bars} | {m.lane for m in all_marks}
    order = ["server"] + [lane for lane in spans if lane != "server" and (lane in shown or "#" in lane)]
    if "checks" in shown:
        order.append("checks")
        spans["checks"] = (0.0, end)
    return spans, order


#: Most rows the bars of one depth take in a lane; beyond it bars share the last row (a huge fan-out).
MAX_ROWS = 6


def bar_label(bar: Bar) -> str:
    """The text on a bar: function, promise id and attempt."""
    return f"{bar.func} {bar.id} #{bar.attempt}"


def _depth(id: str) -> int:
    return id.count(".")


def rows(lane_bars: list[Bar], axis: Axis) -> list[int]:
    """A row for each bar: children below their parents (by depth), and bars of one depth whose bars or
    labels would overlap on separate rows."""
    placed: dict[int, list[float]] = {}  # depth -> the right end (px) of each of its rows
    sub: list[tuple[int, int]] = []
    for bar in lane_bars:
        left = axis.x(bar.start)
        right = max(axis.x(bar.end), left + 10, left + 12 + 6.2 * len(bar_label(bar)))
        ends = placed.setdefault(_depth(bar.id), [])
        row = next((i for i, end in enumerate(ends) if end <= left), None)
        if row is not None:
            ends[row] = right
        elif len(ends) < MAX_ROWS:
            row = len(ends)
            ends.append(right)
        else:  # full: share the last row
            row = len(ends) - 1
            ends[row] = max(ends[row], right)
        sub.append((_depth(bar.id), row))
    offset, start = 0, {}
    for depth in sorted(placed):
        start[depth] = offset
        offset += len(placed[depth])
    return [start[depth] + row for depth, row in sub]
