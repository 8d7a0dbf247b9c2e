"""Renderers of a finished world: a text log, the execution tree, and JSON that loads back."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pytest_durable.core.codec import describe_call
from pytest_durable.core.tree import tree

from ..trace.events import Event, Trace
from ..world.result import RunResult
from ..world.server import digest
from . import story

#: The version of a saved world's JSON, checked by ``python -m sim replay`` (``sim.saved``). 2: events carry
#: their structured data (an 8th column); 3: a file target is absolute, and a world without a target (a
#: pytest test's) records its scenario's spec and the folders its modules came from.
FORMAT_VERSION = 3


def text(trace: Trace, *, limit: int | None = None) -> str:
    """One line per event: sequence, virtual time, process#incarnation, kind, id, detail."""
    events = trace.events if limit is None else trace.events[-limit:]
    return "\n".join(e.line() for e in events)


def world_tree(result: RunResult) -> str:
    """``tree`` of a finished world, with the promises its violations name marked, and beside each
    promise its story (``story.notes``): the incarnation that ran its body, and when it ran more
    than once or made ledger effects, each run with its effects and how it ended."""
    suffix, notes = story.notes(result)
    return tree(result.promises, mark={v.id for v in result.violations if v.id}, suffix=suffix, notes=notes)


#: Trace events that are injected faults.
FAULT_EVENTS = ("crash", "drop", "duplicate", "refused", "partition", "server_restart", "reject")


def headline(result: RunResult) -> str:
    """One line: seed, the root's outcome, fault counts, steps, virtual time and trace hash."""
    faults = ", ".join(f"{k} {n}" for k, n in result.fault_counts.items()) or "none"
    state = result.root.state.value if result.root is not None else "never settled"
    return (
        f"{result.name}: root {result.root_id} {state}; faults: {faults}; {result.steps} steps; "
        f"{result.virtual_time:.3f} s virtual; trace {result.trace_hash}"
    )


def summary(result: RunResult, *, limit: int = 10) -> str:
    """Seed, outcome, fault counts, steps and time; then each fault (up to ``limit``) and violation."""
    lines = [headline(result)]
    injected = result.trace.of_kind(*FAULT_EVENTS)
    for event in injected[:limit]:
        what = " ".join(part for part in (event.kind, event.id, event.detail) if part)
        lines.append(f"  fault at {event.time:.3f} s: {event.who} {what}")
    if len(injected) > limit:
        lines.append(f"  … and {len(injected) - limit} more faults (--trace text shows them all)")
    if result.unfired:
        lines.append(f"  plan points that never fired: {'; '.join(result.unfired)} (no request matched them)")
    lines += [f"  violation {v}" for v in result.violations]
    return "\n".join(lines)


def decodings(*results: RunResult) -> dict[str, str]:
    """What the digests in trace events stand for: each promise's call (``describe_call``) and value,
    so a diff of two runs can show ``leaf(2)`` where the trace holds ``param 4367a1d9``."""
    out: dict[str, str] = {}
    for result in results:
        for record in result.promises:
            out.setdefault(digest(record.param), describe_call(record.param))
            if record.value is not None:
                out.setdefault(digest(record.value), _short(record.value))
    return out


_DIGEST = re.compile(r"\b[0-9a-f]{8}\b")


def event_text(event: Event | None, decoded: Mapping[str, str] | None = None) -> str:
    """One event on one line, its digests followed by what they stand for (``param 4367a1d9 = leaf(1)``)."""
    if event is None:
        return "(none: the trace ends before it)"
    decoded = decoded or {}
    detail = _DIGEST.sub(lambda m: f"{m[0]} = {decoded[m[0]]}" if m[0] in decoded else m[0], event.detail)
    parts = (f"event {event.seq} at {event.time:.3f} s:", event.who, event.kind, event.id, detail)
    return " ".join(part for part in parts if part)


def first_difference(first: Trace, second: Trace) -> tuple[int, Event | None, Event | None]:
    """Where two traces part: the index and the event of each there (None past a trace's end)."""
    index = next((a.seq for a, b in zip(first, second, strict=False) if a != b), min(len(first), len(second)))
    return (index, first.events[index] if index < len(first) else None,
            second.events[index] if index < len(second) else None)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_json(result: RunResult) -> dict[str, Any]:
    """Everything needed to look at a world again and to re-run it."""
    return {
        "format": FORMAT_VERSION,
        "target": result.target,
        "seed": result.seed,
        "faults": result.faults,
        "plan": result.plan,
        "quiesce_after": result.quiesce_after,
        "budget": result.budget,
        "root_id": result.root_id,
        "trace_hash": result.trace_hash,
        "virtual_time": result.virtual_time,
        "fault_counts": dict(result.fault_counts),
        "unfired": list(result.unfired),
        "violations": [str(v) for v in result.violations],
        "decisions": [list(d) for d in result.decisions],
        "events": result.trace.to_json(),
        "decoded": decodings(result),
    }


def dumps(result: RunResult) -> str:
    return json.dumps(to_json(result), indent=None, separators=(",", ":"))


def load_trace(data: dict[str, Any]) -> Trace:
    """The trace of a JSON world; its hash must match the recorded one."""
    trace = Trace.from_json(data["events"])
    if trace.hash() != data["trace_hash"]:
        raise ValueError(f"trace in JSON hashes to {trace.hash()}, but the file says {data['trace_hash']}")
    return trace
