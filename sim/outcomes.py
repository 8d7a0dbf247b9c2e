"""Acceptable outcomes of a scenario's root: several values, or a predicate on its outcome.

Faults may rightly change how a workflow ends (a saga whose charge is rejected after its retries
compensates and returns ``"refunded"``; a quote that times out falls back to a cached price), so a
scenario can name every outcome it accepts instead of the one value ``expected=`` demands. A root
outside them is a violation that names its outcome and the acceptable ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from typing import Any

from pytest_durable.core.errors import Rejected, UsageError
from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import result_of

from .result import Violation

#: What ``outcomes=`` holds once checked: the acceptable values (an exception class among them accepts a
#: root rejected with an error of that name), or a predicate given the root's value or its ``Rejected``.
Outcomes = tuple[Any, ...] | Callable[[Any], object]


def checked_outcomes(outcomes: object, where: str) -> Outcomes:
    """``outcomes`` as a tuple of values or a predicate; one ``UsageError`` naming ``where`` otherwise."""
    hint = ("give the acceptable values of the root, e.g. outcomes=('completed', 'refunded'), or a predicate "
            "called with its value, e.g. outcomes=lambda v: v in ('completed', 'refunded')")
    if isinstance(outcomes, (str, bytes)):
        raise UsageError(f"{where}: outcomes={outcomes!r} is one value, not several; write outcomes=({outcomes!r},) "
                         f"or expected={outcomes!r}")
    if isinstance(outcomes, Mapping):
        raise UsageError(f"{where}: outcomes= must not be a mapping, got {outcomes!r}; {hint}")
    if isinstance(outcomes, type) and not issubclass(outcomes, BaseException):
        raise UsageError(f"{where}: outcomes={outcomes.__name__} is a class; {hint}")
    if isinstance(outcomes, type) or (callable(outcomes) and not isinstance(outcomes, Iterable)):
        if isinstance(outcomes, type):  # one exception class: a rejection of that kind is the only outcome
            return (outcomes,)
        return outcomes
    if not isinstance(outcomes, Iterable):
        raise UsageError(f"{where}: outcomes= must be several values or a predicate, got {outcomes!r}; {hint}")
    values = tuple(sorted(outcomes, key=repr)) if isinstance(outcomes, Set) else tuple(outcomes)
    if not values:
        raise UsageError(f"{where}: outcomes= is empty, so no world could pass; {hint}")
    return values


def describe(outcomes: Outcomes) -> str:
    """The acceptable outcomes in words, for a violation or a report."""
    if callable(outcomes) and not isinstance(outcomes, tuple):
        return f"the outcomes {_name(outcomes)} accepts"
    return " or ".join(_one(v) for v in outcomes)


def _name(predicate: Callable[[Any], object]) -> str:
    return getattr(predicate, "__qualname__", None) or repr(predicate)


def _one(value: object) -> str:
    if isinstance(value, type) and issubclass(value, BaseException):
        return f"rejected with {value.__name__}"
    return repr(value)


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
            return [Violation("outcome", f"root {root.id} {said}; the predicate outcomes={_name(outcomes)} raised "
                              f"{type(exc).__name__}: {exc}", root.id)]
    else:
        ok = any(_matches(value, wanted) for wanted in outcomes)
    if ok:
        return []
    return [Violation("outcome", f"root {root.id} {said}, not one of the acceptable outcomes: {describe(outcomes)}",
                      root.id)]


def _matches(value: object, wanted: object) -> bool:
    if isinstance(value, Rejected):
        return isinstance(wanted, type) and issubclass(wanted, BaseException) and (
            value.type_name == wanted.__name__ or isinstance(value, wanted))
    try:
        return bool(value == wanted)
    except Exception:  # a value whose == raises is not this one
        return False


__all__ = ["Outcomes", "acceptable_outcome", "checked_outcomes", "describe"]
