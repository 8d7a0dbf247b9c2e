"""A finished world as one self-contained HTML page: a timeline a person reads at a glance.

One lane per process incarnation (``w1#1``, ``w1#2``, ...) and one for the server; a bar for each
body run (with its attempt number), marks for crashes, restarts, dropped and duplicated messages and
ledger effects (on the lane of the incarnation that made them); below, each promise's state over
time; the violations and their culprit promise highlighted. Hovering shows the event. The page
needs no network: CSS is inline, positions are computed here, and the script only adds a tooltip.
Every element a reader (or a test) looks for has a stable class and ``data-`` attributes.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from html import escape
from pathlib import Path

import attrs

from pytest_durable.core.codec import describe_call

from ..checks import Violation
from ..trace import Event, decodings, event_text
from ..world import RunResult
from . import render

#: Trace events drawn as marks on the lane of the process that met them.
MARK_KINDS = ("crash", "start", "drop", "duplicate", "refused", "unavailable", "partition", "reject", "torn")
#: Requests with which a body hands back its outcome: its bar ends there.
END_OPS = ("settle", "fulfill", "release", "suspend")
#: Processes that are not simulated programs: their events go to the checks lane.
NOT_PROCESSES = ("checks", "world", "director")
#: A quiet stretch longer than this (virtual seconds) is drawn as a break of fixed width.
BREAK = 0.5
LABEL_WIDTH = 170
ROW = 22


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


def write(result: RunResult, path: str | Path, *, failure: str = "") -> Path:
    """Write the page of ``result`` to ``path`` (its folder is made); return the path. ``failure`` is
    how the test failed when no check of the world did (``AssertionError: ledger: ... x2``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(result, failure=failure), encoding="utf-8")
    return out


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


def _attrs(data: Iterable[tuple[str, str]]) -> str:
    return "".join(f' data-{k}="{escape(v)}"' for k, v in data)


def _depth(id: str) -> int:
    return id.count(".")


def page(result: RunResult, *, failure: str = "") -> str:
    """The whole HTML document of one world; ``failure`` (the test's error) is shown as a violation."""
    if failure:
        result = result.with_violations((*result.violations, Violation("test", failure)))
    decoded = decodings(result.promises)
    all_bars = bars(result)
    all_marks = marks(result, decoded)
    guilty = culprits(result)
    events = result.trace.events
    end = max([result.virtual_time, *(e.time for e in events)])
    axis = Axis([*(b.start for b in all_bars), *(b.end for b in all_bars), *(m.time for m in all_marks)], end)

    lanes: dict[str, tuple[float, float]] = {"server": (0.0, end)}
    for event in events:
        if event.process in NOT_PROCESSES or event.process == "server":
            continue
        lane = lane_name(event)
        first, last = lanes.get(lane, (event.time, event.time))
        lanes[lane] = (min(first, event.time), max(last, event.time))
    crashed = {lane_name(e) for e in events if e.kind == "crash"}
    for lane, (first, _last) in list(lanes.items()):
        if lane not in crashed:  # a live incarnation lasts to the end of the world
            lanes[lane] = (first, end)
    shown = {b.lane for b in all_bars} | {m.lane for m in all_marks}
    order = ["server"] + [lane for lane in lanes if lane != "server" and (lane in shown or "#" in lane)]
    if "checks" in shown:
        order.append("checks")
        lanes["checks"] = (0.0, end)

    parts: list[str] = [_head(result)]
    parts.append(f'<div class="timeline" style="width:{axis.width + LABEL_WIDTH + 140:.0f}px">')
    parts.append(_axis(axis))
    for lane in order:
        parts.append(_lane(lane, lanes[lane], axis, [b for b in all_bars if b.lane == lane],
                           [m for m in all_marks if m.lane == lane], guilty))
    parts.append('<h2>promises: state over time</h2>')
    parts.append(_promises(result, axis, all_bars, guilty, end))
    parts.append("</div>")
    parts.append('<details class="events"><summary>all '
                 f'{len(events)} events (text trace)</summary><pre>{escape(render.text(result.trace))}</pre></details>')
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _head(result: RunResult) -> str:
    title = f"{result.name} · {result.target or 'world'}"
    violations = "".join(
        f'<li class="violation" data-check="{escape(v.check)}"{_attrs([("promise", v.id)] if v.id else [])}>'
        f"{escape(said(v))}</li>"
        for v in result.violations
    ) or '<li class="ok">no violation: every check passed</li>'
    legend = "".join(
        f'<span class="key"><span class="{cls}"></span>{escape(text)}</span>'
        for cls, text in (
            ("sw sw-workflow", "workflow body"), ("sw sw-leaf", "leaf body (#attempt)"),
            ("sw sw-culprit", "culprit promise"), ("sw sw-crash", "crash"),
            ("sw sw-restart", "restart"), ("sw sw-effect", "ledger effect"),
            ("sw sw-net", "message dropped / duplicated"), ("sw sw-violation", "violation"),
            ("sw sw-created", "server: promise created"), ("sw sw-pending", "pending"),
            ("sw sw-resolved", "resolved"), ("sw sw-rejected", "rejected"),
        )
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="headline">{escape(render.headline(result))}</p>'
        f'<ul class="violations">{violations}</ul><div class="legend">{legend}</div>'
        '<p class="hint">Hover a bar or mark to see its event. Time runs left to right; '
        "a hatched break stands for a quiet stretch (its length is written on it).</p></header>"
    )


def _axis(axis: Axis) -> str:
    out = [f'<div class="axis" style="margin-left:{LABEL_WIDTH}px">']
    last = -1e9
    for t, x in zip(axis.times, axis.xs, strict=False):
        if x - last >= 64:
            out.append(f'<span class="tick" style="left:{x:.1f}px">{t:.3f} s</span>')
            last = x
    out.append(_breaks(axis, 30, labelled=True))
    out.append("</div>")
    return "".join(out)


def _breaks(axis: Axis, height: float, *, labelled: bool = False) -> str:
    return "".join(
        f'<div class="break" style="left:{axis.x(a):.1f}px;width:{axis.x(b) - axis.x(a):.1f}px;height:{height}px">'
        + (f"<span>{b - a:.1f} s quiet</span>" if labelled else "") + "</div>"
        for a, b in axis.breaks
    )


#: Most rows the bars of one depth take in a lane; beyond it bars share the last row (a huge fan-out).
MAX_ROWS = 6


def _label(bar: Bar) -> str:
    return f"{bar.func} {bar.id} #{bar.attempt}"


def _rows(lane_bars: list[Bar], axis: Axis) -> list[int]:
    """A row for each bar: children below their parents (by depth), and bars of one depth whose bars or
    labels would overlap on separate rows."""
    placed: dict[int, list[float]] = {}  # depth -> the right end (px) of each of its rows
    sub: list[tuple[int, int]] = []
    for bar in lane_bars:
        left = axis.x(bar.start)
        right = max(axis.x(bar.end), left + 10, left + 12 + 6.2 * len(_label(bar)))
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


def _lane(name: str, span: tuple[float, float], axis: Axis, lane_bars: list[Bar], lane_marks: list[Mark],
          guilty: set[str]) -> str:
    rows = _rows(lane_bars, axis)
    height = 20 + ROW * max(max(rows, default=0) + 1, 1)
    kind = "server" if name == "server" else "checks" if name == "checks" else "process"
    out = [f'<div class="lane {kind}" data-lane="{escape(name)}" style="height:{height}px">',
           f'<div class="lane-label">{escape(name)}</div>',
           f'<div class="track" style="width:{axis.width:.0f}px;height:{height}px">',
           _breaks(axis, height)]
    x0, x1 = axis.x(span[0]), axis.x(span[1])
    if kind == "process":
        out.append(f'<div class="alive" style="left:{x0:.1f}px;width:{max(x1 - x0, 2):.1f}px"></div>')
    for bar, row in zip(lane_bars, rows, strict=True):
        left, right = axis.x(bar.start), axis.x(bar.end)
        cls = ["bar", "workflow" if bar.workflow else "leaf", bar.ended]
        if bar.id in guilty:
            cls.append("culprit")
        tip = f"{event_text(bar.event)}: attempt {bar.attempt}, {bar.ended} at {bar.end:.3f} s"
        out.append(
            f'<div class="{" ".join(cls)}" data-promise="{escape(bar.id)}" data-attempt="{bar.attempt}" '
            f'style="left:{left:.1f}px;width:{max(right - left, 10):.1f}px;top:{20 + ROW * row}px" '
            f'title="{escape(tip)}"><span>{escape(_label(bar))}</span></div>'
        )
    for mark in lane_marks:
        data = _attrs([("time", f"{mark.time:.3f}"), *mark.data])
        label = f"<span>{escape(mark.label)}</span>" if mark.label else ""
        out.append(f'<div class="mark {escape(mark.kind)}"{data} style="left:{axis.x(mark.time):.1f}px" '
                   f'title="{escape(mark.tip)}">{label}</div>')
    out.append("</div></div>")
    return "".join(out)


def _promises(result: RunResult, axis: Axis, all_bars: list[Bar], guilty: set[str], end: float) -> str:
    created: dict[str, float] = {}
    settled: dict[str, tuple[float, str]] = {}
    for event in result.trace:
        if event.kind == "apply" and event.detail.startswith("create ->"):
            created.setdefault(event.id, event.time)
        elif event.kind == "settled":
            settled.setdefault(event.id, (event.time, event.get("state")))
    records = sorted(result.promises, key=lambda r: (created.get(r.id, end), r.id))
    runs: defaultdict[str, list[Bar]] = defaultdict(list)
    for bar in all_bars:
        runs[bar.id].append(bar)
    out: list[str] = []
    for record in records:
        born = created.get(record.id, 0.0)
        at, state = settled.get(record.id, (end, ""))
        if not state and record.settled:
            state = record.state.value
        cls = "promise culprit" if record.id in guilty else "promise"
        call = describe_call(record.param)
        out.append(f'<div class="{cls}" data-promise="{escape(record.id)}" data-state="{escape(record.state.value)}">'
                   f'<div class="lane-label" title="{escape(call)}">{escape(record.id)} '
                   f'<small>{escape(call.split("(", 1)[0])}</small></div>'
                   f'<div class="track" style="width:{axis.width:.0f}px">')
        x0, x1, x2 = axis.x(born), axis.x(at), axis.x(end)
        out.append(f'<div class="state pending" style="left:{x0:.1f}px;width:{max(x1 - x0, 2):.1f}px" '
                   f'title="{escape(record.id)} {escape(call)}: pending from {born:.3f} s"></div>')
        if state:
            out.append(f'<div class="state {escape(state)}" style="left:{x1:.1f}px;width:{max(x2 - x1, 2):.1f}px" '
                       f'title="{escape(record.id)} {escape(state)} at {at:.3f} s"><span>{escape(state)}</span></div>')
        for bar in runs[record.id]:
            out.append(f'<div class="attempt" style="left:{axis.x(bar.start):.1f}px" '
                       f'title="attempt {bar.attempt} on {escape(bar.lane)} at {bar.start:.3f} s">'
                       f"<span>{escape(bar.lane)}</span></div>")
        out.append("</div></div>")
    return "".join(out)


_CSS = """
body{font:13px/1.35 system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:0;background:#fafafa;color:#222}
header{padding:10px 16px 6px;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:18px;margin:0 0 2px}
 h2{font-size:14px;margin:14px 0 4px}
.headline{margin:0 0 6px;color:#555;font-family:'DejaVu Sans Mono',monospace;font-size:12px}
.violations{margin:0 0 6px;padding:0;list-style:none}
.violations .violation{background:#fde8e8;border-left:4px solid #c62828;padding:4px 8px;margin:2px 0;color:#8a1414;
  font-weight:600}
.ok{background:#e7f5e9;border-left:4px solid #2e7d32;padding:4px 8px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#333}
.key{display:inline-flex;align-items:center;gap:5px}
.sw{display:inline-block;width:16px;height:10px;border-radius:2px}
.sw-workflow{background:#5c7cfa}
.sw-leaf{background:#20c997}
.sw-culprit{background:#fff;outline:2px solid #c62828}
.sw-crash,.sw-restart,.sw-net,.sw-created{width:10px;border-radius:50%}
.sw-crash{background:#c62828}
.sw-restart{background:#2e7d32}
.sw-net{background:#868e96}
.sw-created{background:#adb5bd}
.sw-effect{width:9px;height:9px;background:#f59f00;border-radius:1px;transform:rotate(45deg)}
.sw-violation{width:10px;background:#c62828;border-radius:1px}
.sw-pending{background:#e9ecef;border:1px solid #adb5bd}
.sw-resolved{background:#b2f2bb}
.sw-rejected{background:#ffc9c9}
.hint{margin:4px 0 0;color:#777;font-size:11px}
.timeline{padding:6px 16px 16px}
.axis{position:relative;height:30px;border-bottom:1px solid #bbb;margin-bottom:2px}
.tick{position:absolute;top:1px;z-index:1;background:#fafafa;font-size:10px;color:#666;white-space:nowrap;
  border-left:1px solid #bbb;padding-left:2px}
.lane,.promise{position:relative;display:flex;border-bottom:1px solid #e3e3e3}
.promise{height:22px}
.lane-label{width:162px;min-width:162px;padding:2px 8px 0 0;text-align:right;font-weight:600;
  font-family:'DejaVu Sans Mono',monospace;font-size:12px;position:sticky;left:0;background:#fafafa;z-index:3;
  overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.lane.server{background:#f1f3f5}
.lane.checks{background:#fff5f5}
.track{position:relative}
.alive{position:absolute;top:2px;bottom:2px;background:#eef2ff;border-radius:3px}
.break{position:absolute;top:0;background:repeating-linear-gradient(135deg,transparent 0 5px,#e5e5e5 5px 7px);
  z-index:0}
.break span{position:absolute;bottom:0;left:50%;transform:translateX(-50%);font-size:10px;color:#777;
  background:#fafafa;padding:0 2px;white-space:nowrap}
.bar{position:absolute;height:17px;border-radius:3px;color:#fff;font-size:11px;z-index:1;
  box-sizing:border-box}
.bar span{position:absolute;left:3px;top:1px;white-space:nowrap;color:#1a1a1a;
  background:rgba(255,255,255,.85);padding:0 3px;border-radius:2px;font-size:10.5px;line-height:14px}
.bar.workflow{background:#5c7cfa}
.bar.leaf{background:#20c997}
.bar.crashed{background-image:linear-gradient(90deg,transparent 70%,rgba(198,40,40,.7))}
.bar.culprit{outline:2px solid #c62828;outline-offset:1px}
.mark{position:absolute;top:2px;width:0;height:16px;z-index:2}
.mark::before{content:'';position:absolute;left:-6px;top:3px;width:11px;height:11px;border-radius:50%;
  background:#868e96}
.mark span{position:absolute;left:8px;top:1px;font-size:11px;white-space:nowrap;font-weight:600}
.mark.crash{top:0;height:100%;border-left:2px solid #c62828}
.mark.crash span{left:auto;right:9px} /* left of its line: an effect at the same moment labels to the right */
.mark.crash::before{background:#c62828}
.mark.crash span{color:#c62828}
.mark.restart::before{background:#2e7d32}
.mark.restart span{color:#2e7d32}
.mark.effect::before{background:#f59f00;border-radius:1px;transform:rotate(45deg);width:10px;height:10px}
.mark.effect span{color:#b35c00}
.mark.effect.culprit::before{box-shadow:0 0 0 2px #c62828}
.mark.violation{top:0;height:100%;border-left:2px dashed #c62828}
.mark.violation::before{background:#c62828;border-radius:1px}
.mark.violation span{color:#c62828}
.mark.error::before{background:#c62828}
.mark.drop span,.mark.duplicate span{color:#555}
.lane.server .mark::before{width:7px;height:7px;left:-4px;top:5px}
.mark.created::before{background:#adb5bd}
.mark.settled.resolved::before{background:#2b8a3e}
.mark.settled.rejected::before{background:#c62828}
.mark.server-restart::before{background:#2e7d32}
.state{position:absolute;top:3px;height:15px;box-sizing:border-box;font-size:10px;overflow:hidden}
.state span{padding-left:3px;white-space:nowrap}
.state.pending{background:#e9ecef;border:1px solid #adb5bd}
.state.resolved{background:#b2f2bb}
.state.rejected{background:#ffc9c9}
.lane-label small{font-weight:400;color:#666}
.promise.culprit .lane-label{color:#c62828}
.promise.culprit{background:#fff5f5;outline:2px solid #c62828;outline-offset:-2px}
.attempt{position:absolute;top:0;height:21px;border-left:2px solid #5c7cfa;z-index:1}
.attempt span{position:absolute;left:2px;top:7px;font-size:9px;color:#364fc7}
.events{margin:0 16px 16px}
.events pre{font-size:11px;max-height:400px;overflow:auto;background:#fff;border:1px solid #ddd;padding:6px}
#tip{position:fixed;z-index:9;max-width:640px;background:#222;color:#fff;font-size:12px;padding:4px 7px;
  border-radius:3px;pointer-events:none;display:none;font-family:'DejaVu Sans Mono',monospace}
"""

_SCRIPT = """
(function(){var tip=document.createElement('div');tip.id='tip';document.body.appendChild(tip);
document.addEventListener('mouseover',function(e){var t=e.target.closest('[title],[data-tip]');
if(!t){tip.style.display='none';return;}
if(t.title){t.setAttribute('data-tip',t.title);t.removeAttribute('title');}
tip.textContent=t.getAttribute('data-tip');tip.style.display='block';});
document.addEventListener('mousemove',function(e){tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+14)+'px';});})();
"""
