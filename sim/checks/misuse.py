"""Misuse of the SDK inside a world, a violation of its own kind (``misuse``) naming the promise.

A body that misuses the SDK (a builder started twice, a lambda, a file, a ``Context`` or a cyclic value as
an argument, local workflows nested past ``MAX_LOCAL_DEPTH``, ...) gets a ``UsageError`` at the call, and
the promise is rejected with it: in production that is right (no retry can fix a wrong program). In a
world it is no outcome of the workflow to accept silently: the program is wrong whatever the faults, so
each promise rejected with an error of the ``UsageError`` family that nothing handled (its rejection went
up to the root) fails the world, naming the promise, its call and the error, the message cut to a length
a report can show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pytest_durable.core.codec import decode_error, describe_call
from pytest_durable.core.errors import Rejected, UsageError
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.store import TAG_PARENT

from .violations import Violation

#: The longest piece of an error message a misuse violation quotes; the rest is elided.
QUOTED = 300


def _family(cls: type) -> set[str]:
    """The names of ``cls`` and every subclass of it defined so far, but for the classes a typed rejection
    derives from ``Rejected`` and an original error (``core/rejections.py``): one made from an
    ``EncodingError`` is a child's misuse passed up (the child is named), and its name, ``Rejected``, is
    every rejection's; counting it would make every rejected promise misuse once such a class exists."""
    names: set[str] = set()
    stack: list[type] = [cls]
    while stack:
        one = stack.pop()
        names.add(one.__qualname__)
        subclasses: list[type] = one.__subclasses__()
        stack.extend(sub for sub in subclasses if not issubclass(sub, Rejected))
    return names


def misuse(promises: Iterable[PromiseRecord]) -> list[Violation]:
    """A ``misuse`` violation for every promise rejected with a ``UsageError`` (or a subclass: an
    ``EncodingError``, a ``RegistrationError``) its own body raised, where nothing handled it: the
    promise and every ancestor up to the root were rejected. A workflow that catches the rejection of
    its child and goes on has dealt with it (as in production), and an ancestor rejected by the same
    error passed up is not named again."""
    records = {r.id: r for r in promises}
    family = _family(UsageError)
    found: list[PromiseRecord] = []
    for record in records.values():
        kind = decode_error(record.value)[0] if record.state is PromiseState.REJECTED else ""
        if kind.rpartition(".")[2] in family and _unhandled(record, records):
            found.append(record)
    passed_up = {a for r in found for a in _ancestors(r, records)}
    out = []
    for record in found:
        if record.id in passed_up:
            continue
        kind, message = decode_error(record.value)
        call = _short(describe_call(record.param), 120)
        out.append(Violation("misuse", f"{_short(record.id, 80)} {call} misused the SDK: {kind}: "
                             f"{_short(message, QUOTED)}", record.id))
    return out


def _ancestors(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> Iterator[str]:
    """The ids of ``record``'s parent, its parent's parent, ... that the world holds."""
    seen = {record.id}
    parent = record.tags.get(TAG_PARENT)
    while parent is not None and parent in records and parent not in seen:
        seen.add(parent)
        yield parent
        parent = records[parent].tags.get(TAG_PARENT)


def _unhandled(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> bool:
    """Every ancestor of ``record`` was rejected too: its error went up to the root unhandled."""
    return all(records[a].state is not PromiseState.RESOLVED and records[a].settled
               for a in _ancestors(record, records))


def _short(text: str, most: int) -> str:
    """``text`` on one line, at most ``most`` characters, the middle elided with how much was left out."""
    text = " ".join(text.split())
    if len(text) <= most:
        return text
    keep = most // 2
    return f"{text[:keep]} … ({len(text) - 2 * keep:,} characters elided) … {text[-keep:]}"
