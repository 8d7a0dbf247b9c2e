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

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from pytest_durable.core.codec import class_modules, decode_call, describe_call
from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.store import TAG_PARENT, TAG_PATCH
from pytest_durable.sdk import DurableFunction, Registry
from pytest_durable.sdk.replay import SETTLED_BY_BODY, Replay, Runner, call_of
from pytest_durable.sdk.replay import replay as sdk_replay

from ..kernel import copy_pool, virtual_time
from ..kernel.decisions import SeededDecisions
from ..kernel.isolation import FreshModules
from ..kernel.scheduler import deterministic_scheduling
from ..kernel.watchdog import Watchdog
from ..scenario import Scenario, Version, make_dependencies, versions
from ..trace import Ledger, recording_into
from .ran_by import RanBy
from .violations import Violation


def replay(record: PromiseRecord, records: Mapping[str, PromiseRecord], fn: DurableFunction[..., Any],
           registry: Registry, step_limit: float = 0.0, dependencies: Mapping[str, object] | None = None) -> Replay:
    """Replay workflow ``record`` (settled or not) over ``records`` with the SDK's engine
    (``pytest_durable/sdk/replay.py``), bodies of children never run, in a run as deterministic as a
    world's: seeded scheduling and virtual time. With a ``step_limit``, a body that stops yielding is
    stopped by the watchdog (no verdict). The body reads ``dependencies`` as a worker's would."""
    return sdk_replay(record, records, fn, registry, dependencies=dependencies, run=_world_runner(step_limit))


def _world_runner(step_limit: float) -> Runner:
    """How the oracle runs a replay's ``trio.run``: as a world runs, on its scheduler and clock."""

    def run(main: Callable[[], Awaitable[None]]) -> None:
        watchdog = Watchdog(step_limit) if step_limit > 0 else None
        with deterministic_scheduling(SeededDecisions(0)):
            if watchdog is None:
                trio.run(main, clock=virtual_time.clock())
            else:
                with watchdog.armed():
                    trio.run(main, clock=virtual_time.clock(), instruments=[watchdog])

    return run


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


def _decodes(record: PromiseRecord) -> bool:
    """Whether a workflow's param decodes whole (its arguments' classes found): a replay needs them."""
    try:
        decode_call(record.param)
    except Exception:  # a foreign param is no workflow of ours
        return False
    return True


def _judge(record: PromiseRecord, result: Replay, records: Mapping[str, PromiseRecord],
           recorded: list[str], version: str = "") -> list[Violation]:
    wf = f"{record.id} {describe_call(record.param)}"
    if result.mismatch is not None:
        m = result.mismatch
        return [Violation("nondeterminism", f"replaying {wf}{version} over the store's records calls child {m.id} as "
                          f"{m.new}; the store recorded {m.recorded}", m.id)]
    if record.state not in SETTLED_BY_BODY:
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
