"""Which workflow promises of a finished world the replay oracle must replay: where it could disagree.

The oracle's fresh replay (``oracle``) is the dearest check of a small world. It can only disagree with
a world's own run through a read outside ``ctx`` (``ctx_only`` says why), so it replays every workflow
promise, except those of a workflow certified to read nothing outside ``ctx``, and leaves out none:

- in a world where no fault fired (the fault-free world of every sweep): there the oracle is the check
  that a crash nobody injected would replay the workflow as it ran;
- in a world where an earlier check already failed (a platform error such as a replay's own
  ``NondeterminismError``, a body run after its promise resolved, a broken invariant): the argument that
  the record is what the last execution did rests on those checks, and a failing world's report should
  be whole;
- in a world whose records carry a value of a class that fails the class test (its methods may read
  anything), or when ``SimConfig(replay_all=True)`` asks for every replay.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Iterable

from pytest_durable.core.records import PromiseRecord

from ..kernel.isolation import module_code
from ..scenario import Scenario, isolated_modules
from .ctx_only import Certifier

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


def unreplayed(promises: Iterable[PromiseRecord], scenario: Scenario, *, faulted: bool, failed: bool,
               replay_all: bool = False) -> frozenset[str]:
    """The workflows (by name) whose promises in this world need no replay: none for a world without
    faults, one that failed an earlier check, or ``replay_all``; else every workflow of the scenario
    certified to read nothing outside ``ctx``, provided every class of the values in the record passes."""
    if replay_all or not faulted or failed:
        return frozenset()
    check = certifier(scenario)
    certified = frozenset(fn.name for fn in scenario.all_functions() if fn.is_workflow and not check.workflow(fn))
    if not certified or check.values(promises):
        return frozenset()
    return certified


__all__ = ["certifier", "unreplayed"]
