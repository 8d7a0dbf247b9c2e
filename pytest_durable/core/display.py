"""Stored values as a person reads them on one line: what ``get``, ``tree`` and ``ls`` print.

JSON values look as JSON (``"yes"``, ``[1, 2]``, ``{"a": 1}``), so a value that is plain data reads as it
was written; the codec's other types in Python's notation (a tuple ``(1, 2)``, a set ``{1, 2}``, bytes
``b'..'``), and a class read as data (``codec.Data``) as its constructor call, ``WorkResult(id=1,
output="done")``. Values come from ``decode(text, as_data=True)``, so nothing here imports a user's module.
"""

from __future__ import annotations

import json

from .codec import Data, decode, decode_error
from .records import PromiseRecord, PromiseState


def show(value: object) -> str:
    """``value`` on one line (see the module docstring); sets sorted by their text, so the line is stable."""
    if isinstance(value, Data):
        if value.kind == "enum":
            return f"{value.name}({show(value.fields[0][1])})"
        return f"{value.name}({', '.join(f'{k}={show(v)}' for k, v in value.fields)})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(show(v) for v in value)) + "}" if value else "set()"
    return repr(value)


def outcome_text(record: PromiseRecord) -> str:
    """A settled promise's outcome on one line: its value shown (``show``), or its error as
    ``Type: message``; empty for a pending one. A value that is not the codec's JSON is shown as stored."""
    if record.state is PromiseState.PENDING:
        return ""
    if record.state is PromiseState.RESOLVED:
        if record.value is None:
            return "null"
        try:
            return show(decode(record.value, as_data=True))
        except (ValueError, TypeError, KeyError):  # not the codec's JSON (a foreign writer): as stored
            return record.value
    if record.state is PromiseState.REJECTED_TIMEDOUT:
        return "timed out"
    if record.state is PromiseState.REJECTED_CANCELED and record.value is None:
        return "canceled"
    type_name, message = decode_error(record.value)
    return f"{type_name}: {message}" if message else type_name


__all__ = ["outcome_text", "show"]
