"""Which workflow promises of a finished world the replay oracle must replay: where it could disagree.

The oracle's fresh replay (``oracle``) is the dearest check of a small world. It compares a replay over
the final record with the record, and two things can make them differ: the workflow's code, when it
reads something outside ``ctx`` (module state, clocks, ``random``, trio's timing, dependencies, object
addresses: ``ctx_only`` certifies a body that cannot), in any world; and the platform, when the last
execution of the workflow was handed an outcome other than the one recorded (a replay engine that
misreads a preloaded branch, a store that answers a retried or duplicated request wrongly), which only
happens when something was replayed or re-delivered. So a workflow promise is left out only when both
are ruled out: its workflow is certified, its body ran exactly once (so that execution replayed
nothing: every outcome it consumed was an answer to its own first-hand request), and the world had no
fault that re-delivers or replays (only ``reject``, ``drop`` and ``store_error`` fired, and no dropped
answer to a request the server had applied). And never:

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
               failed: bool, replay_all: bool = False) -> frozenset[str]:
    """The workflow promises (by id) of this world that need no replay (see the module's docstring);
    ``faults`` counts the faults that fired, by kind."""
    fired = {kind for kind, n in faults.items() if n}
    if replay_all or not fired or failed or fired - FIRST_HAND:
        return frozenset()
    bodies: dict[str, int] = {}
    for event in trace:
        if event.kind == "body":
            bodies[event.id] = bodies.get(event.id, 0) + 1
        elif event.kind == "drop" and event.get("side") == "response":
            return frozenset()  # the server applied it: the retry is a second delivery
    check = certifier(scenario)
    certified = frozenset(fn.name for fn in scenario.all_functions() if fn.is_workflow and not check.workflow(fn))
    if not certified or check.values(promises):
        return frozenset()
    return frozenset(p.id for p in promises if bodies.get(p.id) == 1 and call_of(p) in certified)


__all__ = ["certifier", "unreplayed"]
