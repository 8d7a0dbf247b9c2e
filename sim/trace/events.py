"""The trace: an append-only list of frozen events, with a stable hash and a JSON form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs


@attrs.frozen
class Event:
    """One thing that happened: when (virtual time), where (process and incarnation), what, to which id.

    ``detail`` is for people; ``data`` holds the fields checks and tools read (``("state", "resolved")``),
    so rewording a detail never turns a check off."""

    seq: int
    time: float
    process: str
    incarnation: int
    kind: str
    id: str = ""
    detail: str = ""
    data: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        """The structured field ``key`` of this event (``event.get("state")``), or ``default``."""
        for k, v in self.data:
            if k == key:
                return v
        return default

    @property
    def who(self) -> str:
        """The process incarnation that made the event (``w1#2``), or the process alone where it has none
        (the client, the server)."""
        return f"{self.process}#{self.incarnation}" if self.incarnation else self.process

    def line(self) -> str:
        text = f"{self.seq:>6} {self.time:>10.3f}  {self.who:<10} {self.kind:<14}"
        if self.id:
            text += f" {self.id}"
        if self.detail:
            text += f"  {self.detail}"
        return text.rstrip()


_compact = json.JSONEncoder(separators=(",", ":"))


class Trace:
    """Events in the order they happened; the hash covers every field of every event."""

    def __init__(self, observers: Sequence[Callable[[Event], None]] = ()) -> None:
        self.events: list[Event] = []
        self._hash = hashlib.sha256()
        self._hashed = 0  # events[:_hashed] are in _hash: hashing waits until a hash is asked for
        self._observers = tuple(observers)

    def add(self, time: float, process: str, incarnation: int, kind: str, id: str = "", detail: str = "",
            **data: str) -> Event:
        """Append an event; keyword arguments become its structured ``data``."""
        event = Event(len(self.events), time, process, incarnation, kind, id, detail, tuple(data.items()))
        self.events.append(event)
        for observe in self._observers:
            observe(event)
        return event

    def hash(self) -> str:
        """A stable digest of the whole trace: same seed, same hash, on any machine. Each event is hashed
        once, as the compact JSON of its fields followed by a newline, when a hash is first asked for."""
        dumps = _compact.encode
        for e in self.events[self._hashed:]:
            self._hash.update(dumps((e.seq, e.time, e.process, e.incarnation, e.kind, e.id, e.detail, e.data))
                              .encode() + b"\n")
        self._hashed = len(self.events)
        return self._hash.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def of_kind(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    def to_json(self) -> list[list[Any]]:
        return [[e.seq, e.time, e.process, e.incarnation, e.kind, e.id, e.detail, dict(e.data)] for e in self.events]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> Trace:
        trace = cls()
        for row in rows:
            _, time, process, incarnation, kind, id, detail, *rest = row
            data = {str(k): str(v) for k, v in (rest[0] if rest else {}).items()}
            trace.add(float(time), process, int(incarnation), kind, id, detail, **data)
        return trace
