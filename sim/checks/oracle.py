"""The replay oracle: what a fresh replay of each workflow would do over the store's final records.

Checks (3) and (4) judge a world by its own record, not by another world's: faults may rightly change
what recorded nondeterminism (``ctx.random()``, ``ctx.now()``), timeouts and rejected leaves produce, and
then the store holds that outcome. What production cannot tolerate is a replay that contradicts the
record: one that asks for a child the store never recorded, skips children it recorded, calls a
recorded child differently, or computes another value from the same children. So each workflow
promise is replayed once more, no body of a child running (a child the record leaves pending ends the
replay without a verdict), and its calls and outcome are compared with what the store holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import trio

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import class_modules, decode_call, describe_call
from pytest_durable.core.errors import NondeterminismError, NotFound
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from pytest_durable.core.store import TAG_ORIGIN, TAG_PARENT, TAG_PATCH, TAG_SCOPE, TAG_TARGET
from pytest_durable.sdk import DurableFunction, Execution, Registry, Suspended, run_workflow

from ..kernel import copy_pool, virtual_time
from ..kernel.decisions import SeededDecisions
from ..kernel.interrupts import afresh, interrupt_in
from ..kernel.isolation import FreshModules
from ..kernel.scheduler import deterministic_scheduling
from ..kernel.watchdog import Watchdog
from ..scenario import Scenario, Version, make_dependencies, versions
from ..trace import Ledger, recording_into
from .ran_by import RanBy
from .violations import Violation


class _Stop(BaseException):
    """Ends a replay that cannot go on without running a body or writing: no verdict on the rest."""


@attrs.frozen
class Replay:
    """What replaying workflow ``id`` over the record did: the children it asked for, in order; the
    first child it asked for that the store never recorded; the first recorded child it called
    differently; its outcome, or why it has none (``stopped``)."""

    id: str
    asked: tuple[str, ...]
    stray: tuple[str, str] | None = None  # (id, param)
    mismatch: NondeterminismError | None = None
    outcome: tuple[PromiseState, str | None] | None = None
    stopped: str = ""


class _RecordStore:
    """The store as the record left it, read-only: a replay that would write stops instead."""

    def __init__(self, records: Mapping[str, PromiseRecord]) -> None:
        self.records = records
        self.asked: list[str] = []
        self.stray: tuple[str, str] | None = None

    async def create_promise(self, id: str, param: str, timeout_at: float, tags: Mapping[str, str] | None = None,
                             *, target: str | None = None, fence: Fence | None = None) -> PromiseRecord:
        record = self.records.get(id)
        if record is None:
            self.stray = (id, param)
            raise _Stop(f"asks for {id}, which the store never recorded")
        self.asked.append(id)
        return record

    async def settle_promise(self, id: str, state: PromiseState, value: str | None, *,
                             fence: Fence | None = None) -> PromiseRecord:
        raise _Stop(f"would settle {id}, which the record leaves pending")

    async def get_promise(self, id: str) -> PromiseRecord:
        record = self.records.get(id)
        if record is None:
            raise NotFound("promise", id)
        return record

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        return await self.get_promise(id)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        raise _Stop("a replay reads its children one by one")

    # A replay runs no task: these never come up, and stop the replay if they do.

    async def get_task(self, id: str) -> TaskRecord:
        raise _Stop(f"would read task {id}")

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        raise _Stop("would dispatch tasks")

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        raise _Stop(f"would acquire task {id}")

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        raise _Stop(f"would heartbeat task {fence.task_id}")

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        raise _Stop(f"would release task {fence.task_id}")

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        raise _Stop(f"would fulfill task {fence.task_id}")

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        raise _Stop(f"would suspend task {fence.task_id}")

    async def sweep(self) -> None:
        raise _Stop("would sweep")


def replay(record: PromiseRecord, records: Mapping[str, PromiseRecord], fn: DurableFunction[..., Any],
           registry: Registry, step_limit: float = 0.0, dependencies: Mapping[str, object] | None = None) -> Replay:
    """Replay workflow ``record`` (settled or not) over ``records``; bodies of children never run. With
    a ``step_limit``, a body that stops yielding is stopped by the watchdog (no verdict). The body reads
    ``dependencies`` as a worker's would."""
    store = _RecordStore(records)
    ex = Execution(  # an empty branch: every child is looked up through the record store, which notes it
        store=store, fence=Fence(record.id, 0), registry=registry, clock=TrioClock(), rng=lambda: 0.0,
        target=_task_target(record, records), origin=record.tags.get(TAG_ORIGIN, record.id),
        branch={}, on_body=lambda id, _: _no_child_body(id, record.id), dependencies=dependencies or {},
        recorded=records,
    )
    call = decode_call(record.param)
    pending = attrs.evolve(record, state=PromiseState.PENDING, value=None, settled_on=None)
    outcome: list[tuple[PromiseState, str | None]] = []

    async def main() -> None:
        depth = _local_depth(record, records)
        outcome.append(await run_workflow(ex, fn, pending, tuple(call.args), dict(call.kwargs), depth))

    watchdog = Watchdog(step_limit) if step_limit > 0 else None
    try:
        with deterministic_scheduling(SeededDecisions(0)):
            if watchdog is None:
                trio.run(main, clock=virtual_time.clock())
            else:
                with watchdog.armed():
                    trio.run(main, clock=virtual_time.clock(), instruments=[watchdog])
    except BaseException as exc:
        interrupt = interrupt_in(exc)
        if interrupt is not None:  # the user's Ctrl-C, as itself (trio may hand it over inside a group)
            raise afresh(interrupt) from None
        asked = tuple(store.asked)
        mismatch = _find(exc, NondeterminismError)
        if mismatch is not None:
            return Replay(record.id, asked, mismatch=mismatch, stopped="called a recorded child differently")
        if _find(exc, Suspended) is not None:
            return Replay(record.id, asked, stopped="awaits a child the record leaves pending")
        stop = _find(exc, _Stop)
        why = str(stop) if stop is not None else f"raised {type(exc).__name__}: {exc}"
        return Replay(record.id, asked, store.stray, stopped=why)
    return Replay(record.id, tuple(store.asked), outcome=outcome[0])


def _local_depth(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> int:
    """How many local workflows ``record`` ran inside (its chain of ``ctx.run`` parents): a replay
    must meet the SDK's nesting limit where the recorded run met it."""
    depth = 0
    while record.tags.get(TAG_SCOPE) == "local" and record.tags.get(TAG_PARENT) in records:
        record = records[record.tags[TAG_PARENT]]
        depth += 1
    return depth


def _task_target(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> str:
    """The target of the task ``record``'s body ran in: its own, or for a local child workflow (which
    runs in its parent's task and has none) the nearest ``ctx.rpc`` ancestor's, which an ``ctx.rpc``
    without a target inherits."""
    while record.tags.get(TAG_SCOPE) == "local" and record.tags.get(TAG_PARENT) in records:
        record = records[record.tags[TAG_PARENT]]
    return record.tags.get(TAG_TARGET, "")


def _no_child_body(id: str, workflow: str) -> None:
    if id != workflow:
        raise _Stop(f"child {id} is pending in the record, so a replay would run its body")


def _find(exc: BaseException, kind: type[BaseException]) -> Any:
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


@attrs.frozen
class OracleRun:
    """What the oracle did over one world: its violations, the workflow promises it replayed, and
    those it left out because their function reads nothing outside ``ctx`` (``ctx_only``)."""

    violations: list[Violation]
    replayed: int
    skipped: int


def check(promises: Iterable[PromiseRecord], scenario: Scenario, step_limit: float = 0.0) -> list[Violation]:
    """Checks (3) and (4) over every workflow promise of a finished world (``run``, nothing left out)."""
    return run(promises, scenario, step_limit).violations


def run(promises: Iterable[PromiseRecord], scenario: Scenario, step_limit: float = 0.0,
        skip: frozenset[str] = frozenset(), ran_by: RanBy | None = None) -> OracleRun:
    """Checks (3) and (4) over a finished world's promises: replay every workflow promise and compare;
    a promise whose id is in ``skip`` is not replayed (``replay_scope`` says which may be).

    (3) ``replay-children``: a workflow whose body settled it asks, replayed, for exactly the children the
    store recorded under it — no child it never recorded (its calls depend on something outside ``ctx``),
    none left out (a replay made fewer calls than recorded: orphans). (4) ``replay-value``: it computes the
    value (or error) the store recorded. A recorded child called differently is ``nondeterminism`` for
    every workflow, settled or not. The replays run as a freshly started process would: on fresh copies
    of the scenario's isolated modules (``sim.kernel.isolation``), values decoding to their classes; a body
    that stops yielding for ``step_limit`` wall seconds ends its replay without a verdict. In a world with
    an upgrade (``ran_by``), each workflow is replayed with the version that would replay it in production
    (``RanBy.replayer``), and a report names the versions.
    """
    records = {p.id: p for p in promises}
    code = versions(scenario)
    workflows = {fn.name for version in code for fn in version.functions if fn.is_workflow}
    calls = {id: call for id, p in records.items() if (call := call_of(p)) in workflows}
    due = {id for id in calls if id not in skip}
    if not due:  # nothing to replay: no module copies, no registry
        return OracleRun([], 0, len(calls))
    by_version: dict[int, set[str]] = {}
    for id in due:
        number = 1 if ran_by is None else ran_by.replayer(id, records[id].settled).number
        by_version.setdefault(number, set()).add(id)
    out: list[Violation] = []
    for number, ids in sorted(by_version.items()):
        version = code[number - 1]
        fresh = copy_pool.take(version.isolated)
        try:
            out += _run(records, ids, fresh, version, scenario, step_limit, ran_by)
        finally:
            copy_pool.give_back(fresh)
    return OracleRun(out, len(due), len(calls) - len(due))


def _run(records: Mapping[str, PromiseRecord], due: set[str], fresh: FreshModules, version: Version,
         scenario: Scenario, step_limit: float, ran_by: RanBy | None) -> list[Violation]:
    registry = Registry()
    for fn in fresh.functions(version.functions):
        registry.register(fn)
    children: dict[str, list[str]] = {}
    for p in records.values():
        parent = p.tags.get(TAG_PARENT)
        if parent is not None and TAG_PATCH not in p.tags:  # a retired patch's marker is asked for by nobody
            children.setdefault(parent, []).append(p.id)
    out: list[Violation] = []
    token = class_modules.set(fresh.get)
    try:
        with recording_into(Ledger()):  # effects a replayed body makes are not the world's
            dependencies = make_dependencies(scenario, fresh)
            out += _replay_all(records, due, registry, children, step_limit, dependencies, version, ran_by)
    finally:
        class_modules.reset(token)
    return out


def _replay_all(records: Mapping[str, PromiseRecord], due: set[str], registry: Registry,
                children: Mapping[str, list[str]], step_limit: float, dependencies: Mapping[str, object],
                version: Version, ran_by: RanBy | None) -> list[Violation]:
    out: list[Violation] = []
    for record in records.values():
        if record.id not in due:
            continue
        call = call_of(record)
        if call is None or call not in registry or not registry.get(call).is_workflow or not _decodes(record):
            continue
        result = replay(record, records, registry.get(call), registry, step_limit, dependencies)
        found = _judge(record, result, records, children.get(record.id, []),
                       f" with {version.label}" if ran_by is not None else "")
        out += [ran_by.named(v, record.id) for v in found] if ran_by is not None else found
    return out


def call_of(record: PromiseRecord) -> str | None:
    """The function a promise's param calls, read without decoding its arguments (most promises of a
    big world are leaves, which are never replayed), or ``None`` for a param that is not a call."""
    try:
        func = json.loads(record.param)["func"]
    except Exception:  # a foreign param is no workflow of ours
        return None
    return func if isinstance(func, str) else None


def _decodes(record: PromiseRecord) -> bool:
    """Whether a workflow's param decodes whole (its arguments' classes found): a replay needs them."""
    try:
        decode_call(record.param)
    except Exception:  # a foreign param is no workflow of ours
        return False
    return True


#: States a workflow's own body settles it with; a timeout, a cancel or no settlement at all mean its
#: body may not have got to the end, so a replay may rightly ask for more than was recorded.
_BY_BODY = (PromiseState.RESOLVED, PromiseState.REJECTED)


def _judge(record: PromiseRecord, result: Replay, records: Mapping[str, PromiseRecord],
           recorded: list[str], version: str = "") -> list[Violation]:
    wf = f"{record.id} {describe_call(record.param)}"
    if result.mismatch is not None:
        m = result.mismatch
        return [Violation("nondeterminism", f"replaying {wf}{version} over the store's records calls child {m.id} as "
                          f"{m.new}; the store recorded {m.recorded}", m.id)]
    if record.state not in _BY_BODY:
        return []
    if result.stray is not None:
        id, param = result.stray
        return [Violation("replay-children", f"{wf} {record.state.value}, but replaying it{version} over the store's "
                          f"records asks for child {id} {describe_call(param)}, which the store never recorded: its "
                          "calls depend on something outside ctx (module state, wall clock, random, hash order)", id)]
    if result.outcome is None:
        return []
    asked = set(result.asked)
    left_out = [id for id in recorded if id not in asked]
    out: list[Violation] = []
    if left_out:
        shown = ", ".join(f"{id} ({records[id].state.value})" for id in left_out[:5])
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        out.append(Violation("replay-children", f"{wf} {record.state.value}, but replaying it{version} over the "
                             f"store's records never asks for {shown}{more}: a replay made fewer calls than an earlier "
                             "execution, so those promises are orphans", left_out[0]))
    state, value = result.outcome
    if (state, value) != (record.state, record.value):
        out.append(Violation("replay-value", f"{wf} {record.state.value} {_short(record.value)}, but replaying "
                             f"it{version} over the store's records gives {state.value} {_short(value)}: its value "
                             "depends on something outside ctx", record.id))
    return out


def _short(text: str | None, limit: int = 120) -> str:
    if text is None:
        return "(no value)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["OracleRun", "Replay", "call_of", "check", "replay", "run"]
