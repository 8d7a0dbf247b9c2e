"""How two traces differ, and what their digests stand for.

Trace events carry short digests of params and values (``param 4367a1d9``) so the hash covers what was
written without the trace holding every payload; reading a difference needs them decoded again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from pytest_durable.core.codec import describe_call
from pytest_durable.core.records import PromiseRecord

from .events import Event, Trace


def digest(text: str | None) -> str:
    """A short, stable fingerprint of a param or value, so the trace hash covers what was written."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:8]


def decodings(*promise_sets: Iterable[PromiseRecord]) -> dict[str, str]:
    """What the digests in trace events stand for: each promise's call (``describe_call``) and value,
    so a diff of two runs can show ``leaf(2)`` where the trace holds ``param 4367a1d9``."""
    out: dict[str, str] = {}
    for promises in promise_sets:
        for record in promises:
            out.setdefault(digest(record.param), describe_call(record.param))
            if record.value is not None:
                out.setdefault(digest(record.value), _short(record.value))
    return out


_DIGEST = re.compile(r"\b[0-9a-f]{8}\b")


def event_text(event: Event | None, decoded: Mapping[str, str] | None = None) -> str:
    """One event on one line, its digests followed by what they stand for (``param 4367a1d9 = leaf(1)``)."""
    if event is None:
        return "(none: the trace ends before it)"
    decoded = decoded or {}
    detail = _DIGEST.sub(lambda m: f"{m[0]} = {decoded[m[0]]}" if m[0] in decoded else m[0], event.detail)
    parts = (f"event {event.seq} at {event.time:.3f} s:", event.who, event.kind, event.id, detail)
    return " ".join(part for part in parts if part)


def first_difference(first: Trace, second: Trace) -> tuple[int, Event | None, Event | None]:
    """Where two traces part: the index and the event of each there (None past a trace's end)."""
    index = next((a.seq for a, b in zip(first, second, strict=False) if a != b), min(len(first), len(second)))
    return (index, first.events[index] if index < len(first) else None,
            second.events[index] if index < len(second) else None)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
