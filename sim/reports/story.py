"""What each promise's body did in a finished world, for the execution tree: every run of it (attempt
N of a leaf, run N of a workflow), the process incarnation that ran it (``w1#2``), how the run ended
(settled, suspended, failed and retried, cut by a crash) and the ledger effects it made.

It is read from the trace's structured events and the ledger, never from the events' wording, and
changes nothing in the world: it only tells the story the tree shows beside each promise.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from pytest_durable.core.codec import decode_call
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.sdk import ATTEMPT

from ..checks import CAUSES
from ..trace import Entry, Ledger
from ..world import RunResult

#: Requests after which a task's bodies have stopped running: the task gave its work back.
_TASK_ENDS = {"suspend": "suspended", "release": "released"}


@attrs.define
class Run:
    """One run of a promise's body: which one (from 1), where and when it started, what it recorded
    in the ledger and how it ended (empty while nothing says so)."""

    number: int
    process: str
    time: float
    workflow: bool
    effects: list[str] = attrs.field(factory=list)
    end: str = ""

    def line(self) -> str:
        what = "run" if self.workflow else "attempt"
        parts = [f"{what} {self.number} on {self.process} at {self.time:.3f} s"]
        tail = "; ".join([*(f"ledger {key}" for key in self.effects), *([self.end] if self.end else [])])
        return f"{parts[0]}: {tail}" if tail else parts[0]


def runs(result: RunResult) -> dict[str, list[Run]]:
    """Every run of every body, by promise id, in the order they started."""
    parents = {r.id: r.tags.get(TAG_PARENT) for r in result.promises}
    attempts = {r.id: r.tags.get(TAG_PARENT, "") for r in result.promises if decode_call(r.param).func == ATTEMPT}
    out: dict[str, list[Run]] = {}
    going: dict[str, dict[str, Run]] = {}  # incarnation -> promise id -> its run not ended yet
    crashed: dict[str, str] = {}  # incarnation -> how it crashed

    def end(who: str, promise: str, how: str) -> None:
        run = going.get(who, {}).pop(promise, None)
        if run is not None:
            run.end = how

    for event in result.trace:
        who = event.who
        if event.kind == "body":
            # A run still going did not fail (a retried failure is recorded first, ending it): its task
            # was taken over, by another incarnation or by this one after the task's lease expired.
            for other in [w for w, there in going.items() if event.id in there]:
                end(other, event.id, f"✗ overtaken: ran again on {who}")
            run = Run(len(out.setdefault(event.id, [])) + 1, who, event.time, event.get("workflow") == "yes")
            out[event.id].append(run)
            if who in crashed:  # a task of a crashed incarnation gets this far before it is cancelled
                run.end = f"✗ cut: {who} crashed{crashed[who]}"
            else:
                going.setdefault(who, {})[event.id] = run
        elif event.kind == "reject":
            end(who, event.id, "✗ injected failure (the body did not run)")
        elif event.kind == "send" and event.get("op") == "create" and event.id in attempts:
            end(who, attempts[event.id], "✗ failed")  # the attempt's error is being recorded
        elif event.kind == "settled":
            for there in going.values():
                if event.id in there:
                    there.pop(event.id).end = f"settled {event.get('state')}"
        elif event.kind == "send" and event.get("op") in _TASK_ENDS:
            there = going.get(who, {})
            for promise in [p for p in there if _under(p, event.id, parents)]:
                there.pop(promise).end = _TASK_ENDS[event.get("op")]
        elif event.kind in CAUSES and event.id:
            end(who, event.id, f"✗ {event.kind}")
        elif event.kind == "crash":
            crashed[who] = f" ({event.detail})" if event.detail else ""
            for run in going.pop(who, {}).values():
                run.end = f"✗ cut: {who} crashed{crashed[who]}"
    for promise_runs in out.values():
        for run in promise_runs[:-1]:
            if run.end.startswith(("✗ failed", "✗ injected failure")):
                run.end += ", retried"
    _effects(result.ledger, out)
    return out


def _under(promise: str, root: str, parents: dict[str, str | None]) -> bool:
    """``promise`` is ``root`` or below it (local children run in their root's task)."""
    seen: set[str] = set()
    current: str | None = promise
    while current is not None and current not in seen:
        if current == root:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _effects(ledger: Ledger, out: dict[str, list[Run]]) -> None:
    """Each ledger entry under the run that made it: the last run of its promise on its incarnation
    that had started by then (or the promise's last run, if the entry names no incarnation)."""
    for entry in ledger.entries:
        candidates = [r for r in out.get(entry.by, ()) if r.time <= entry.time
                      and (not entry.process or r.process == entry.process)]
        if candidates:
            candidates[-1].effects.append(entry.key)
        elif entry.by:
            out.setdefault(entry.by, []).append(_loose(entry))


def _loose(entry: Entry) -> Run:
    """An effect made where no body run is known (recorded with an explicit ``by``)."""
    run = Run(0, entry.process or "?", entry.time, False, [entry.key])
    return run


def notes(result: RunResult) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Annotations for ``core.tree``: a promise whose body ran once, settled and made no effect gets
    ``  [w1#1]`` on its line; any other gets a line per run under it."""
    suffix: dict[str, str] = {}
    lines: dict[str, list[str]] = {}
    for promise, promise_runs in runs(result).items():
        if _plain(promise_runs):
            suffix[promise] = f"  [{promise_runs[0].process}]"
        else:
            lines[promise] = [_text(run) for run in promise_runs]
    return suffix, lines


def _plain(promise_runs: Iterable[Run]) -> bool:
    listed = list(promise_runs)
    return (len(listed) == 1 and not listed[0].effects and listed[0].number == 1
            and listed[0].end.startswith("settled"))


def _text(run: Run) -> str:
    if run.number == 0:
        return f"ledger {', '.join(run.effects)} on {run.process} at {run.time:.3f} s"
    return run.line()


__all__ = ["Run", "notes", "runs"]
