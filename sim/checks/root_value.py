"""Check (4) against the user's word: the root's value is the one ``expected=`` names, or its outcome
is among ``outcomes=``. (The replay oracle, ``oracle``, checks the rest of (4): that the value is what a
replay of the world's own record gives.) A root that never settled is liveness's to report."""

from __future__ import annotations

from typing import Any

from pytest_durable.core.errors import Rejected
from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import result_of

from ..scenario import Outcomes, describe_outcomes, predicate_name
from .violations import Violation


def expected_value(root: PromiseRecord | None, expected: Any) -> list[Violation]:
    """(4) The root's value equals the user's expectation."""
    if root is None or not root.settled:
        return []  # liveness reports it
    try:
        value = result_of(root)
    except Exception as exc:
        return [Violation("expected-value", f"root {root.id} was {root.state.value} ({exc}), expected {expected!r}",
                          root.id)]
    if value != expected:
        return [Violation("expected-value", f"root {root.id} returned {value!r}, expected {expected!r}", root.id)]
    return []


def acceptable_outcome(root: PromiseRecord | None, outcomes: Outcomes) -> list[Violation]:
    """(4) The root's outcome is one of ``outcomes``: a value among them (compared with ``==``), a
    rejection with an error named by an exception class among them, or one the predicate accepts."""
    if root is None or not root.settled:
        return []  # liveness reports it
    try:
        value: Any = result_of(root)
        said = f"returned {value!r}"
    except Rejected as exc:
        value = exc
        chained = exc.type_name in ("Rejected", "TimedOut", "Canceled")  # its message names the child
        why = exc.message if chained else f"{exc.type_name}: {exc.message}"
        said = f"was {root.state.value} ({why})"
    if callable(outcomes) and not isinstance(outcomes, tuple):
        try:
            ok = bool(outcomes(value))
        except Exception as exc:
            return [Violation("outcome", f"root {root.id} {said}; the predicate outcomes={predicate_name(outcomes)} "
                              f"raised {type(exc).__name__}: {exc}", root.id)]
    else:
        ok = any(_matches(value, wanted) for wanted in outcomes)
    if ok:
        return []
    return [Violation("outcome", f"root {root.id} {said}, not one of the acceptable outcomes: "
                      f"{describe_outcomes(outcomes)}", root.id)]


def _matches(value: object, wanted: object) -> bool:
    if isinstance(value, Rejected):
        return isinstance(wanted, type) and issubclass(wanted, BaseException) and (
            value.type_name == wanted.__name__ or isinstance(value, wanted))
    try:
        return bool(value == wanted)
    except Exception:  # a value whose == raises is not this one
        return False
