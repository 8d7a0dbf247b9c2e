"""Which workflow promises of a finished world the replay oracle must replay: where it could disagree.

The oracle's fresh replay (``oracle``) is the dearest check of a small world. It compares a replay over
the final record with the record, and two things can make them differ: the workflow's code, when it
reads something outside ``ctx`` (module state, clocks, ``random``, trio's timing, dependencies, object
addresses: ``ctx_only`` certifies a body that cannot), in any world; and the platform, when the last
execution of the workflow was handed an outcome other than the one recorded (a replay engine that
misreads a preloaded branch, a store that answers a retried or duplicated request wrongly), which only
happens when something was replayed or re-delivered. So a workflow promise is left out only when both
are ruled out: its workflow is certified, and either

- its body ran exactly once (so that execution replayed nothing: every outcome it consumed was an
  answer to its own first-hand request), and the world had no fault that re-delivers or replays (only
  ``reject``, ``drop`` and ``store_error`` fired, and no dropped answer to a request the server had
  applied); or
- a run of its body that ended (``WorkflowEnd``, which the world's workers report) asked for exactly
  the children the record holds under it, read each settled child as the record has it now, and settled
  with the recorded state and value. A certified body is a function of what ``ctx`` hands it, and a
  replay over the record hands it exactly what that run read, so the replay could only repeat that run:
  this covers the worlds with crashes, re-runs and duplicates, where the last run replayed the rest.

And never:

- in a world where no fault fired (the fault-free world of every sweep): there the oracle is the check
  that a crash nobody injected would replay the workflow as it ran;
- in a world where an earlier check already failed (a platform error, a body run after its promise
  resolved, a broken invariant): a failing world's report should be whole;
- in a world whose records carry a value of a class that fails the class test (its methods may read
  anything), or when ``SimConfig(replay_all=True)`` asks for every replay.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Mapping, Sequence

from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.sdk import WorkflowEnd
from pytest_durable.sdk.replay import SETTLED_BY_BODY

from ..kernel.isolation import module_code
from ..scenario import Scenario, isolated_modules
from ..trace import Trace
from .ctx_only import Certifier
from .oracle import call_of

_CERTIFIERS: dict[tuple[str, ...], tuple[tuple[types.CodeType, ...], Certifier]] = {}


def certifier(scenario: Scenario) -> Certifier:
    """The certifier of ``scenario``'s isolated modules, kept while their code stays the same."""
    names = isolated_modules(scenario)
    codes = tuple(module_code(name) for name in names)
    cached = _CERTIFIERS.get(names)
    if cached is not None and len(cached[0]) == len(codes) and all(map(operator.is_, cached[0], codes)):
        return cached[1]
    if len(_CERTIFIERS) >= 64:
        _CERTIFIERS.clear()
    made = Certifier(names)
    _CERTIFIERS[names] = (codes, made)
    return made


#: Fault kinds that neither replay a body nor make the server apply a request twice: a leaf's injected
#: failure, a request lost before it reached the server or refused there (a response lost after the
#: server applied the request is looked for in the trace).
FIRST_HAND = frozenset({"reject", "drop", "store_error"})


def unreplayed(promises: Sequence[PromiseRecord], scenario: Scenario, trace: Trace, faults: Mapping[str, int], *,
               failed: bool, replay_all: bool = False,
               ends: Mapping[str, Sequence[WorkflowEnd]] | None = None) -> frozenset[str]:
    """The workflow promises (by id) of this world that need no replay (see the module's docstring);
    ``faults`` counts the faults that fired, by kind; ``ends`` are the runs of workflow bodies that
    ended with a settlement, by promise."""
    fired = {kind for kind, n in faults.items() if n}
    if replay_all or not fired or failed:
        return frozenset()
    check = certifier(scenario)
    certified = frozenset(fn.name for fn in scenario.all_functions() if fn.is_workflow and not check.workflow(fn))
    if not certified or check.values(promises):
        return frozenset()
    ends = ends or {}
    once = _once(trace) if not fired - FIRST_HAND else {}
    workflows = [p for p in promises if (once.get(p.id) == 1 or p.id in ends) and call_of(p) in certified]
    repeated = _repeated(promises, workflows, ends)
    return frozenset(p.id for p in workflows if once.get(p.id) == 1 or p.id in repeated)


def _once(trace: Trace) -> dict[str, int]:
    """How many times each body ran, in a world whose faults neither replay nor re-deliver; empty where a
    dropped answer to an applied request made a retry a second delivery."""
    bodies: dict[str, int] = {}
    for event in trace:
        if event.kind == "body":
            bodies[event.id] = bodies.get(event.id, 0) + 1
        elif event.kind == "drop" and event.get("side") == "response":
            return {}  # the server applied it: the retry is a second delivery
    return bodies


def _repeated(promises: Sequence[PromiseRecord], workflows: Sequence[PromiseRecord],
              ends: Mapping[str, Sequence[WorkflowEnd]]) -> set[str]:
    """The workflow promises a run of whose body read the record as it is now and settled as recorded."""
    wanted = {p.id for p in workflows if p.state in SETTLED_BY_BODY and p.id in ends}
    if not wanted:
        return set()
    records = {p.id: p for p in promises}
    children: dict[str, set[str]] = {id: set() for id in wanted}
    for p in promises:
        parent = p.tags.get(TAG_PARENT)
        if parent in children:
            children[parent].add(p.id)
    return {id for id in wanted if any(_agrees(end, records, children[id]) for end in ends[id])}


def _agrees(end: WorkflowEnd, records: Mapping[str, PromiseRecord], children: set[str]) -> bool:
    record = records[end.id]
    if end.settlement != (record.state, record.value) or end.asked != children:
        return False
    for id, read in end.read.items():
        now = records.get(id)
        if now is None or (now.state, now.value, now.param) != (read.state, read.value, read.param):
            return False
    return True


__all__ = ["certifier", "unreplayed"]
