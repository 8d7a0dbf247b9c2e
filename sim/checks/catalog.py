"""The one list of what a verdict checks, in the order a failing world's report gives them.

A failing world usually breaks several checks at once: one of them is the cause, the others its
symptoms (a platform error leaves promises unsettled, so liveness fails too). ``CATALOG`` lists every
check with the number reports show it under and its rank: ``violations.cause_first`` sorts a world's violations
by rank, so the cause leads. The architecture document (``docs/architecture.md``, "What a verdict
checks") gives the same list in words.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Check:
    """One check: its name (as violations carry it), the number reports show, its rank in a report
    (lower first) and what it means, in a sentence."""

    name: str
    number: int
    rank: int
    means: str


#: Every check, in report order. Rank 0, what broke the run itself: a platform error inside the world
#: (each names the promise at fault), an error escaping the world, two runs of one world that differ.
#: Rank 1, a broken safety rule seen at an event. Rank 2, a workflow that disagrees with its own record.
#: Rank 3 is a root rejected with an error (its outcome check moves there: the error says why the
#: workflow ended so). Rank 4, the user's invariants; 5, a root outside the acceptable outcomes, which
#: what broke earlier brought about; 6, a root that never settled, the symptom of nearly anything; 7,
#: the test's own assertion, which the world's checks explain.
CATALOG: tuple[Check, ...] = (
    Check("nondeterminism", 9, 0, "a workflow called a recorded child differently on replay (in an upgrade world, "
          "also which version of the code ran which body)"),
    Check("unregistered", 10, 0, "a task named a function its worker does not know"),
    Check("user-base-exception", 11, 0, "a body raised a BaseException of its own (not a platform error)"),
    Check("stuck-body", 12, 0, "a body stopped yielding (an endless loop or a blocking call)"),
    Check("missing-dependency", 13, 0, "a body asked for a dependency its worker was not given"),
    Check("swallowed-signal", 14, 0, "a workflow body caught the platform's suspension or crash signal and went on"),
    Check("misuse", 16, 0, "a body misused the SDK (a UsageError at a ctx call: a builder started twice, an "
          "argument that cannot be stored, local workflows nested too deep)"),
    Check("promise-cap", 15, 0, "the world made more promises than SimConfig.max_promises, or a chain of calls "
          "deeper than SimConfig.max_depth (a workflow calling "
          "itself without end?) and was stopped"),
    Check("error", 0, 0, "an error escaped the world itself (the simulator or a store broke)"),
    Check("determinism", 7, 0, "the same world traced differently, or asked for other choices than recorded"),
    Check("settled-once", 1, 1, "a promise changed after it settled"),
    Check("no-rerun-after-resolve", 2, 1, "a body started after its promise was resolved"),
    Check("task-invariants", 6, 1, "one of the seven task invariants broke after a request"),
    Check("replay-children", 3, 2, "a fresh replay asks for children the store never recorded, or fewer"),
    Check("replay-value", 4, 2, "a fresh replay computes another value than the store recorded"),
    Check("user", 8, 4, "one of the scenario's own invariants reported a broken rule"),
    Check("expected-value", 4, 5, "the root returned another value than expected="),
    Check("outcome", 4, 5, "the root's outcome is not among outcomes="),
    Check("liveness", 5, 6, "the root did not settle within the budget after faults stopped"),
    Check("test", 0, 7, "a durable pytest test's own assertion failed (shown with the world on its timeline)"),
)

#: A violation's number by its check's name (0 for a name the catalog lacks).
NUMBERS = {check.name: check.number for check in CATALOG}

#: Violations that are the cause of a failing world: platform errors inside it. The ones of other
#: checks they bring about (a missing promise, a root that never settles) are symptoms.
CAUSES = ("nondeterminism", "unregistered", "user-base-exception", "stuck-body", "missing-dependency",
          "swallowed-signal", "promise-cap", "misuse")

#: Where each check's violations stand in a report (lower first); ``violations.cause_first`` sorts by it.
RANKS = {check.name: check.rank for check in CATALOG}
#: The rank of an outcome check (``expected-value``, ``outcome``) when the root was rejected with an error.
REJECTED_OUTCOME_RANK = 3
#: The rank of a check the catalog does not list: last.
UNKNOWN_RANK = 7
