"""The ``Ledger``: effects on the world outside the store, kept across crashes.

A leaf that charges a card writes ``ledger().record("charge", order)``; because the ledger belongs to
the world and not to a process, it survives crashes, and a test can assert the effect happened
exactly once however often the leaf was retried or re-run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import current_promise_id


@attrs.frozen
class Entry:
    """One recorded effect: its key, the promise whose body made it, the process incarnation it ran
    on (``w1#2``) and when. Who made a duplicate is most of the diagnosis: a workflow id where a leaf
    id was expected means the effect sits outside ``ctx.run``."""

    key: str
    by: str
    time: float
    process: str = ""

    def __str__(self) -> str:
        where = f" on {self.process}" if self.process else ""
        return f"by {self.by or '?'}{where} at t={self.time:g}"


class Ledger:
    """Every effect recorded in one world, in order; ``now`` stamps each entry with (virtual) time."""

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        self.entries: list[Entry] = []
        self._now = now
        self._seen: set[str] = set()

    def record(self, key: str, *, by: str | None = None, idempotency_key: str | None = None) -> bool:
        """Record effect ``key``; with an ``idempotency_key`` already seen, do nothing (as a payment
        API does with a repeated key) and return False. A leaf is at-least-once, so an effect that
        must happen once needs such a key where it lands. ``by`` defaults to the promise whose body
        is running."""
        if idempotency_key is not None:
            if idempotency_key in self._seen:
                return False
            self._seen.add(idempotency_key)
        if by is None:
            by = current_promise_id() or ""
        time = self._now() if self._now is not None else 0.0
        self.entries.append(Entry(key, by, time, PROCESS.get()))
        return True

    def made(self, key: str) -> list[Entry]:
        """The entries of effect ``key``, in the order they were recorded."""
        return [e for e in self.entries if e.key == key]

    def count(self, key: str) -> int:
        return sum(1 for e in self.entries if e.key == key)

    def counts(self, prefix: str = "") -> dict[str, int]:
        """How often each key (optionally only those starting with ``prefix``) was recorded."""
        c = Counter(e.key for e in self.entries if e.key.startswith(prefix))
        return dict(sorted(c.items()))

    def duplicates(self, prefix: str = "") -> dict[str, int]:
        """Keys recorded more than once."""
        return {k: n for k, n in self.counts(prefix).items() if n > 1}

    def assert_exactly_once(self, prefix: str, expected: int | None = None) -> None:
        """Some key starting with ``prefix`` was recorded, each exactly once (and ``expected`` distinct
        keys, if given); an effect that never happened is not "exactly once"."""
        __tracebackhide__ = True  # pytest shows the caller's line
        counts = self.counts(prefix)
        wrong = {k: n for k, n in counts.items() if n != 1}
        if wrong:
            raise AssertionError(f"ledger: effects {prefix!r}* not exactly once: {self._listing(wrong)}")
        if not counts:
            raise AssertionError(f"ledger: no effect {prefix!r}* was recorded at all")
        if expected is not None and len(counts) != expected:
            raise AssertionError(f"ledger: {len(counts)} distinct effects {prefix!r}*, expected {expected}: "
                                 f"{', '.join(counts)}")

    def assert_at_most_once(self, prefix: str) -> None:
        """No key starting with ``prefix`` was recorded more than once."""
        __tracebackhide__ = True
        dup = self.duplicates(prefix)
        if dup:
            raise AssertionError(f"ledger: effects {prefix!r}* recorded more than once: {self._listing(dup)}")

    def _listing(self, counts: dict[str, int]) -> str:
        return ", ".join(f"{k} x{n}{self.who_made(k)}" for k, n in counts.items())

    def who_made(self, key: str) -> str:
        """`` (by checkout on w1#1 at t=0.2; ...)`` for a key whose entries know who made them."""
        made = self.made(key)
        if not any(e.by or e.process for e in made):
            return ""
        return f" ({'; '.join(map(str, made))})"


_current: ContextVar[Ledger | None] = ContextVar("sim_ledger", default=None)
#: The process incarnation (``w1#2``) a trio task runs as; the tasks a worker spawns inherit it.
PROCESS: ContextVar[str] = ContextVar("sim_ledger_process", default="")


def ledger() -> Ledger:
    """The ledger of the world running now; call it from inside a durable function."""
    current = _current.get()
    if current is None:
        raise UsageError("sim.ledger() was called outside a simulated world; call it from a durable function")
    return current


def set_current(value: Ledger | None) -> None:
    _current.set(value)


@contextmanager
def recording_into(value: Ledger) -> Iterator[None]:
    """Within the block (and the trio runs started in it), ``ledger()`` is ``value``."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


def set_process(name: str) -> None:
    """Name the process incarnation (``w1#2``) that the current trio task and its children run as."""
    PROCESS.set(name)


def current_process() -> str:
    """The process incarnation (``w1#2``) the current trio task runs as; ``""`` outside a process."""
    return PROCESS.get()


def exactly_once(prefix: str, *, keys: Iterable[str] | None = None,
                 count: int | None = None) -> Callable[[Any], list[str]]:
    """A scenario invariant: every ledger key starting with ``prefix`` was recorded exactly once, and,
    in a world whose root resolved, none is missing: each of ``keys`` was recorded, or ``count``
    distinct keys were, or (given neither) at least one was. A workflow that completed without its
    charge is not "exactly once"; one that failed (its root rejected, say after injected faults)
    may rightly have made none. For an effect that may not happen, use ``at_most_once``."""
    expected = tuple(keys) if keys is not None else None
    if expected is not None and not all(isinstance(k, str) and k.startswith(prefix) for k in expected):
        raise UsageError(f"exactly_once({prefix!r}, keys=...): every key must be a string starting with "
                         f"{prefix!r}, got {list(expected)!r}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise UsageError(f"exactly_once({prefix!r}, count=...): count must be an int >= 1, got {count!r}")

    def check(result: Any) -> list[str]:
        counts = result.ledger.counts(prefix)
        broken = [
            f"ledger: {key!r} was recorded {n} times, expected exactly once{result.ledger.who_made(key)}"
            for key, n in counts.items() if n != 1
        ]
        if result.root is None or result.root.state.value != "resolved":
            return broken
        root = f"root {result.root_id} resolved"
        if expected is not None:
            broken += [f"ledger: {key!r} was never recorded, expected exactly once ({root})"
                       for key in expected if key not in counts]
        elif count is not None:
            if len(counts) != count:
                broken.append(f"ledger: {len(counts)} distinct effects {prefix!r}*, expected {count} ({root})"
                              + (f": {', '.join(counts)}" if counts else ""))
        elif not counts:
            broken.append(f"ledger: no effect {prefix!r}* was recorded, expected exactly once ({root})")
        return broken

    check.__name__ = f"exactly_once({prefix!r})"
    return check


def at_most_once(prefix: str) -> Callable[[Any], list[str]]:
    """A scenario invariant: no ledger key starting with ``prefix`` was recorded more than once; one
    that never happened passes (a refund that only a failed order needs)."""

    def check(result: Any) -> list[str]:
        return [
            f"ledger: {key!r} was recorded {n} times, expected at most once{result.ledger.who_made(key)}"
            for key, n in result.ledger.counts(prefix).items() if n > 1
        ]

    check.__name__ = f"at_most_once({prefix!r})"
    return check
