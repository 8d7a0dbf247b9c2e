"""A finished world as one self-contained HTML page: a timeline a person reads at a glance.

One lane per process incarnation (``w1#1``, ``w1#2``, ...) and one for the server; a bar for each
body run (with its attempt number), marks for crashes, restarts, dropped and duplicated messages and
ledger effects (on the lane of the incarnation that made them); below, each promise's state over
time; the violations and their culprit promise highlighted. Hovering shows the event. The page
needs no network: CSS is inline, positions are computed here, and the script only adds a tooltip.
Every element a reader (or a test) looks for has a stable class and ``data-`` attributes.

What is drawn where (bars, marks, lanes, rows, the axis) is ``timeline_layout``; this module draws it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from html import escape
from pathlib import Path

from pytest_durable.core.codec import describe_call

from ..checks import Violation
from ..trace import decodings, event_text
from ..world import RunResult
from . import render
from .timeline_layout import Axis, Bar, Mark, Span, bar_label, bars, culprits, lanes, marks, rows, said

__all__ = ["Axis", "Bar", "Mark", "bars", "culprits", "marks", "page", "write"]

LABEL_WIDTH = 170
ROW = 22


def write(result: RunResult, path: str | Path, *, failure: str = "") -> Path:
    """Write the page of ``result`` to ``path`` (its folder is made); return the path. ``failure`` is
    how the test failed when no check of the world did (``AssertionError: ledger: ... x2``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(result, failure=failure), encoding="utf-8")
    return out


def _attrs(data: Iterable[tuple[str, str]]) -> str:
    """``data-`` attributes of an element, escaped."""
    return "".join(f' data-{k}="{escape(v)}"' for k, v in data)


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
    spans, order = lanes(result, all_bars, all_marks, end)

    parts: list[str] = [_head(result)]
    parts.append(f'<div class="timeline" style="width:{axis.width + LABEL_WIDTH + 140:.0f}px">')
    parts.append(_axis(axis))
    for lane in order:
        parts.append(_lane(lane, spans[lane], axis, [b for b in all_bars if b.lane == lane],
                           [m for m in all_marks if m.lane == lane], guilty))
    parts.append('<h2>promises: state over time</h2>')
    parts.append(_promises(result, axis, all_bars, guilty, end))
    parts.append("</div>")
    parts.append('<details class="events"><summary>all '
                 f'{len(events)} events (text trace)</summary><pre>{escape(render.text(result.trace))}</pre></details>')
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _head(result: RunResult) -> str:
    """The page's start: title, headline, the violations, the legend and how to read the page."""
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
    """The time axis: a tick wherever there is room for its label, and the breaks, labelled."""
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
    """The hatched stand-ins for quiet stretches, ``height`` pixels tall."""
    return "".join(
        f'<div class="break" style="left:{axis.x(a):.1f}px;width:{axis.x(b) - axis.x(a):.1f}px;height:{height}px">'
        + (f"<span>{b - a:.1f} s quiet</span>" if labelled else "") + "</div>"
        for a, b in axis.breaks
    )


def _lane(name: str, span: Span, axis: Axis, lane_bars: list[Bar], lane_marks: list[Mark],
          guilty: set[str]) -> str:
    """One lane: its label, when its incarnation was alive, its bars in their rows and its marks."""
    placed = rows(lane_bars, axis)
    height = 20 + ROW * max(max(placed, default=0) + 1, 1)
    kind = "server" if name == "server" else "checks" if name == "checks" else "process"
    out = [f'<div class="lane {kind}" data-lane="{escape(name)}" style="height:{height}px">',
           f'<div class="lane-label">{escape(name)}</div>',
           f'<div class="track" style="width:{axis.width:.0f}px;height:{height}px">',
           _breaks(axis, height)]
    x0, x1 = axis.x(span[0]), axis.x(span[1])
    if kind == "process":
        out.append(f'<div class="alive" style="left:{x0:.1f}px;width:{max(x1 - x0, 2):.1f}px"></div>')
    for bar, row in zip(lane_bars, placed, strict=True):
        left, right = axis.x(bar.start), axis.x(bar.end)
        cls = ["bar", "workflow" if bar.workflow else "leaf", bar.ended]
        if bar.id in guilty:
            cls.append("culprit")
        tip = f"{event_text(bar.event)}: attempt {bar.attempt}, {bar.ended} at {bar.end:.3f} s"
        out.append(
            f'<div class="{" ".join(cls)}" data-promise="{escape(bar.id)}" data-attempt="{bar.attempt}" '
            f'style="left:{left:.1f}px;width:{max(right - left, 10):.1f}px;top:{20 + ROW * row}px" '
            f'title="{escape(tip)}"><span>{escape(bar_label(bar))}</span></div>'
        )
    for mark in lane_marks:
        data = _attrs([("time", f"{mark.time:.3f}"), *mark.data])
        label = f"<span>{escape(mark.label)}</span>" if mark.label else ""
        out.append(f'<div class="mark {escape(mark.kind)}"{data} style="left:{axis.x(mark.time):.1f}px" '
                   f'title="{escape(mark.tip)}">{label}</div>')
    out.append("</div></div>")
    return "".join(out)


def _promises(result: RunResult, axis: Axis, all_bars: list[Bar], guilty: set[str], end: float) -> str:
    """A row per promise, in the order they were created: pending, then settled, and each attempt."""
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
