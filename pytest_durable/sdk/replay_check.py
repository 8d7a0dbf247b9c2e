"""The deploy check: would new code replay a history recorded by old code as it was recorded?

Every workflow promise of a root's tree (the root, local and remote child workflows) is replayed by the
new code over the history (``replay``): children answer from the record, no body runs, nothing is
written. A deploy breaks a root when the new code calls a recorded child differently (another function,
other arguments, another order), when a workflow its body settled asks, replayed, for a child never
recorded or for fewer children than recorded, or computes another value from the same children; when
the record calls a function the new code no longer registers where that matters (a workflow to replay,
a child still to run); and when a recorded value holds a class the new code cannot decode. A workflow
still in flight may go past its record: that is where the new code takes over, and its first call past
the record (or the pending child it would run or await) is the root's ``next_call``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..core.codec import decode, decode_call, decode_error, describe_call
from ..core.history import History
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_DETACHED, TAG_PARENT, TAG_PATCH, TAG_SCOPE, TAG_TIMER
from .frame import how_called
from .function import Registry
from .replay import SETTLED_BY_BODY, Replay, call_of, replay


@attrs.frozen
class RootCheck:
    """The verdict on one root: its recorded ``state``; ``compatible`` or the ``breaks`` (one line each);
    for a root in flight, the ``next_call`` the new code will make; ``old_paths``, the patch ids whose
    old path a workflow of this root still in flight takes (a settled workflow never runs again, so its
    path binds nothing); ``patches``, every patch id a replay of this root asked about or its record
    holds a marker of."""

    root: str
    state: PromiseState
    compatible: bool
    breaks: tuple[str, ...]
    next_call: str | None
    old_paths: tuple[str, ...]
    patches: tuple[str, ...] = ()
    #: Workflows still in flight whose replay stopped at a pending child while the record holds children
    #: past it, each with the patch ids its replay answered before stopping: a ``ctx.patched`` it meets
    #: after that child settles may find those children unasked and take the old path, so no check can
    #: yet say which path it takes (``may_take_old_path``).
    short_of_record: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def may_take_old_path(self, patch: str) -> bool:
        """Whether an execution of this root in flight takes, or may yet take, patch ``patch``'s old path."""
        return patch in self.old_paths or any(patch not in answered for _, answered in self.short_of_record)

    def report(self) -> str:
        """What the CLI prints for this root: one line if compatible, else a line per break."""
        head = f"{self.root} ({self.state.value})"
        extra = ""
        if self.next_call is not None:
            extra += f"; next: {self.next_call}"
        if self.old_paths:
            extra += f"; takes the old path of patch {', '.join(repr(p) for p in self.old_paths)}"
        if self.compatible:
            return f"{head}: compatible{extra}"
        lines = [f"{head}: BREAKS with the new code{extra}"]
        lines += [f"  - {line}" for line in self.breaks]
        return "\n".join(lines)


def check_history(history: History, registry: Registry, *,
                  dependencies: Mapping[str, object] | None = None) -> RootCheck:
    """Replay every workflow promise of ``history`` with the functions of ``registry`` (the new code)
    and judge the root (see the module's docstring). ``dependencies`` are handed to bodies as a
    worker's (``Worker.set_dependency``)."""
    records = {r.id: r for r in history.records}
    children: dict[str, list[str]] = {}
    for r in history.records:
        parent = r.tags.get(TAG_PARENT)
        if parent is not None and TAG_PATCH not in r.tags:  # a retired patch's marker is asked for by nobody
            children.setdefault(parent, []).append(r.id)
    undecodable = _undecodable(history)
    breaks = _unregistered(history, registry, children) + undecodable
    broken = {id for id, _ in breaks}  # not replayed, nor is a workflow that would read what cannot be decoded
    broken |= {parent for id, _ in undecodable if (parent := records[id].tags.get(TAG_PARENT)) is not None}
    out = [line for _, line in breaks if line]
    results: dict[str, Replay] = {}
    for record in history.records:
        func = call_of(record)
        if func is None or record.id in broken or func not in registry or not registry.get(func).is_workflow:
            continue
        result = replay(record, records, registry.get(func), registry, dependencies=dependencies)
        results[record.id] = result
        out += _judge(record, result, records, children.get(record.id, []))
    root = history.root_record
    old = [p for id, r in results.items() if not records[id].settled for p, answer in r.patches if not answer]
    met = [p for r in results.values() for p, _ in r.patches]
    met += [r.tags[TAG_PATCH] for r in history.records if TAG_PATCH in r.tags]
    short = tuple((id, tuple(p for p, _ in r.patches)) for id, r in results.items()
                  if not records[id].settled and r.outcome is None and r.mismatch is None and r.stray is None
                  and any(child not in r.asked for child in children.get(id, ())))
    return RootCheck(history.root, root.state, not out, tuple(out), _next_call(root, results, records),
                     tuple(dict.fromkeys(old)), tuple(dict.fromkeys(met)), short)


def _unregistered(history: History, registry: Registry,
                  children: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """Recorded calls of functions the new code lacks, where it matters: the root, a workflow (a promise
    with children: it must be replayed), a child still pending (a worker must run it). A settled leaf's
    function is the business of its parent's replay. One line per function (the promises after the first
    come with an empty line: they are not replayed either)."""
    out: list[tuple[str, str]] = []
    named: set[str] = set()
    for r in history.records:
        func = call_of(r)
        if func is None or func.startswith("durable.") or func in registry:
            continue
        if r.id == history.root or r.id in children or not r.settled:
            if func not in named:
                out.append((r.id, f"{func} is no longer registered: the record calls it as {r.id} "
                                  f"{describe_call(r.param)} ({r.state.value}); keep it, or name the module that "
                                  "defines it"))
                named.add(func)
            else:
                out.append((r.id, ""))
    return out


def _undecodable(history: History) -> list[tuple[str, str]]:
    """Recorded params and values the new code cannot decode (a class gone, or changed past its fields):
    one line per reason, naming the first promises it holds for (the others come with an empty line)."""
    found: dict[tuple[str, str], list[str]] = {}
    for r in history.records:
        what = "arguments"
        try:
            if call_of(r) is not None:  # a foreign param (an external promise's) is decoded by nobody
                decode_call(r.param)
            what = "value"
            if r.state is PromiseState.RESOLVED and r.value is not None:
                decode(r.value)
        except Exception as exc:  # the codec names the class it cannot find; a class may refuse its fields
            found.setdefault((what, str(exc)), []).append(r.id)
    out: list[tuple[str, str]] = []
    for (what, reason), ids in found.items():
        if len(ids) == 1:
            out.append((ids[0], f"{ids[0]}: the new code cannot decode its recorded {what}: {reason}"))
        else:
            shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            out.append((ids[0], f"{len(ids)} promises ({shown}): the new code cannot decode their recorded {what}: "
                                f"{reason}"))
        out += [(id, "") for id in ids[1:]]
    return out


def _judge(record: PromiseRecord, result: Replay, records: Mapping[str, PromiseRecord],
           recorded: list[str]) -> list[str]:
    wf = f"{record.id} {describe_call(record.param)}"
    if result.mismatch is not None:
        m = result.mismatch
        return [f"{wf}: child {m.id} was recorded as {m.recorded}; the new code calls {m.new}"]
    if record.state not in SETTLED_BY_BODY:
        return []
    said = f"{wf} {record.state.value}"
    if result.stray is not None:
        id, param = result.stray
        return [f"{said}, but the new code asks for child {id} {_call(param, dict(result.stray_tags))}, which was "
                "never recorded"]
    if result.outcome is None:
        return [f"{said}, but the new code's replay of it stops: {result.stopped}"]
    asked = set(result.asked)
    left_out = [id for id in recorded if id not in asked]
    out: list[str] = []
    if left_out:
        shown = ", ".join(f"{id} {_call(records[id].param, records[id].tags)}" for id in left_out[:3])
        more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        out.append(f"{said}, but the new code makes fewer calls than recorded: it never asks for {shown}{more}")
    state, value = result.outcome
    if (state, value) != (record.state, record.value):
        out.append(f"{said} {_value(record.state, record.value)}, but the new code computes "
                   f"{state.value} {_value(state, value)} from the same children")
    return out


def _next_call(root: PromiseRecord, results: Mapping[str, Replay],
               records: Mapping[str, PromiseRecord]) -> str | None:
    """For a root in flight: what the new code does next, followed down through the pending child
    workflows it waits on."""
    if root.settled or root.id not in results:
        return None
    record, result = root, results[root.id]
    while True:
        name = call_of(record) or record.id
        if result.mismatch is not None:
            return None
        if result.stray is not None:
            id, param = result.stray
            return f"{name} {id} {_call(param, dict(result.stray_tags))}"
        waiting = [id for id in result.waiting if id in records]
        for id in waiting:
            child = records[id]
            if id in results and not child.settled:
                record, result = child, results[id]
                break
        else:
            if waiting:
                verb = "awaits" if result.stopped.startswith("awaits") else "runs"
                shown = ", ".join(f"{id} {_call(records[id].param, records[id].tags)} (pending)" for id in waiting[:3])
                return f"{name} {verb} {shown}" + (f" and {len(waiting) - 3} more" if len(waiting) > 3 else "")
            if result.outcome is not None:
                state, value = result.outcome
                return f"{name} {record.id} settles {state.value} {_value(state, value)}"
            return f"{name} {record.id}: {result.stopped}" if result.stopped else None


def _call(param: str, tags: Mapping[str, str] | None = None) -> str:
    """A recorded or new call as a body wrote it: ``ctx.run(charge('order-7', 30))``, ``ctx.sleep(2.0)``."""
    described = describe_call(param)
    if described.startswith("durable."):
        return "ctx." + described.removeprefix("durable.")
    if tags is None:
        return described
    verb, _ = how_called(tags.get(TAG_SCOPE), None, tags.get(TAG_TIMER), tags.get(TAG_DETACHED))
    return f"{verb}({described})"


def _value(state: PromiseState, value: str | None) -> str:
    """A recorded outcome, decoded: ``'3 reserved; ...'`` or ``ValueError: bad input``."""
    if state is PromiseState.RESOLVED:
        try:
            shown: Any = decode(value) if value is not None else None
        except Exception:  # a class the code cannot decode: shown as stored
            return _short(value or "")
        return _short(repr(shown))
    type_name, message = decode_error(value)
    return _short(f"{type_name}: {message}")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["RootCheck", "check_history"]
