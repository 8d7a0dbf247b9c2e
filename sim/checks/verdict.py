"""A world's verdict: the checks made once it has run, in the order they are made.

During the run the server's observers watch (1) settled-once and (6) the task invariants at every step,
and the world's workers report platform errors as they happen (``platform``); a stopped body, an error
escaping the world and replayed choices that diverged are added as the run ends. ``judge`` then adds
(2) no rerun after resolve, (3)/(4) the replay oracle (over the workflows where it could disagree,
``replay_scope``; every one, each with the version that would replay it, in a world with an upgrade:
``ran_by``, which also names the versions in a nondeterminism report), and, for a world that ran to its
end, (4) the root against ``expected=``/``outcomes=`` and (5) liveness. The user's invariants (8) come last, given
the finished world; ``cause_first`` orders the lot for the report.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import WorkflowEnd

from ..scenario import NOT_GIVEN, Invariant, Scenario, versions
from ..trace import Trace
from . import oracle
from .liveness import liveness
from .misuse import misuse
from .ran_by import RanBy
from .replay_scope import unreplayed
from .rerun import no_rerun_after_resolve
from .root_value import acceptable_outcome, expected_value
from .violations import Violation


@attrs.frozen
class Verdict:
    """The violations of a finished world, and how many workflow promises the oracle replayed and left
    out (``sim.checks.replay_scope``)."""

    violations: list[Violation]
    replayed: int
    unreplayed: int


def judge(found: Iterable[Violation], trace: Trace, promises: Sequence[PromiseRecord], scenario: Scenario,
          root: PromiseRecord | None, *, finished: bool, step_limit: float, quiesce_after: float, budget: float,
          root_param: str, faults: Mapping[str, int] | None = None, replay_all: bool = False,
          ends: Mapping[str, Sequence[WorkflowEnd]] | None = None, waiting: Sequence[str] = ()) -> Verdict:
    """``found`` (what the run itself found) and the checks of the finished world after it. A world
    stopped part-way (``finished`` false) has no outcome yet: only the checks that hold part-way apply.
    ``faults`` counts the faults that fired, by kind; without it, or with ``replay_all``, the oracle
    replays every workflow; ``ends`` are the runs of workflow bodies that ended, by promise (``replay_scope``);
    ``waiting`` what the world still waited for after its root settled (actors, promise ids: ``liveness``)."""
    ran_by = RanBy(trace, versions(scenario)) if scenario.upgrade is not None else None
    out = list(found) if ran_by is None else [ran_by.named(v) for v in found]
    out += no_rerun_after_resolve(trace)
    out += misuse(promises)
    # With an upgrade every workflow is replayed: the certificate that leaves one out is of one version's code.
    skip = frozenset() if ran_by is not None else unreplayed(promises, scenario, trace, faults or {}, failed=bool(out),
                                                              replay_all=replay_all, ends=ends)
    replays = oracle.run(promises, scenario, step_limit, skip, ran_by)
    out += replays.violations
    if finished:
        if scenario.expected is not NOT_GIVEN:
            out += expected_value(root, scenario.expected)
        if scenario.outcomes is not NOT_GIVEN:
            out += acceptable_outcome(root, scenario.outcomes)
        out += liveness(root, scenario.root_id, quiesce_after, budget, root_param, waiting, promises)
    return Verdict(out, replays.replayed, replays.skipped)


def user_invariants(result: Any, invariants: Iterable[Invariant]) -> list[Violation]:
    """(8) Each broken rule the scenario's own invariants report, given the finished world (a
    ``sim.RunResult``), one violation per line. An invariant that raises fails this world with a
    violation naming it and the error (the sweep goes on): a broken check is no passing world."""
    out = []
    for invariant in invariants:
        try:
            out += [Violation("user", str(line)) for line in invariant(result)]
        except Exception as exc:
            out.append(Violation("user", f"invariant {_qualified(invariant)} raised {type(exc).__name__}: "
                                 f"{_one_line(exc)}{_line_of(exc)}; an invariant reports broken rules as lines, "
                                 "it must not raise"))
    return out


def _qualified(fn: object) -> str:
    """``module.qualname`` of an invariant (its repr if it has none)."""
    name = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if name and module else repr(fn)


def _one_line(exc: BaseException) -> str:
    """An error's message on one line, cut to a length a report can show."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:300] + " …"


def _line_of(exc: BaseException) -> str:
    """`` (file.py, line N)``: where in the invariant the error was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if len(frames) > 1 else ""
