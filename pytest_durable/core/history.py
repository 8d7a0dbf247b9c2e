"""``History``: every promise record of one root's execution tree, and the versioned file format it is
kept in, so that new code can be checked against histories recorded by old code without their store.

A history is the root's record first, then every descendant (by ``durable:parent``) in creation order,
each record as the store holds it: params and values stay the encoded text the store wrote, so a file
read back gives the very records the store gave, and decoding them is left to the code that reads them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .errors import UsageError
from .records import PromiseRecord, PromiseState
from .store import TAG_PARENT

#: What a history file says it is, and the newest version of the format this code reads and writes.
FORMAT = "pytest-durable-history"
VERSION = 1

_STATES = {s.value: s for s in PromiseState}


@attrs.frozen
class History:
    """Root ``root``'s execution tree: its record first, then each descendant in creation order."""

    root: str
    records: tuple[PromiseRecord, ...]

    @property
    def root_record(self) -> PromiseRecord:
        return self.records[0]

    def dumps(self) -> str:
        """This history as a versioned JSON document (``loads`` reads it back, record for record)."""
        doc = {"format": FORMAT, "version": VERSION, "root": self.root,
               "promises": [_record_tree(r) for r in self.records]}
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"

    @staticmethod
    def loads(text: str, *, where: str) -> History:
        """The history a ``dumps`` document holds; anything else is one ``UsageError`` naming ``where``
        (e.g. the file) and what is wrong with it."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not a history file (not JSON: {exc.msg} at line {exc.lineno}); "
                             "write one with `python -m pytest_durable export`") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise UsageError(f"{where}: not a history file (no \"format\": {FORMAT!r}); "
                             "write one with `python -m pytest_durable export`")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UsageError(f"{where}: history format version {version!r} is not a version number")
        if version > VERSION:
            raise UsageError(f"{where}: history format version {version} is newer than this pytest-durable reads "
                             f"(up to {VERSION}); upgrade pytest-durable to read it")
        root, promises = doc.get("root"), doc.get("promises")
        if not isinstance(root, str) or not isinstance(promises, list) or not promises:
            raise UsageError(f"{where}: a history needs \"root\" (a promise id) and a non-empty \"promises\" list")
        records = tuple(_record_of(p, where=f"{where}: promise {i}") for i, p in enumerate(promises))
        if records[0].id != root:
            raise UsageError(f"{where}: the first promise is {records[0].id!r}, not the root {root!r}")
        return History(root, records)


def histories_of(promises: Iterable[PromiseRecord], roots: Iterable[str]) -> list[History]:
    """The history of each of ``roots`` among ``promises`` (in creation order, as a store lists them)."""
    ordered = list(promises)
    children: dict[str, list[str]] = {}
    for record in ordered:
        parent = record.tags.get(TAG_PARENT)
        if parent is not None:
            children.setdefault(parent, []).append(record.id)
    position = {record.id: i for i, record in enumerate(ordered)}
    out = []
    for root in roots:
        tree: list[str] = []
        todo = [root]
        while todo:
            id = todo.pop()
            kids = children.get(id, [])
            tree += kids
            todo += kids
        tree.sort(key=position.__getitem__)
        out.append(History(root, (ordered[position[root]], *(ordered[position[id]] for id in tree))))
    return out


def _record_tree(record: PromiseRecord) -> dict[str, Any]:
    return {"id": record.id, "state": record.state.value, "param": record.param, "value": record.value,
            "timeout_at": None if math.isinf(record.timeout_at) else record.timeout_at,
            "tags": dict(record.tags), "created_on": record.created_on, "settled_on": record.settled_on}


def _record_of(tree: object, *, where: str) -> PromiseRecord:
    if not isinstance(tree, dict):
        raise UsageError(f"{where} is not an object")
    try:
        id, state, param, value = tree["id"], tree["state"], tree["param"], tree["value"]
        timeout_at, tags = tree["timeout_at"], tree["tags"]
        created_on, settled_on = tree["created_on"], tree["settled_on"]
    except KeyError as exc:
        raise UsageError(f"{where} lacks the field {exc.args[0]!r}") from None
    if not isinstance(id, str) or not isinstance(param, str) or not (value is None or isinstance(value, str)):
        raise UsageError(f"{where}: \"id\" and \"param\" must be strings and \"value\" a string or null")
    if state not in _STATES:
        raise UsageError(f"{where}: unknown state {state!r}; one of {', '.join(_STATES)}")
    if not _is_tags(tags):
        raise UsageError(f"{where}: \"tags\" must map strings to strings")
    if not (timeout_at is None or _is_number(timeout_at)) or not _is_number(created_on) or not (
            settled_on is None or _is_number(settled_on)):
        raise UsageError(f"{where}: \"timeout_at\", \"created_on\" and \"settled_on\" must be numbers (or null)")
    return PromiseRecord(id, _STATES[state], param, value, math.inf if timeout_at is None else float(timeout_at),
                         tags, float(created_on), None if settled_on is None else float(settled_on))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_tags(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


__all__ = ["FORMAT", "VERSION", "History", "histories_of"]
