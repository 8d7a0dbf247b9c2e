"""A world's verdict: the checks made once it has run, in the order they are made.

During the run the server's observers watch (1) settled-once and (6) the task invariants at every step,
and the world's workers report platform errors as they happen (``platform``); a stopped body, an error
escaping the world and replayed choices that diverged are added as the run ends. ``judge`` then adds
(2) no rerun after resolve, (3)/(4) the replay oracle (over the workflows where it could disagree,
``replay_scope``), and, for a world that ran to its end, (4) the root against ``expected=``/``outcomes=``
and (5) liveness. The user's invariants (8) come last, given
the finished world; ``cause_first`` orders the lot for the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import WorkflowEnd

from ..scenario import NOT_GIVEN, Invariant, Scenario
from ..trace import Trace
from . import oracle
from .liveness import liveness
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
    out = list(found)
    out += no_rerun_after_resolve(trace)
    skip = unreplayed(promises, scenario, trace, faults or {}, failed=bool(out), replay_all=replay_all, ends=ends)
    replays = oracle.run(promises, scenario, step_limit, skip)
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
    ``sim.RunResult``), one violation per line."""
    return [Violation("user", line) for invariant in invariants for line in invariant(result)]
