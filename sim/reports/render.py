"""Renderers of a finished world: a text log, the execution tree, and JSON that loads back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_durable.core.tree import tree

from ..trace import Trace, decodings
from ..world import RunResult
from . import story
from .diagnosis import diagnosis

#: The version of a saved world's JSON, checked by ``python -m sim replay`` (``sim.reports.saved``). 2: events carry
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
    """Seed, outcome, fault counts, steps and time; for a failing world the bug class where the checks tell
    it (``diagnosis``); then each fault (up to ``limit``) and violation."""
    lines = [headline(result)]
    named = diagnosis(result)
    if named:
        lines.append(f"  bug: {named}")
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
        "max_promises": result.max_promises,
        "max_depth": result.max_depth,
        "root_id": result.root_id,
        "trace_hash": result.trace_hash,
        "virtual_time": result.virtual_time,
        "fault_counts": dict(result.fault_counts),
        "unfired": list(result.unfired),
        "violations": [str(v) for v in result.violations],
        "decisions": [list(d) for d in result.decisions],
        "decisions_hash": decisions_hash(result.decisions),
        "events": result.trace.to_json(),
        "decoded": decodings(result.promises),
    }


def decisions_hash(decisions: Iterable[Sequence[object]]) -> str:
    """A digest of a world's decisions, saved beside them: an edited choice that happens to trace the same
    (two orders of a batch that do the same) is still an edited file, and replay says so."""
    text = json.dumps([list(d) for d in decisions], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dumps(result: RunResult) -> str:
    return json.dumps(to_json(result), indent=None, separators=(",", ":"))


def load_trace(data: dict[str, Any]) -> Trace:
    """The trace of a JSON world; its hash must match the recorded one."""
    trace = Trace.from_json(data["events"])
    if trace.hash() != data["trace_hash"]:
        raise ValueError(f"trace in JSON hashes to {trace.hash()}, but the file says {data['trace_hash']}")
    return trace
